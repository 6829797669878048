"""`make demo`: services up, simulate CryptoGift, run the gift lineage through Dagster,
print what was built. Progress goes to stdout; Dagster's own logs stay in its storage."""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager, redirect_stdout
from datetime import UTC, date, datetime, timedelta

import psycopg

from dagster_project.settings import analytics_home

ACTIVE_USERS_SQL = """
select distinct on (app) app, date, dau, wau, mau, stickiness_pct
from marts.fct_active_users_daily
order by app, date desc
"""

# the demo's summary counts every table and view of these schemas
SUMMARY_SCHEMAS = ("raw", "quarantine", "marts", "embed")

REFERRERS_SQL = """
select rank, referrer_wallet, total_referrals, level_1, level_2, level_3, total_rewards,
       gifts_claimed
from marts.fct_referrer_leaderboard
order by rank, referrer_wallet limit 3
"""

TOKENS_SQL = """
select date, credited, debited, net, revenue_in_inr, active_users, is_live
from marts.token_daily_live
order by date desc limit 4
"""

LAST_7_DAYS_SQL = """
select date, sum(total_created), sum(total_viewed), sum(total_preclaim),
       sum(total_education), sum(total_claimed),
       round(sum(total_claimed) * 100.0 / sum(total_created), 2),
       round(sum(total_value_usd), 2)
from marts.fct_gift_funnel_daily
group by date order by date desc limit 7
"""


def _step(n: int, total: int, text: str) -> None:
    print(f"\n[{n}/{total}] {text}", flush=True)


@contextmanager
def _heartbeat(label: str, every: float = 10.0):
    """Long steps print a line every few seconds so the terminal never looks stuck."""
    done = threading.Event()
    start = time.monotonic()
    terminal = sys.stdout  # captured before any redirect of the step's own output

    def beat() -> None:
        while not done.wait(every):
            print(f"  … {label} ({time.monotonic() - start:.0f}s)", file=terminal, flush=True)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def run_job(
    name: str,
    instance=None,
    *,
    quiet: bool = True,
    days: tuple[str, str] | None = None,
    run_config: dict | None = None,
    tags: dict | None = None,
):
    """Execute a job of the Definitions through Dagster (recorded in its instance); a
    partitioned job over `days` = (first, last) runs once over that range, as a
    single-run backfill does."""
    from dagster import DagsterInstance

    from dagster_project.definitions import defs

    level = "ERROR" if quiet else "INFO"
    tags = dict(tags or {})
    if days:
        tags |= {
            "dagster/asset_partition_range_start": days[0],
            "dagster/asset_partition_range_end": days[1],
        }
    return defs.resolve_job_def(name).execute_in_process(
        instance=instance or DagsterInstance.get(),
        run_config={"loggers": {"console": {"config": {"log_level": level}}}, **(run_config or {})},
        raise_on_error=False,
        tags=tags,
    )


def run_gift_refresh(instance=None, *, quiet: bool = True):
    """The `gift_refresh` job: Redis sync, gift marts and their tests."""
    return run_job("gift_refresh", instance, quiet=quiet)


def _print_materializations(result) -> None:
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        shown = ("gifts_", "still", "rows_landed", "keys_taken", "plays", "likes")
        meta = {k: v.value for k, v in mat.metadata.items() if k.startswith(shown)}
        extra = "  " + ", ".join(f"{k}={v}" for k, v in meta.items()) if meta else ""
        print(f"  materialized {mat.asset_key.to_user_string()}{extra}")
    checks = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    passed = sum(c.passed for c in checks)
    kinds = "dbt tests, reconciliation, quarantine, funnels, ledger, alerts"
    print(f"  asset checks ({kinds}): {passed}/{len(checks)} passed")
    for check in (c for c in checks if not c.passed):
        target = f"{check.asset_key.to_user_string()}:{check.check_name}"
        print(f"    not passed ({check.severity.value}): {target}")


