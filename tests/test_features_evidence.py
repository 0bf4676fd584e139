"""The evidence group (``features/evidence.py``) on hand-made traces: a value that the page just read does not
hold, a hand-off to an agent that never does that kind of action and then answers from nowhere, a quoted
search that nothing mentioned, and the same run written as an imported transcript (observations folded into
the messages) read the same way."""

from __future__ import annotations

from agentracer import Step, Trace
from agentracer.attribution.features.evidence import EVIDENCE_FEATURES, evidence_columns
from agentracer.attribution.features.view import read_steps
from agentracer.formats.whowhen import from_whowhen


def recorded() -> Trace:
    """Lead Alpha, web worker Bravo (tools), coder Delta. Bravo misreads 48213 as 48231 (step 4); later Alpha
    asks Delta, who never browses, to look a page up, and Delta answers from nowhere (steps 7, 8)."""
    t = Trace(run_id="ev", task="What is the population of Quinis plus that of Oulo?", framework="autogen",
              outcome="failure")
    t.add_step(Step(index=0, agent="Alpha", content="Plan: Bravo looks both towns up, Delta adds them in Python."))
    b = t.add_step(Step(index=0, agent="Bravo", content="Opening the page for Quinis."))
    t.add_step(Step(index=0, agent="Bravo", kind="tool_call", role="tool", parent=b.index, tool_name="open",
                    tool_args={"url": "wiki/Quinis"}, tool_result="Quinis (town).\npopulation: 48213\narea: 12"))
    t.add_step(Step(index=0, agent="Alpha", content="Bravo, report the population of Quinis as the page states it."))
    t.add_step(Step(index=0, agent="Bravo", content="According to the page, the population of Quinis is 48231."))
    d = t.add_step(Step(index=0, agent="Delta", content="```python\nprint(1 + 1)\n```"))
    t.add_step(Step(index=0, agent="Delta", kind="tool_call", role="tool", parent=d.index, tool_name="python",
                    tool_args={"code": "print(1 + 1)"}, tool_result="2"))
    t.add_step(Step(index=0, agent="Alpha", content="Delta, search the web page of Oulo and tell me its population."))
    t.add_step(Step(index=0, agent="Delta", content="I cannot browse, but from memory the population of Oulo is 9120."))
    t.add_step(Step(index=0, agent="Alpha", content='Bravo, search for "Oulo town census" please.'))
    t.add_step(Step(index=0, agent="Alpha", content="The answer is 57351. FINAL ANSWER: 57351"))
    return t


def _cols(t: Trace) -> dict[str, list[float]]:
    return evidence_columns(read_steps(t, t.agent_steps()))


def _at(t: Trace, col: list[float]) -> list[int]:
    """The trace step indices where ``col`` fires."""
    return [s.index for s, x in zip(t.agent_steps(), col, strict=True) if x > 0]


def test_every_column_is_named_and_filled() -> None:
    t = recorded()
    c = _cols(t)
    assert set(c) == set(EVIDENCE_FEATURES)
    assert all(len(col) == len(t.agent_steps()) for col in c.values())


def test_a_value_the_page_does_not_hold_is_unsourced() -> None:
    t = recorded()
    c = _cols(t)
    misread = 4  # "is 48231" after the page said 48213
    assert misread in _at(t, c["unsourced_value"])
    assert _at(t, c["first_unsourced"]) == [misread]
    assert 1 not in _at(t, c["unsourced_value"])  # opening the page states nothing


def test_a_correct_reading_is_not_unsourced() -> None:
    t = recorded()
    t.steps[4].content = "According to the page, the population of Quinis is 48213."
    assert 4 not in _at(t, _cols(t)["unsourced_value"])


def test_a_table_row_holds_its_numbers() -> None:
    """``Islands,9981,8057`` holds 8057 (a plain number parser reads 9,981,8057 as one number)."""
    t = recorded()
    t.steps[2].tool_result = "Region,forecast,actual\nIslands,9981,48231,est."
    assert 4 not in _at(t, _cols(t)["unsourced_value"])


