"""Fail-soft sections: each section of `make bench` runs on its own; one that raises is
reported (what it had measured, the failing command and its error) and marked FAILED in
the table, the sections after it still run, those that need it are marked SKIPPED, and
the run ends non-zero."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import timing
from bench.report import Table

OK, FAILED, SKIPPED = "ok", "FAILED", "SKIPPED"
ONE_LINE = 200  # characters of the error in the table


class BenchError(Exception):
    """A step of the bench failed: `command` is what ran (short), `detail` the end of its
    output, for the log; str() is the one-line error."""

    def __init__(self, message: str, command: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.command = command
        self.detail = detail


@dataclass
class Section:
    name: str  # key that `needs` names
    title: str  # the table's heading when the section failed before adding its own
    run: Callable[[Table], str | None]  # adds its rows; returns a summary line (or None)
    needs: tuple[str, ...] = ()  # sections whose results it uses
    step: str = ""  # "[1/10]", for the log


@dataclass
class Outcome:
    status: dict[str, str] = field(default_factory=dict)  # name -> ok | FAILED | SKIPPED
    errors: dict[str, str] = field(default_factory=dict)  # name -> one-line error / reason
    summaries: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [name for name, status in self.status.items() if status != OK]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def one_line(exc: BaseException) -> str:
    """The error in one line: the first line of the message, then the failing command."""
    text = str(exc).strip().splitlines()
    message = text[0] if text else type(exc).__name__
    if not isinstance(exc, BenchError | SystemExit):
        message = f"{type(exc).__name__}: {message}"
    command = getattr(exc, "command", "")
    line = f"{message}; in `{command}`" if command else message  # the error first: it is cut last
    return line if len(line) <= ONE_LINE else line[: ONE_LINE - 1] + "…"


def _report(section: Section, exc: BaseException, seconds: float, measured: list[str]) -> None:
    say = timing.progress
    say(f"{section.step} {section.name} FAILED after {seconds:.1f}s: {one_line(exc)}".strip())
    if measured:
        say("measured before the failure:")
        for line in measured[-12:]:
            say(f"  {line}")
    detail = getattr(exc, "detail", "") or "\n".join(str(exc).splitlines()[1:])
    if detail:
        say("end of the failing command's output:")
        for line in detail.strip().splitlines()[-15:]:
            say(f"  {line}")
    say("the sections that do not need it still run")


def run_sections(sections: list[Section], table: Table) -> Outcome:
    """Run each section in order. A section that raises (any Exception, or SystemExit:
    a section's own "cannot go on") is FAILED with its rows so far kept; a section whose
    `needs` did not all succeed is SKIPPED with the reason. KeyboardInterrupt ends the run."""
    outcome = Outcome()
    for section in sections:
        blocked = [n for n in section.needs if outcome.status.get(n) != OK]
        if blocked:
            first = blocked[0]
            reason = f"needs {first}, which {outcome.status.get(first, 'did not run').lower()}"
            outcome.status[section.name], outcome.errors[section.name] = SKIPPED, reason
            timing.progress(f"{section.step} {section.name} SKIPPED: {reason}".strip())
            table.section(section.title)
            table.status(f"SKIPPED: {reason}")
            continue
        rows_before, log_before = len(table.rows), len(timing.LOG)
        started = time.perf_counter()
        try:
            summary = section.run(table)
        except (Exception, SystemExit) as exc:
            seconds = time.perf_counter() - started
            _report(section, exc, seconds, timing.LOG[log_before:])
            if len(table.rows) == rows_before:
                table.section(section.title)
            table.status(f"FAILED: {one_line(exc)}")
            outcome.status[section.name], outcome.errors[section.name] = FAILED, one_line(exc)
            continue
        outcome.status[section.name] = OK
        seconds = time.perf_counter() - started
        timing.progress(f"{section.step} {section.name}: done in {seconds:.0f}s".strip())
        if summary:
            outcome.summaries.append(summary)
    return outcome
