"""Run the dbt project the way a user does (the `dbt` executable), against the bench
database, with its own target and log paths so other people's dbt runs are untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.timing import timed
from dagster_project.settings import DBT_PROJECT_DIR, REPO_ROOT, analytics_home

DBT = str(Path(sys.executable).parent / "dbt")
MARTS = ["+fct_gift_funnel_daily", "+fct_gift_activity_daily", "gift_funnel_public"]
STARTUP = ["stg_cryptogift__gifts"]  # a view: dbt's fixed start-up, almost no SQL work


def workdir() -> Path:
    path = analytics_home() / "bench" / "dbt"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run(select: list[str], command: str = "run") -> tuple[float, float]:
    """`dbt <command> --select …`; returns (wall seconds, dbt's own elapsed_time)."""
    work = workdir()
    cmd = [
        DBT, command, "--select", *select,
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
    ]  # fmt: skip
    env = dict(os.environ)  # apply_env has put WAREHOUSE_* for the bench database here
    seconds, proc = timed(
        lambda: subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-25:])
        raise SystemExit(f"bench: `dbt {command} --select {' '.join(select)}` failed:\n{tail}")
    results = json.loads((work / "target" / "run_results.json").read_text())
    return seconds, float(results.get("elapsed_time") or 0.0)