def test_a_handoff_to_an_agent_that_never_browses_answered_from_nowhere() -> None:
    t = recorded()
    c = _cols(t)
    ask = 7  # Alpha asks Delta (who only writes code) to search the web
    assert ask in _at(t, c["handoff_mismatch"])
    assert ask in _at(t, c["reply_new_claim"])  # Delta's 9120 appears nowhere before
    assert 3 not in _at(t, c["handoff_mismatch"])  # asking the web worker for a page is fine


def test_a_quoted_search_that_nothing_mentioned() -> None:
    t = recorded()
    assert 9 in _at(t, _cols(t)["quoted_unseen"])  # "Oulo town census": no earlier step said it


def test_the_same_run_as_an_imported_transcript() -> None:
    """Who&When-style history, the page folded into Bravo's message: the misreading still stands out."""
    rec = recorded()
    hist = []
    for s in rec.agent_steps():
        text = s.content + "".join("\n" + str(k.tool_result) for k in rec.steps if k.parent == s.index)
        hist.append({"name": s.agent, "role": "assistant", "content": text})
    t = from_whowhen({"question": rec.task, "history": hist, "mistake_agent": "Bravo", "mistake_step": "3"})
    t = t.trace
    c = _cols(t)
    assert _at(t, c["first_unsourced"]) == [3]  # the 4th message: "is 48231"
    assert 1 not in _at(t, c["unsourced_value"])  # "population: 48213" is the page's data line, not a claim


def test_a_value_from_nowhere_is_a_new_claim() -> None:
    t = recorded()
    c = _cols(t)
    assert 8 in _at(t, c["new_claim"])  # Delta's 9120, "from memory"
    assert 4 in _at(t, c["new_claim"])  # 48231: the page said 48213
    assert _at(t, c["first_new_claim"]) == [4]  # from the second step on: the opening plan states what it states


def test_code_that_computes_with_a_number_nothing_gave() -> None:
    t = Trace(run_id="c", task="What is 17 * 23?", framework="langgraph", outcome="failure")
    t.add_step(Step(index=0, agent="planner", content="Plan: the coder multiplies 17 by 23."))
    t.add_step(Step(index=0, agent="coder", content="```python\nprint(17 * 32)\n```"))
    t.add_step(Step(index=0, agent="coder", content="```python\nprint(17 * 23)\n```"))
    c = _cols(t)
    assert _at(t, c["code_unseen_number"]) == [1] and _at(t, c["first_code_unseen_number"]) == [1]
    t.steps[1].content = "The coder multiplies 17 by 32, as in ```python blocks``` (prose, not code)."
    assert _at(t, _cols(t)["code_unseen_number"]) == []


def test_numbers_with_thousands_separators_are_whole_values() -> None:
    """"is 1,520 EUR" states 1520 (not "1"), checked against the tool's "1,250 EUR". A decimal point still ends a
    claim ("is 3.75" states 3, too short to count): reading decimals whole lowered Who&When's CV (BENCHMARKS.md)."""
    t = Trace(run_id="sep", task="Order 3 units of the Q-200 pump. What is the total price in EUR?",
              framework="langgraph", outcome="failure")
    t.add_step(Step(index=0, agent="planner", content="Plan: the fetcher looks the unit price up."))
    f = t.add_step(Step(index=0, agent="fetcher", content="The catalogue says the unit price is 1,520 EUR."))
    t.add_step(Step(index=0, agent="fetcher", kind="tool_call", role="tool", parent=f.index, tool_name="price",
                    tool_args={"item": "Q-200"}, tool_result="Q-200 pump | unit price: 1,250 EUR"))
    t.add_step(Step(index=0, agent="analyst", content="The unit price is 1,520 EUR, so the mean is 3.75 per day."))
    c = _cols(t)
    assert _at(t, c["unsourced_value"]) == [1]  # the analyst read the fetcher's 1,520: no observation of its own
    assert _at(t, c["new_claim"]) == [1]  # 1,520 is new at the fetcher, seen by the analyst; "3.75" states "3"
    t.steps[1].content = "The catalogue says the unit price is 1,250 EUR."
    assert _at(t, _cols(t)["unsourced_value"]) == []
