"""Very long texts take the windowed redaction path (agentracer/recording/longtext.py): every corpus secret
planted anywhere in a 5 MB text is still masked, and the result equals the plain engine's."""

from __future__ import annotations

import random

import pytest
from agentracer.recording import longtext
from agentracer.recording.detectors import default_rules
from agentracer.recording.redact import MASK, _Engine
from secret_corpus import samples

SAMPLES = samples()


@pytest.fixture(scope="module")
def eng() -> _Engine:
    """The default detectors, in an engine of this module's own (add_pattern in other tests changes the
    process-wide ones)."""
    return _Engine(default_rules(), gated=True)


def _prose(n: int, seed: int = 0) -> str:
    """``n`` characters of varied prose, with a URL or an e-mail address now and then: few anchors, so that
    most of the text lies outside every window (a secret the anchors missed would stay unmasked)."""
    rng = random.Random(seed)
    words = ["the", "planner", "asked", "solver", "to", "check", "invoice", "totals", "for", "march", "and", "april",
             "then", "verifier", "said", "no"]
    out, size = [], 0
    while size < n:
        w = rng.choice(words) if rng.random() > 0.005 else rng.choice(
            ("https://example.com/docs/page_%d", "bob%d@example.com")) % rng.randrange(10**6)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:n]


def _json(n: int, seed: int = 1) -> str:
    """``n`` characters of JSON-like records: more separators than the threshold (keyword-name anchors)."""
    rng = random.Random(seed)
    recs = [f'{{"id": {i}, "name": "item{rng.randrange(10**6)}", "cache_key": "k{i}", "note": "ok"}}, '
            for i in range(n // 60 + 1)]
    return "".join(recs)[:n]


def _plant(filler: str, texts: list[str]) -> str:
    """``filler`` with each of ``texts`` inserted: the first at the start, the last at the end, the others
    spread in between (each on a line of its own)."""
    cuts = sorted(random.Random(3).sample(range(1, len(filler) - 1), len(texts) - 2))
    pos = [0, *cuts, len(filler)]
    parts, prev = [], 0
    for p, t in zip(pos, texts, strict=True):
        parts += [filler[prev:p], "\n" + t + "\n"]
        prev = p
    parts.append(filler[prev:])
    return "".join(parts)


@pytest.mark.parametrize("make", [_prose, _json])
def test_secrets_planted_in_a_5mb_text_are_masked(make, eng) -> None:
    chosen = SAMPLES[::7]  # every kind and context, ~450 secrets
    big = _plant(make(5_000_000), [s.text for s in chosen])
    assert len(big) > longtext.LONG
    out = eng(big)
    leaks = [n for s in chosen for n in s.needles if n in out]
    assert not leaks, leaks[:5]
    # the first and the last sample sit at the very start and end of the text
    assert chosen[0].needles[0] in big[:2000] and chosen[-1].needles[0] in big[-2000:]
    assert out.count(MASK) >= len(chosen)


@pytest.mark.parametrize("make", [_prose, _json])
def test_windowed_result_equals_the_plain_engine(make, eng) -> None:
    big = _plant(make(600_000, seed=5), [s.text for s in SAMPLES[::23]])
    assert eng.long(big) == eng._run(big)
    if make is _prose:  # the windows leave most of the text out: the test above would see a missed anchor
        assert sum(b - a for a, b in longtext.windows(big)) < len(big) / 2


def test_a_secret_longer_than_a_window_is_masked_whole(eng) -> None:
    """A PEM block with a body far longer than a window, cut nowhere: the window grows until no mask touches
    its edge."""
    body = "\n".join("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" * 2 for _ in range(3000))
    pem = f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----"
    big = _prose(200_000) + "\n" + pem + "\n" + _prose(200_000, seed=9)
    out = eng(big)
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in out
    assert out.count(MASK) == 1


def test_clean_long_text_is_returned_as_is_and_repeats_are_remembered(eng) -> None:
    big = "plain words only, nothing to see here. " * 5000
    assert eng(big) == big
    text = _plant(_prose(200_000, seed=2), [SAMPLES[0].text, SAMPLES[1].text])
    first = eng.long(text)
    assert eng._long.get((len(text), hash(text))) is not None
    assert eng.long(text) == first


def test_mask_constant_is_shared() -> None:
    assert longtext.MASK == MASK


def test_a_recorded_5mb_message_keeps_no_secret() -> None:
    """Through the recorder (its default redaction): step input, prompt, response and content."""
    from agentracer import Recorder

    chosen = SAMPLES[::29]
    big = _plant(_prose(5_000_000, seed=4), [s.text for s in chosen])
    rec = Recorder()
    with rec.run("task"), rec.step("agent", input=big) as h:
        rec.begin_llm("m", messages=[{"role": "user", "content": big}]).end(big)
        h.set(content=big)
    tr = rec.last_trace()
    blob = repr(tr.to_dict())
    assert len(blob) > 4 * 5_000_000
    leaks = [n for s in chosen for n in s.needles if n in blob]
    assert not leaks, leaks[:5]


def _blob(n: int, seed: int = 6) -> str:
    """``n`` characters of base64 (an encoded image or file)."""
    import base64

    return base64.b64encode(random.Random(seed).randbytes(n * 3 // 4)).decode()


def test_a_base64_blob_is_windowed_at_its_ends_and_the_secrets_around_it_are_masked(eng) -> None:
    """A 5 MB encoded blob is one token run: its windows are its two ends only, and every corpus secret on
    the lines around it (and the Basic credential glued to its start) is still masked."""
    chosen = SAMPLES[::41]
    blob = _blob(5_000_000)
    big = ("\n".join(s.text for s in chosen) + "\nAuthorization: Basic dXNlcjpwYXNzd29yZA==\n"
           + "data:image/png;base64," + blob + ".\n" + "\n".join(s.text for s in chosen[::-1]))  # "." glued on
    wins = longtext.windows(big)
    assert sum(b - a for a, b in wins) < 200_000  # not the blob: its ends
    out = eng(big)
    leaks = [n for s in chosen for n in s.needles if n in out]
    assert not leaks, leaks[:5]
    assert "dXNlcjpwYXNzd29yZA" not in out
    assert blob[len(blob) // 2: len(blob) // 2 + 1000] in out  # the blob's inside is kept as it was


def test_a_blob_text_gives_the_plain_engines_result(eng) -> None:
    text = _plant(_blob(600_000, seed=8), [s.text for s in SAMPLES[::37]])
    assert eng.long(text) == eng._run(text)