def _print_summary(url: str) -> None:
    with psycopg.connect(url) as conn:
        print("\nRows per table")
        tables = conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema = any(%s) order by table_schema, table_name",
            [list(SUMMARY_SCHEMAS)],
        ).fetchall()
        for (table,) in tables:
            n = conn.execute(f"select count(*) from {table}").fetchone()[0]
            print(f"  {table:<48} {n:>10,}")
        print("\nGift funnel, last 7 days (all campaigns; marts.fct_gift_funnel_daily)")
        print(
            f"  {'date':<10} {'created':>8} {'viewed':>8} {'preclaim':>8} {'educ.':>8} "
            f"{'claimed':>8} {'conv %':>7} {'value $':>11}"
        )
        for row in conn.execute(LAST_7_DAYS_SQL):
            d, *n, conv, value = row
            cells = " ".join(f"{x:>8,}" for x in n)
            print(f"  {d!s:<10} {cells} {conv:>7} {value:>11,}")
        print("\nActive users per app, newest day (marts.fct_active_users_daily)")
        print(f"  {'app':<12} {'date':<10} {'DAU':>7} {'WAU':>7} {'MAU':>7} {'DAU/MAU %':>10}")
        for app, d, dau, wau, mau, sticky in conn.execute(ACTIVE_USERS_SQL):
            print(f"  {app:<12} {d!s:<10} {dau:>7,} {wau:>7,} {mau:>7,} {sticky:>10}")
        print("\nWallet tokens, newest days (marts.token_daily_live; live = from the ledger now)")
        print(f"  {'date':<10} {'credited':>10} {'debited':>10} {'net':>10} {'revenue ₹':>11} "
              f"{'users':>6}  source")  # fmt: skip
        for d, cr, de, net, rev, users, live in conn.execute(TOKENS_SQL):
            source = "live" if live else "nightly"
            print(f"  {d!s:<10} {cr:>10,} {de:>10,} {net:>10,} {rev:>11,} {users:>6,}  {source}")
        print("\nTop referrers (marts.fct_referrer_leaderboard)")
        print(f"  {'#':>2} {'wallet':<14} {'referrals':>9} {'L1':>5} {'L2':>5} {'L3':>5} "
              f"{'CGC paid':>10} {'gifts claimed':>13}")  # fmt: skip
        for rank, wallet, total, l1, l2, l3, cgc, gifts in conn.execute(REFERRERS_SQL):
            print(f"  {rank:>2} {wallet[:12] + '…':<14} {total:>9,} {l1:>5,} {l2:>5,} {l3:>5,} "
                  f"{cgc or 0:>10,} {gifts:>13,}")  # fmt: skip
        print("\nQuarantined gifts (quarantine.gift_analytics), a few reasons:")
        for (reason,) in conn.execute(
            "select reject_reason from quarantine.gift_analytics order by gift_id limit 3"
        ):
            print(f"  - {reason}")


def _demo_tables() -> list[str]:
    """Tables a demo refills: landed gifts and app tables, and the daily marts (their old
    partitions would outlive a re-simulated history)."""
    from dagster_project.assets.dbt import daily_dbt_assets
    from dagster_project.ingest.source_tables import SOURCE_TABLES

    return [
        "raw.gift_analytics",
        "quarantine.gift_analytics",
        "raw.mashups__realtime_counts",
        "quarantine.mashups__realtime_counters",
        *(f"raw.{spec.raw_table}" for spec in SOURCE_TABLES),
        *(".".join(key.path) for key in daily_dbt_assets.keys),
    ]


def _reset_demo_tables(url: str) -> None:
    """A demo shows one simulation: rows landed by an earlier demo would linger in raw,
    and the extract-load cursors would skip the re-simulated history."""
    with psycopg.connect(url) as conn:
        existing = [
            t for t in _demo_tables() if conn.execute("select to_regclass(%s)", [t]).fetchone()[0]
        ]
        if existing:
            conn.execute(f"truncate {', '.join(existing)}")
            print(f"  emptied {len(existing)} tables of an earlier demo")
        if conn.execute("select to_regclass('ops.sync_state')").fetchone()[0]:
            conn.execute("delete from ops.sync_state where id like 'el:%' or id like 'enrich:%'")


def _run_exports(url: str, first: date, last: date) -> bool:
    """A CSV of the last three days' wallet transactions and a JSON of the newest day's
    YesGoddess events (PII redacted), each a request run by the export_file job; then the
    nightly ML dataset (seed 003). Prints each file."""

    from dagster_project.exports.ops import EXPORT_REQUEST_TAG
    from dagster_project.exports.service import create_request, get_request

    # three days of the ledger stay under the 100,000-row limit at the demo's volume
    days = {"from": max(first, last - timedelta(days=2)).isoformat(), "to": last.isoformat()}
    asks = [
        ("transactions", "csv", days),
        ("events", "json", {"from": days["to"], "to": days["to"]}),
    ]
    ok = True
    with psycopg.connect(url) as conn:
        for dataset, type_, filters in asks:
            request = create_request(conn, dataset, type_, filters, "make demo")
            rid = request["id"]
            result = run_job(
                "export_file",
                run_config={"ops": {"write_export_file": {"config": {"request_id": rid}}}},
                tags={EXPORT_REQUEST_TAG: rid},
            )  # fmt: skip
            ok &= _print_export(get_request(conn, request["id"]), result.success)
    result = run_job("ml_dataset")
    ok &= result.success
    for event in result.get_asset_materialization_events():
        meta = {k: v.value for k, v in event.materialization.metadata.items()}
        print(f"  ml_responses csv  {meta['rows']:>8,} rows  {meta['file']}  (ml_dataset_nightly)")
    return ok


