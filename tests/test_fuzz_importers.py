"""Fuzz every importer with hypothesis: the only exception allowed out is TraceError.

A short run lives here; `bench/bench_fuzz.py` runs >= 100,000 inputs and records the count.
"""

from __future__ import annotations

import json

from agentracer.testing.fuzzing import FUZZ_TARGETS, json_values, shaped_records
from agentracer.trace import TraceError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _call(fn, value) -> None:
    try:
        fn(value)
    except TraceError as e:
        assert str(e) and "\n" not in str(e)


@SETTINGS
@given(value=json_values)
def test_fuzz_any_json_value(value) -> None:
    for fn in FUZZ_TARGETS.values():
        _call(fn, value)


@SETTINGS
@given(value=shaped_records())
def test_fuzz_shaped_records(value) -> None:
    for fn in FUZZ_TARGETS.values():
        _call(fn, value)


@SETTINGS
@given(text=st.text(max_size=400) | st.builds(lambda v: json.dumps(v), json_values))
def test_fuzz_jsonl_text(text) -> None:
    from agentracer.formats.jsonl import parse_jsonl

    _call(parse_jsonl, text)
