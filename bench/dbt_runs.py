"""Run the dbt project the way a user does (the `dbt` executable), against the bench
database, with its own target and log paths so other people's dbt runs are untouched."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from bench.sections import BenchError
from bench.timing import timed
from dagster_project.settings import DBT_PROJECT_DIR, REPO_ROOT, analytics_home

DBT = str(Path(sys.executable).parent / "dbt")
MARTS = ["+fct_gift_funnel_daily", "+fct_gift_activity_daily", "gift_funnel_public"]
STARTUP = ["stg_cryptogift__gifts"]  # a view: dbt's fixed start-up, almost no SQL work


_WORKDIR: Path | None = None  # the smoke run has its own (use_workdir)


def use_workdir(path: Path) -> None:
    global _WORKDIR
    _WORKDIR = path


def workdir() -> Path:
    path = _WORKDIR or analytics_home() / "bench" / "dbt"
    path.mkdir(parents=True, exist_ok=True)
    return path


def short_command(command: str, select: list[str]) -> str:
    shown = " ".join(select[:2]) + (f" … (+{len(select) - 2})" if len(select) > 2 else "")
    return f"dbt {command} --select {shown}"


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _node_error(message: str) -> str:
    """dbt's message of a failed node without its "Database Error in model x (path)"
    heading, the SQL excerpt and the compiled path: the error itself, in one line."""
    lines = [line.strip() for line in ANSI.sub("", message).splitlines() if line.strip()]
    body = [
        line for line in lines[1:]
        if not line.startswith(("LINE ", "^", "compiled code at", "HINT:"))
    ]  # fmt: skip
    return " ".join(body[:2]) if body else " ".join(lines[:1])


def failure(command: str, select: list[str], proc, results_path: Path) -> BenchError:
    """A failed dbt invocation as a BenchError: the first failing node and its error
    (from run_results.json, written by this run), the command, the end of dbt's output."""
    output = ANSI.sub("", proc.stdout + proc.stderr)
    message = ""
    if results_path.exists():
        failed = [
            r
            for r in json.loads(results_path.read_text()).get("results", [])
            if r.get("status") in ("error", "fail", "runtime error")
        ]
        if failed:
            first = failed[0]
            kind, *_, name = first["unique_id"].split(".")
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            message = f"{kind} {name}: {_node_error(first.get('message') or '')}{more}"
    if not message:  # failed before running any node: parse or connection errors
        errors = [line.strip() for line in output.splitlines() if "rror" in line]
        message = errors[0] if errors else f"exit code {proc.returncode}"
    tail = "\n".join(output.splitlines()[-25:])
    return BenchError(message, short_command(command, select), tail)


def run(select: list[str], command: str = "run") -> tuple[float, float]:
    """`dbt <command> --select …`; returns (wall seconds, dbt's own elapsed_time)."""
    work = workdir()
    # as Dagster's dbt steps: a test joining a mart outside the selection is not run
    buildable = ["--indirect-selection", "buildable"] if command == "build" else []
    cmd = [
        DBT, command, "--select", *select, *buildable,
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
    ]  # fmt: skip
    env = dict(os.environ)  # apply_env has put WAREHOUSE_* for the bench database here
    results_path = work / "target" / "run_results.json"
    results_path.unlink(missing_ok=True)  # what is read below is this run's
    seconds, proc = timed(
        lambda: subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    )
    if proc.returncode != 0:
        raise failure(command, select, proc, results_path)
    results = json.loads(results_path.read_text())
    return seconds, float(results.get("elapsed_time") or 0.0)