def _print_export(request: dict, succeeded: bool) -> bool:
    if succeeded and request["status"] == "ready":
        print(
            f"  {request['dataset']:<12} {request['type']:<4} {request['actual_rows']:>8,} rows  "
            f"{request['file_path']}"
        )
        return True
    print(f"  {request['dataset']} {request['type']}: {request['error_code']}: "
          f"{request['error_message']}")  # fmt: skip
    return False


def _refuse_mashup_redis() -> None:
    """The demo's counter sync takes the counters out of the Mashups Redis (DECRBY) into
    a warehouse the next demo resets: never out of the app's own Redis."""
    from dagster_project.settings import MASHUP_REDIS_URL_ENV, mashup_redis_url
    from dagster_project.simulate.run import ExternalTarget

    if mashup_redis_url():
        raise ExternalTarget(
            f"refusing to sync the Mashups counters of {MASHUP_REDIS_URL_ENV}="
            f"{mashup_redis_url()}: the demo would take them out of that Redis. Unset it."
        )


def run_demo(*, gifts: int, days: int, seed: int, events_per_day: int = 20_000) -> int:
    started = time.monotonic()
    _step(1, 5, "starting services (embedded unless WAREHOUSE_URL / REDIS_URL are set)")
    from dagster_project.local.environment import (
        EMBEDDED_REDIS_FLAG,
        EMBEDDED_WAREHOUSE_FLAG,
        apply_env,
    )

    env = apply_env()
    print(f"  warehouse  {env['WAREHOUSE_URL']}\n  redis      {env['REDIS_URL']}")
    if not (os.environ.get(EMBEDDED_WAREHOUSE_FLAG) and os.environ.get(EMBEDDED_REDIS_FLAG)):
        print(
            "\nmake demo empties the gift tables and writes simulated gifts: it runs only on "
            "the embedded services. Unset WAREHOUSE_URL and REDIS_URL to run it; to build "
            "your own data use `dagster asset materialize` (README).",
            file=sys.stderr,
        )
        return 2

    _step(2, 5, f"simulating {days} days of every app (CryptoGift in Redis, the others in "
          "their app databases)")  # fmt: skip
    from dagster_project.simulate.run import (
        SYSTEMS,
        ExternalTarget,
        UnsupportedTarget,
        check_targets,
        simulate,
    )

    try:  # a SOURCE_<SYSTEM>_URL of the user's would get simulated rows, after a reset
        check_targets(list(SYSTEMS), allow_external=False)
        _refuse_mashup_redis()
    except (ExternalTarget, UnsupportedTarget) as exc:
        print(f"\n{exc}\nmake demo writes only into the embedded services.", file=sys.stderr)
        return 2
    _reset_demo_tables(env["WAREHOUSE_URL"])
    end = datetime.now(UTC).date()
    simulate(
        list(SYSTEMS), days=days, gifts=gifts, events_per_day=events_per_day, seed=seed,
        end=end, reset=True,
    )  # fmt: skip
    # the simulated days, up to yesterday: today's partition is not complete yet
    first, last = end - timedelta(days=days - 1), end - timedelta(days=1)

    _step(3, 5, "materializing sources → raw → staging → marts → embed through Dagster")
    from dagster_project.project import ensure_manifest

    ensure_manifest()
    log_path = analytics_home() / "logs" / "demo-run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"  dbt's own output goes to {log_path}")
    # dagster-dbt echoes every dbt line to stdout; keep the terminal to the summary.
    with (
        _heartbeat("sync + dbt build running", every=5),
        open(log_path, "w") as log,
        redirect_stdout(log),
    ):
        results = [
            run_job("gift_refresh"),
            # the Mashups realtime counters the simulator INCRed (marts.mashup_counts_live)
            run_job("mashup_counters_sync"),
            run_job("apps_daily", days=(first.isoformat(), last.isoformat())),
        ]
    for result in results:
        _print_materializations(result)
    if not all(r.success for r in results):
        print("\na run failed; open the UI (make ui) to see which step and why")
        return 1

    _step(4, 5, "exports: one request per format, as the export_request_sensor runs them")
    if not _run_exports(os.environ["WAREHOUSE_URL"], first, last):
        print("\nan export failed; see `analytics export list` and the UI (make ui)")
        return 1

    _step(5, 5, "what was built")
    _print_summary(os.environ["WAREHOUSE_URL"])
    print(
        f"\nDone in {time.monotonic() - started:.0f}s. Explore it in the Dagster UI: "
        "`make ui`, then open http://127.0.0.1:3000"
    )
    return 0
