"""Issue 5: exports of about 10k and 100k rows of the transactions dataset, CSV and JSON,
each in a fresh process (bench/export_worker.py) so its peak memory is its own: seconds,
rows/s and peak RSS, against seed 002's way (every row fetched into memory, then written)
measured in the same run. Memory must not grow with the row count."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from bench import token_data
from bench.environment import Target
from bench.events import dbt
from bench.sections import BenchError
from bench.timing import progress
from dagster_project.settings import REPO_ROOT

DATASET = "transactions"
SIZES = (10_000, 100_000)
FORMATS = ("csv", "json")
CSV_TARGET_S = 3.0  # 100k rows
MEMORY_TARGET = 1.2  # peak at 100k / peak at 10k
LEDGER_ROWS = 1_000_000  # generated when no wallet data is there (~2,700 rows a day)


@dataclass
class Run:
    seconds: float
    rows: int
    bytes: int
    rest_mb: float
    peak_mb: float


@dataclass
class ExportBench:
    data: str
    sizes: tuple[int, int] = SIZES
    windows: dict[int, tuple[date, date, int]] = field(default_factory=dict)
    ours: dict[tuple[str, int], Run] = field(default_factory=dict)
    naive: dict[tuple[str, int], Run] = field(default_factory=dict)

    def memory_ratio(self, type_: str, runs: dict | None = None) -> float:
        runs = self.ours if runs is None else runs
        return runs[(type_, self.sizes[-1])].peak_mb / runs[(type_, self.sizes[0])].peak_mb


_CLOSED_DAYS = """
    select (occurred_at at time zone 'utc')::date as day, count(*)
    from marts.fct_wallet_transactions
    where occurred_at < (now() at time zone 'utc')::date
    group by 1 order by 1 desc
"""


def _closed_days(target: Target) -> list[tuple[date, int]]:
    with target.connect() as conn:
        if not conn.execute("select to_regclass('marts.fct_wallet_transactions')").fetchone()[0]:
            return []
        return conn.execute(_CLOSED_DAYS).fetchall()


def _landed_ledger_rows(target: Target) -> int:
    with target.connect() as conn:
        if not conn.execute("select to_regclass('raw.wallet__wallet_ledger')").fetchone()[0]:
            return 0
        return conn.execute("select count(*) from raw.wallet__wallet_ledger").fetchone()[0]


def ensure_data(target: Target, sizes=SIZES, ledger_rows: int = LEDGER_ROWS) -> str:
    """The token bench's wallet data when it holds enough closed days; else a 1M-row
    ledger generated, landed and built (untimed)."""
    days = _closed_days(target)
    if sum(n for _, n in days) < 2 * sizes[-1] and _landed_ledger_rows(target) >= 2 * sizes[-1]:
        # the token section's ledger is landed, but the view is gone: dbt replaces a view
        # by renaming the old one aside and dropping it with CASCADE, which drops the
        # views built on it (the token section's last run rebuilds stg_wallet__users)
        dbt("run", ["+fct_wallet_transactions"])
        days = _closed_days(target)
    if sum(n for _, n in days) >= 2 * sizes[-1]:
        return f"wallet data of the token bench ({sum(n for _, n in days):,} closed rows)"
    generated = token_data.existing(target, ledger_rows) or token_data.generate(target, ledger_rows)
    token_data.reset_raw(target)
    token_data.land(target)
    dbt("run", ["+fct_wallet_transactions"])
    return "generated: " + generated.describe()


def window(days: list[tuple[date, int]], rows: int) -> tuple[date, date, int]:
    """The most closed days back from yesterday whose rows stay ≤ `rows` (at least one)."""
    total, first = 0, None
    for day, n in days:
        if first is not None and total + n > rows:
            break
        total, first = total + n, day
    return first, days[0][0], total


def _worker(target: Target, type_: str, win: tuple[date, date, int], naive: bool) -> Run:
    cmd = [sys.executable, "-m", "bench.export_worker", target.warehouse_url, DATASET, type_,
           win[0].isoformat(), win[1].isoformat(), *(["--naive"] if naive else [])]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = (proc.stdout + proc.stderr).strip().splitlines() or [f"exit {proc.returncode}"]
        command = f"python -m bench.export_worker … {DATASET} {type_}" + " --naive" * naive
        raise BenchError(lines[-1], command, "\n".join(lines[-25:]))
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return Run(out["seconds"], out["rows"], out["bytes"], out["rest_kb"] / 1024,
               out["peak_kb"] / 1024)  # fmt: skip


def _best(runs: list[Run]) -> Run:
    """The fastest run; the highest peak (memory is not luck)."""
    fastest = min(runs, key=lambda r: r.seconds)
    fastest.peak_mb = max(r.peak_mb for r in runs)
    return fastest


def bench_exports(
    target: Target, repeat: int, sizes=SIZES, ledger_rows: int = LEDGER_ROWS
) -> ExportBench:
    result = ExportBench(ensure_data(target, sizes, ledger_rows), tuple(sizes))
    days = _closed_days(target)
    for size in sizes:
        result.windows[size] = window(days, size)
    stamp = datetime.now(UTC).strftime("%H:%M")
    progress(f"{stamp} windows: " + ", ".join(
        f"{w[0]}..{w[1]} = {w[2]:,} rows" for w in result.windows.values()))  # fmt: skip
    for type_ in FORMATS:
        for size in sizes:
            win = result.windows[size]
            for naive, into in ((False, result.ours), (True, result.naive)):
                into[(type_, size)] = _best(
                    [_worker(target, type_, win, naive) for _ in range(repeat)]
                )
            run = result.ours[(type_, size)]
            progress(f"{type_} {run.rows:,} rows: {run.seconds:.2f}s, peak {run.peak_mb:.0f} MB "
                     f"(naive {result.naive[(type_, size)].seconds:.2f}s, "
                     f"{result.naive[(type_, size)].peak_mb:.0f} MB)")  # fmt: skip
    return result
