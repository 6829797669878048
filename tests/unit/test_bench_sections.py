"""The bench's fail-soft runner (bench/sections.py) on fake sections: a section that raises
is marked FAILED with the rows it had added, the independent ones after it still run,
those that need it are SKIPPED, and the exit code is non-zero."""

from __future__ import annotations

import json
import subprocess

import pytest

from bench import dbt_runs
from bench.report import Table
from bench.sections import FAILED, OK, SKIPPED, BenchError, Section, one_line, run_sections


def _adds(title: str, summary: str | None = None, ran: list | None = None):
    def run(table: Table) -> str | None:
        if ran is not None:
            ran.append(title)
        table.section(title)
        table.add(f"{title} figure", 1.5, "s")
        return summary

    return run


def _raises(exc: BaseException, title: str | None = None, ran: list | None = None):
    def run(table: Table) -> None:
        if ran is not None:
            ran.append("raiser")
        if title:
            table.section(title)
            table.add("measured before the error", 2.0, "s")
        raise exc

    return run


def test_a_failed_section_is_marked_and_the_others_still_run(capsys):
    ran: list[str] = []
    error = BenchError(
        'model stg_x: relation "staging.everreach_event_types" does not exist',
        command="dbt build --select @source:everreach",
        detail="line 1\nline 2 of dbt's output",
    )
    sections = [
        Section("a", "A", _adds("A", "a summary", ran)),
        Section("b", "B", _raises(error, "B partial", ran)),
        Section("c", "C", _adds("C", ran=ran)),  # independent: runs
        Section("d", "D", _adds("D", ran=ran), needs=("b",)),  # needs the failed one
        Section("e", "E", _adds("E", ran=ran), needs=("d",)),  # needs a skipped one
        Section("f", "F", _adds("F", ran=ran), needs=("a",)),  # needs a good one: runs
    ]
    table = Table()
    outcome = run_sections(sections, table)

    assert ran == ["A", "raiser", "C", "F"]
    assert outcome.status == {
        "a": OK, "b": FAILED, "c": OK, "d": SKIPPED, "e": SKIPPED, "f": OK,
    }  # fmt: skip
    assert outcome.failed == ["b", "d", "e"]
    assert outcome.exit_code != 0
    assert outcome.summaries == ["a summary"]
    assert outcome.errors["d"] == "needs b, which failed"
    assert outcome.errors["e"] == "needs d, which skipped"

    rendered = table.render()
    lines = [line.strip() for line in rendered.splitlines()]
    # the failed section keeps what it measured, then the one-line error with the command
    at = lines.index("B partial")
    assert lines[at + 1].startswith("measured before the error")
    assert lines[at + 2] == (
        'FAILED: model stg_x: relation "staging.everreach_event_types" does not exist; '
        "in `dbt build --select @source:everreach`"
    )
    assert lines[lines.index("D") + 1] == "SKIPPED: needs b, which failed"
    assert lines[lines.index("E") + 1] == "SKIPPED: needs d, which skipped"
    assert "C figure" in rendered and "F figure" in rendered

    log = capsys.readouterr().out
    assert "b FAILED after" in log and "line 2 of dbt's output" in log


def test_a_section_failing_before_any_row_gets_its_title_and_systemexit_is_caught():
    table = Table()
    sections = [
        Section("x", "X heading", _raises(SystemExit("bench: the UTC day changed; run again"))),
        Section("y", "Y", _raises(ZeroDivisionError("float division by zero"))),
        Section("z", "Z", _adds("Z")),
    ]
    outcome = run_sections(sections, table)
    assert outcome.status == {"x": FAILED, "y": FAILED, "z": OK}
    lines = [line.strip() for line in table.render().splitlines() if line.strip()]
    assert lines[:4] == [
        "X heading",
        "FAILED: bench: the UTC day changed; run again",
        "Y",
        "FAILED: ZeroDivisionError: float division by zero",
    ]


def test_all_good_exits_zero_and_an_interrupt_is_not_swallowed():
    outcome = run_sections([Section("a", "A", _adds("A")), Section("b", "B", _adds("B"))], Table())
    assert outcome.exit_code == 0 and not outcome.failed
    with pytest.raises(KeyboardInterrupt):
        run_sections([Section("k", "K", _raises(KeyboardInterrupt()))], Table())


def test_one_line_is_short():
    line = one_line(BenchError("x" * 500 + "\nsecond line", command="dbt run --select a"))
    assert len(line) <= 200 and "\n" not in line and line.startswith("xxx")


def test_a_dbt_failure_names_the_first_failing_node(tmp_path):
    results = tmp_path / "run_results.json"
    results.write_text(json.dumps({"results": [
        {"unique_id": "model.product_analytics.stg_a", "status": "success", "message": None},
        {"unique_id": "model.product_analytics.stg_b", "status": "error",
         "message": 'Database Error in model stg_b (models/b.sql)\n  relation "raw.x" does '
                    "not exist\n  LINE 3: select * from raw.x\n  ^\n  compiled code at /t/b.sql"},
        {"unique_id": "test.product_analytics.not_null_b", "status": "error", "message": "x"},
    ]}))  # fmt: skip
    proc = subprocess.CompletedProcess([], 1, stdout="dbt output\nDone. ERROR=2", stderr="")
    error = dbt_runs.failure("build", ["@source:a", "@source:b", "@source:c", "@source:d"],
                             proc, results)  # fmt: skip
    assert error.command == "dbt build --select @source:a @source:b … (+2)"
    assert str(error) == 'model stg_b: relation "raw.x" does not exist (and 1 more)'
    assert "Done. ERROR=2" in error.detail

    results.unlink()  # dbt stopped before running a node (a parse error)
    out = "Encountered an error:\nParsing Error"
    proc = subprocess.CompletedProcess([], 2, stdout=out, stderr="")
    assert str(dbt_runs.failure("run", ["a"], proc, results)) == "Encountered an error:"
