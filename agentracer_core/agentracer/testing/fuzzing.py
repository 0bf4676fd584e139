"""Hypothesis strategies and targets for fuzzing every importer (used by tests and bench/bench_fuzz.py).

Every target takes one parsed JSON value (or text for JSONL); the contract is that the only exception
that may escape is :class:`~agentracer.trace.TraceError`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from ..trace import TraceError

__all__ = ["FUZZ_TARGETS", "json_values", "shaped_records"]

_scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=30)
json_values = st.recursive(
    _scalars,
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=12), kids, max_size=6),
    max_leaves=30,
)


def _mutated(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    keys = list(base)

    def mutate(d: dict[str, Any], drop: list[str], repl: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in d.items() if k not in drop}
        out.update(repl)
        return out

    return st.builds(
        mutate,
        st.just(base),
        st.lists(st.sampled_from(keys), max_size=3),
        st.dictionaries(st.sampled_from(keys), json_values, max_size=3),
    )


_WW = {
    "is_correct": False,
    "question": "q",
    "question_ID": "id",
    "level": "1",
    "ground_truth": "8",
    "history": [{"content": "c", "role": "assistant", "name": "A"}, {"content": "d", "role": "user", "name": "B"}],
    "mistake_agent": "A",
    "mistake_step": "1",
    "mistake_reason": "r",
}
_TR = {
    "run_id": "r",
    "task": "t",
    "steps": [{"index": 0, "agent": "a", "content": "x"}, {"index": 1, "agent": "b", "kind": "llm_call", "parent": 0}],
    "outcome": "failure",
    "annotation": {"gold": {"agent": "a", "step": 0}, "source": "injection"},
}
_OTLP = {
    "resourceSpans": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "s"}}]},
            "scopeSpans": [
                {
                    "spans": [
                        {
                            "traceId": "0" * 31 + "1",
                            "spanId": "0" * 15 + "1",
                            "name": "invoke_agent a",
                            "startTimeUnixNano": "1",
                            "endTimeUnixNano": "2",
                            "attributes": [
                                {"key": "gen_ai.agent.name", "value": {"stringValue": "a"}},
                                {"key": "openinference.span.kind", "value": {"stringValue": "AGENT"}},
                                {"key": "agentracer.step.index", "value": {"intValue": "0"}},
                            ],
                        }
                    ]
                }
            ],
        }
    ]
}


def shaped_records() -> st.SearchStrategy[Any]:
    """Valid-looking records of every format with random fields dropped or replaced."""
    hist_item = st.fixed_dictionaries({"content": json_values, "role": json_values, "name": json_values})
    ww_hist = st.builds(lambda d, h: {**d, "history": h}, st.just(_WW), st.lists(hist_item, max_size=4))
    step = _mutated(_TR["steps"][0])
    tr_steps = st.builds(lambda d, s: {**d, "steps": s}, st.just(_TR), st.lists(step, max_size=4))
    span = _mutated(_OTLP["resourceSpans"][0]["scopeSpans"][0]["spans"][0])
    otlp = st.builds(
        lambda spans: {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": spans}]}]},
        st.lists(span, max_size=4),
    )
    return st.one_of(_mutated(_WW), ww_hist, _mutated(_TR), tr_steps, _mutated(_OTLP), otlp)


def _whowhen(v: Any) -> Any:
    from ..formats.whowhen import from_whowhen

    return from_whowhen(v)


def _generic(v: Any) -> Any:
    from ..formats import read_obj

    return read_obj(v)


def _otlp(v: Any) -> Any:
    from ..formats import otlp

    return list(otlp.from_otlp_json(v if isinstance(v, dict) else {"resourceSpans": v}))


def _jsonl(v: Any) -> Any:
    from ..formats.jsonl import parse_jsonl

    return parse_jsonl(json.dumps(v) if not isinstance(v, str) else v)


def _openinference(v: Any) -> Any:
    from ..formats import openinference

    if isinstance(v, dict) and "resourceSpans" in v:
        from ..formats.otlp_json import parse_otlp_spans

        v = parse_otlp_spans(v)
    if not isinstance(v, list):
        v = [v]
    return openinference.from_openinference_spans(v)


def _available() -> dict[str, Callable[[Any], Any]]:
    targets: dict[str, Callable[[Any], Any]] = {"whowhen": _whowhen, "generic": _generic, "jsonl": _jsonl}
    try:
        from ..formats import otlp  # noqa: F401

        targets["otlp"] = _otlp
    except ImportError:
        pass
    try:
        from ..formats import openinference  # noqa: F401

        targets["openinference"] = _openinference
    except ImportError:
        pass
    return targets


FUZZ_TARGETS = _available()
assert TraceError  # the documented error type targets may raise
