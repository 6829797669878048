"""`make bench`: speed figures for the gift sync and the gift marts, with the seed's naive
loop, the Redis/COPY floors and hand-written SQL measured in the same run (docs/PERFORMANCE.md)."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from bench import environment, floors, machine, marts, naive, sync
from bench import extract_load as el
from bench.report import Table, header, verdict
from bench.timing import progress

SYNC_TARGET = 20_000  # gifts/s
NAIVE_TARGET = 10  # × naive


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument("--gifts", type=int, default=100_000, help="dirty gifts to sync")
    p.add_argument("--mart-gifts", type=int, default=1_000_000, help="gifts under the marts")
    p.add_argument(
        "--naive-sample",
        type=int,
        default=0,
        help="gifts the naive loop really processes, its rate then extrapolated (0 = all)",
    )
    p.add_argument("--skip-dbt", action="store_true", help="skip the mart (dbt) figures")
    p.add_argument("--el-rows", type=int, default=1_000_000, help="events for the extract-load")
    p.add_argument("--skip-el", action="store_true", help="skip the extract-load figures")
    p.add_argument("--repeat", type=int, default=2, help="repetitions; the best one counts")
    p.add_argument("--seed", type=int, default=42, help="simulator seed")
    p.add_argument("--force", action="store_true", help="allow a WAREHOUSE_URL holding gifts")
    return p.parse_args(argv)


def measure_gifts(target, r, args):
    end = datetime.now(UTC).date() - timedelta(days=1)  # a closed window: identical re-runs
    with target.connect() as conn, target.connect(autocommit=True) as auto:
        print("[1/5] sync_gifts (the production path)", flush=True)
        sync_s, result = sync.bench_sync(target, r, conn, args.gifts, args.seed, end, args.repeat)
        print("[2/5] the seed's naive loop on the same dirty set", flush=True)
        sync.fill_redis(target, r, args.gifts, args.seed, end)
        sync.reset_raw(conn)
        run = naive.run_naive(auto, r, target.keys, args.naive_sample)
        run.differing = sync.differs_from_snapshot(conn)
        progress(
            f"naive: {run.upserted:,} upserted, {run.failed:,} unparseable, "
            f"{run.differing} differ from the sync's rows, {run.measured_s:.1f}s"
        )
        print("[3/5] floors: pipelined HGETALL, COPY, and the sync's other stages", flush=True)
        stages = floors.measure(conn, r, target.keys, run.ids, args.repeat)
    return sync_s, result, run, stages


def add_sync_rows(table: Table, gifts: int, sync_s: float, result, run) -> None:
    rate = gifts / sync_s
    table.section(f"Gift sync: {gifts:,} dirty gifts, Redis -> raw.gift_analytics")
    note = f"{result.synced:,} landed, {result.quarantined:,} quarantined"
    table.add("sync_gifts end-to-end (empty raw table)", sync_s, "s", note)
    table.add(
        "sync throughput", rate, "gifts/s", f">= {SYNC_TARGET:,}: {verdict(rate >= SYNC_TARGET)}"
    )
    how = "all ids measured"
    if run.extrapolated:
        how = f"EXTRAPOLATED from {run.processed:,} of {run.total_ids:,} ids"
    table.add("naive (seed 000): SMEMBERS", run.smembers_s, "s", f"{run.total_ids:,} ids")
    note = f"{run.processed:,} gifts; same rows as the sync: {run.differing == 0}"
    table.add("naive: HGETALL + 1-row upsert + SREM each", run.loop_s, "s", note)
    table.add("naive throughput", run.rate, "gifts/s", how)
    table.add(f"naive time for all {run.total_ids:,}", run.full_s, "s", how)
    ratio = rate / run.rate
    note = f">= {NAIVE_TARGET}x: {verdict(ratio >= NAIVE_TARGET)}"
    table.add("ratio sync / naive (throughput)", ratio, "x", note)


def add_floor_rows(table: Table, gifts: int, sync_s: float, ids: int, f: dict) -> None:
    table.section("Floors and the sync's other stages, each alone on the same gifts")
    table.add("floor: pipelined HGETALL x1000", f["hgetall"], "s", f"{ids:,} hashes")
    table.add("floor: COPY parsed rows into a temp table", f["copy"], "s", f"{f['rows']:,} rows")
    table.add("sync / (HGETALL + COPY)", sync_s / (f["hgetall"] + f["copy"]), "x")
    table.add("stage: parse (parse_gift)", f["parse"], "s", "Python, per gift")
    table.add("stage: upsert temp -> raw (empty)", f["upsert"], "s", "UPSERT_SQL + commit")
    total = f["hgetall"] + f["copy"] + f["parse"] + f["upsert"]
    note = f"serial ceiling {gifts / total:,.0f} gifts/s; sync = {sync_s / total:.2f}x this"
    table.add("sum of the four", total, "s", note)


def add_mart_rows(table: Table, target, args) -> None:
    print(f"[4/5] gift marts over {args.mart_gifts:,} gifts: dbt vs hand-written SQL", flush=True)
    t = marts.bench_marts(target, args.mart_gifts, args.repeat)
    same = all(n == 0 for n in t.mismatches.values())
    table.section(f"Gift marts over {args.mart_gifts:,} gifts (funnel, activity, embed view)")
    note = f"dbt's own elapsed_time {t.dbt_elapsed_s:.2f}s; embed rows {t.embed_rows:,}"
    table.add("dbt run +funnel +activity +embed", t.dbt_s, "s", note)
    note = "the same models plus their dbt tests (which scan the 1M gifts)"
    table.add("dbt build +funnel +activity +embed", t.build_s, "s", note)
    table.add("hand-written SQL, funnel + activity", t.hand_s, "s", f"same rows as dbt: {same}")
    table.add("dbt start-up (run of one view)", t.startup_s, "s")
    table.add("ratio dbt / hand", t.dbt_s / t.hand_s, "x")
    table.add("ratio (dbt - start-up) / hand", (t.dbt_s - t.startup_s) / t.hand_s, "x")
    note = f"dbt run {t.dbt_s:.2f}s: {verdict(t.within_budget)}"
    table.add("budget 2 x hand + start-up", t.budget_s, "s", note)


EL_TARGET = 100_000  # rows/s


def add_extract_load_rows(table: Table, target, args) -> None:
    print(f"[5/5] extract-load: {args.el_rows:,} events of one day vs a bare COPY", flush=True)
    t = el.bench_extract_load(target, args.el_rows, args.repeat)
    rate = t.rows / t.el_s
    table.section(f"Extract-load: {t.rows:,} events of one day, app table -> raw")
    table.add("extract_load (COPY pipe + upsert + cursor)", t.el_s, "s", "empty raw table")
    note = f">= {EL_TARGET:,}: {verdict(rate >= EL_TARGET)}"
    table.add("extract-load throughput", rate, "rows/s", note)
    table.add("bare COPY of the same rows", t.copy_s, "s", "no key, no upsert")
    table.add("ratio extract-load / bare COPY (time)", t.el_s / t.copy_s, "x")


def print_header(target, r, args) -> None:
    with target.connect() as conn:
        about = machine.describe(conn, r)
    source = "from WAREHOUSE_URL" if target.user_url else "embedded server"
    where = [
        ("warehouse", f"{target.warehouse_url} ({source})"),
        ("redis keys", f"{target.keys.prefix}* and {environment.COUNTER_PREFIX}*"),
        ("repeat", f"best of {args.repeat}"),
    ]
    print(f"make bench  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", flush=True)
    print(header(about, where), flush=True)


def main(argv=None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    target = environment.resolve()
    environment.refuse_foreign_data(target, args.force)
    r = target.redis()
    print_header(target, r, args)
    table = Table()
    sync.clear_redis(target, r)  # leftovers of an interrupted run
    try:
        sync_s, result, run, stages = measure_gifts(target, r, args)
        add_sync_rows(table, args.gifts, sync_s, result, run)
        add_floor_rows(table, args.gifts, sync_s, run.total_ids, stages)
        if not args.skip_dbt:
            add_mart_rows(table, target, args)
        if not args.skip_el:
            add_extract_load_rows(table, target, args)
    finally:
        removed = sync.clear_redis(target, r)
        progress(f"removed {removed:,} bench keys from Redis")
    print(table.render())
    elapsed = time.perf_counter() - started
    print(f"\n(total bench time {elapsed:.0f}s; load average at the end {machine.load()})")


if __name__ == "__main__":
    main()
