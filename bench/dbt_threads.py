"""How dbt's thread count changes the time to rebuild a year of daily wallet marts
(docs/SCALING.md): simulate a year of wallet app data, land it, then time the same
window_replace rebuild of the five daily wallet marts with DBT_THREADS 1, 2, 4, 8.

    python -m bench.dbt_threads --days 365 --events-per-day 2000 --threads 1,2,4,8

Runs in its own database `bench_threads` on the embedded server (or the WAREHOUSE_URL you
set, which it drops the project's schemas in: a throwaway only).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta

import psycopg

from dagster_project.ingest.extract_load import extract_load_system
from dagster_project.local import services
from dagster_project.local.environment import apply_env
from dagster_project.settings import DBT_PROJECT_DIR, REPO_ROOT, analytics_home
from dagster_project.simulate.wallet import simulate_wallet

DATABASE = "bench_threads"
SRC = "wallet_src"  # the wallet app database: a schema of the bench database
SCHEMAS = ("raw", "quarantine", "ops", "staging", "intermediate", "marts", "embed", SRC)
DAILY_WALLET = "path:models/marts/wallet,tag:daily"
DBT = os.path.join(os.path.dirname(sys.executable), "dbt")


def _database_url() -> str:
    if os.environ.get("WAREHOUSE_URL"):
        return os.environ["WAREHOUSE_URL"]
    ports = services.start_postgres()
    with (
        psycopg.connect(ports.postgres_url("postgres"), autocommit=True) as conn,
        contextlib.suppress(psycopg.errors.DuplicateDatabase),  # a concurrent run made it
    ):
        found = conn.execute("select 1 from pg_database where datname = %s", [DATABASE])
        if not found.fetchone():
            conn.execute(f'create database "{DATABASE}"')
    os.environ["WAREHOUSE_URL"] = ports.postgres_url(DATABASE)
    return os.environ["WAREHOUSE_URL"]


def _prepare(url: str, days: int, events_per_day: int, end: date) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in SCHEMAS:
            conn.execute(f"drop schema if exists {schema} cascade")
    with psycopg.connect(url) as conn:
        simulate_wallet(conn, days=days, events_per_day=events_per_day, end=end, schema=SRC)
        conn.commit()
    with psycopg.connect(url) as conn:
        extract_load_system(conn, url, "wallet", schema=SRC)
        return conn.execute("select count(*) from raw.wallet__wallet_ledger").fetchone()[0]


def _dbt(*args: str, threads: int = 4) -> float:
    work = analytics_home() / "bench" / "dbt_threads"
    cmd = [
        DBT, *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
    ]  # fmt: skip
    env = dict(os.environ, DBT_THREADS=str(threads))
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"`dbt {' '.join(args)}` failed:\n{proc.stdout[-3000:]}{proc.stderr}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dbt_threads", description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--events-per-day", type=int, default=2_000)
    parser.add_argument("--threads", default="1,2,4,8")
    parser.add_argument("--repeat", type=int, default=2, help="runs per thread count (best)")
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 6, 30))
    parser.add_argument(
        "--reuse", action="store_true", help="keep the data of the last run: only time dbt"
    )
    args = parser.parse_args(argv)

    url = _database_url()
    apply_env(dagster_home=False)  # dbt's WAREHOUSE_* variables from WAREHOUSE_URL
    print(f"cores: {os.cpu_count()}", flush=True)
    if not args.reuse:
        print(f"simulating {args.days} days of wallet data ...", flush=True)
        ledger = _prepare(url, args.days, args.events_per_day, args.end)
        print(f"landed {ledger:,} ledger rows; first build of the wallet lineage ...", flush=True)
        _dbt("seed")
        _dbt("run", "--select", "+path:models/marts/wallet")
    window = {
        "min_date": (args.end - timedelta(days=args.days - 1)).isoformat(),
        "max_date": (args.end + timedelta(days=1)).isoformat(),
    }
    rebuild = ["run", "--select", DAILY_WALLET, "--vars", json.dumps(window)]
    print(f"rebuild of {DAILY_WALLET} over [{window['min_date']}, {window['max_date']}):")
    for threads in (int(t) for t in args.threads.split(",")):
        best = min(_dbt(*rebuild, threads=threads) for _ in range(args.repeat))
        print(f"  threads {threads}: {best:6.1f} s (best of {args.repeat})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
