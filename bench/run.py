"""`make bench`: speed figures for the gift sync and the gift marts, with the seed's naive
loop, the Redis/COPY floors and hand-written SQL measured in the same run, the event marts,
the token economy, the exports and the raw retention (docs/PERFORMANCE.md).

Each section fails soft: a failed one is reported and marked FAILED in the table, the
others still run, the exit code is non-zero. `--smoke` runs every section on tiny data in
a fresh database of its own (a check that the bench works, not figures)."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta

from bench import (
    dbt_runs,
    environment,
    event_data,
    events,
    exports,
    floors,
    machine,
    marts,
    naive,
    retention,
    sync,
    token_data,
    tokens,
)
from bench import extract_load as el
from bench import mysql_extract_load as mysql_el
from bench.report import Table, header, verdict
from bench.sections import Outcome, Section, run_sections
from bench.timing import progress
from dagster_project.settings import analytics_home

SYNC_TARGET = 20_000  # gifts/s
NAIVE_TARGET = 10  # × naive

# --smoke: every section on seconds of data (the defaults it replaces; explicit flags win)
SMOKE = {
    "gifts": 2_000, "mart_gifts": 5_000, "el_rows": 5_000, "event_day_rows": 2_000,
    "history_day_rows": 500, "ledger_rows": 20_000, "token_runs": 5, "repeat": 1,
    "export_sizes": "1000,5000", "retention_rows": 10_000, "mysql_el_rows": 5_000,
}  # fmt: skip


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
    p.add_argument(
        "--mysql-el-rows",
        type=int,
        default=1_000_000,
        help="wallet ledger rows for the extract-load from MariaDB",
    )
    p.add_argument(
        "--skip-mysql-el", action="store_true", help="skip the MariaDB extract-load figures"
    )
    p.add_argument("--skip-events", action="store_true", help="skip the event-mart figures")
    p.add_argument(
        "--event-day-rows",
        type=int,
        default=1_000_000,
        help="events simulated per app for the one-day partition (each app gets this many)",
    )
    p.add_argument(
        "--history-day-rows",
        type=int,
        default=100_000,
        help="events per app of the day replicated into 10, then 60 days of history",
    )
    p.add_argument(
        "--event-timeout",
        type=int,
        default=30,
        help="seconds after which a daily mart's statement is cancelled and the mart left out",
    )
    p.add_argument("--skip-tokens", action="store_true", help="skip the token-economy figures")
    p.add_argument(
        "--ledger-rows",
        type=int,
        default=5_000_000,
        help="wallet ledger rows under the token marts",
    )
    p.add_argument(
        "--token-runs", type=int, default=50, help="runs of each token query (p50/p95 of them)"
    )
    p.add_argument(
        "--reuse-token-data",
        action="store_true",
        help="keep the token data of an earlier run of the same day and size (no EL figure)",
    )
    p.add_argument(
        "--only",
        choices=["mysql-el", "tokens", "exports", "retention"],
        help="run only this section (no gift sync, marts, extract-load or event marts)",
    )
    p.add_argument("--skip-exports", action="store_true", help="skip the export figures")
    p.add_argument(
        "--export-sizes",
        default=",".join(str(n) for n in exports.SIZES),
        help="the two export sizes in rows, small,large (the memory ratio is large / small)",
    )
    p.add_argument("--skip-retention", action="store_true", help="skip the raw-retention figures")
    p.add_argument(
        "--retention-rows", type=int, default=retention.ROWS, help="rows under the retention"
    )
    p.add_argument("--repeat", type=int, default=2, help="repetitions; the best one counts")
    p.add_argument("--seed", type=int, default=42, help="simulator seed")
    p.add_argument("--force", action="store_true", help="allow a WAREHOUSE_URL holding gifts")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="every section on tiny data (seconds of it), in a fresh database of its own "
        "(WAREHOUSE_URL's database + _bench_smoke, else bench_smoke): does the bench run?",
    )
    args = p.parse_args(argv)
    if args.smoke:
        p.set_defaults(**SMOKE)
        args = p.parse_args(argv)
    args.export_sizes = tuple(int(n) for n in args.export_sizes.split(","))
    if len(args.export_sizes) != 2 or args.export_sizes[0] >= args.export_sizes[1]:
        p.error("--export-sizes: two sizes, the smaller first (e.g. 10000,100000)")
    return args


def gift_window_end():
    return datetime.now(UTC).date() - timedelta(days=1)  # a closed window: identical re-runs


def measure_sync(target, r, args, end):
    print("[1/10] sync_gifts (the production path)", flush=True)
    with target.connect() as conn:
        return sync.bench_sync(target, r, conn, args.gifts, args.seed, end, args.repeat)


def measure_naive(target, r, args, end):
    print("[2/10] the seed's naive loop on the same dirty set", flush=True)
    with target.connect() as conn, target.connect(autocommit=True) as auto:
        sync.fill_redis(target, r, args.gifts, args.seed, end)
        sync.reset_raw(conn)
        run = naive.run_naive(auto, r, target.keys, args.naive_sample)
        run.differing = sync.differs_from_snapshot(conn)
    progress(
        f"naive: {run.upserted:,} upserted, {run.failed:,} unparseable, "
        f"{run.differing} differ from the sync's rows, {run.measured_s:.1f}s"
    )
    return run


def measure_floors(target, r, args, run):
    print("[3/10] floors: pipelined HGETALL, COPY, and the sync's other stages", flush=True)
    with target.connect() as conn:
        return floors.measure(conn, r, target.keys, run.ids, args.repeat)


def sync_title(gifts: int) -> str:
    return f"Gift sync: {gifts:,} dirty gifts, Redis -> raw.gift_analytics"


def add_sync_rows(table: Table, gifts: int, sync_s: float, result) -> None:
    rate = gifts / sync_s
    table.section(sync_title(gifts))
    note = f"{result.synced:,} landed, {result.quarantined:,} quarantined"
    table.add("sync_gifts end-to-end (empty raw table)", sync_s, "s", note)
    table.add(
        "sync throughput", rate, "gifts/s", f">= {SYNC_TARGET:,}: {verdict(rate >= SYNC_TARGET)}"
    )


def add_naive_rows(table: Table, gifts: int, sync_s: float, run) -> None:
    """Under the sync's heading (the naive loop is measured against it)."""
    rate = gifts / sync_s
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
    print(f"[4/10] gift marts over {args.mart_gifts:,} gifts: dbt vs hand-written SQL", flush=True)
    t = marts.bench_marts(target, args.mart_gifts, args.repeat)
    same = all(n == 0 for n in t.mismatches.values())
    table.section(f"Gift marts over {args.mart_gifts:,} gifts (funnel, activity, embed view)")
    note = f"dbt's own elapsed_time {t.dbt_elapsed_s:.2f}s; embed rows {t.embed_rows:,}"
    table.add("dbt run +funnel +activity +embed", t.dbt_s, "s", note)
    note = f"the same models plus their dbt tests (which scan the {args.mart_gifts:,} gifts)"
    table.add("dbt build +funnel +activity +embed", t.build_s, "s", note)
    table.add("hand-written SQL, funnel + activity", t.hand_s, "s", f"same rows as dbt: {same}")
    table.add("dbt start-up (run of one view)", t.startup_s, "s")
    table.add("ratio dbt / hand", t.dbt_s / t.hand_s, "x")
    table.add("ratio (dbt - start-up) / hand", (t.dbt_s - t.startup_s) / t.hand_s, "x")
    note = f"dbt run {t.dbt_s:.2f}s: {verdict(t.within_budget)}"
    table.add("budget 2 x hand + start-up", t.budget_s, "s", note)


EL_TARGET = 100_000  # rows/s


def add_extract_load_rows(table: Table, target, args) -> None:
    print(f"[5/10] extract-load: {args.el_rows:,} events of one day vs a bare COPY", flush=True)
    t = el.bench_extract_load(target, args.el_rows, args.repeat)
    rate = t.rows / t.el_s
    table.section(f"Extract-load: {t.rows:,} events of one day, app table -> raw")
    table.add("extract_load (COPY pipe + upsert + cursor)", t.el_s, "s", "empty raw table")
    note = f">= {EL_TARGET:,}: {verdict(rate >= EL_TARGET)}"
    table.add("extract-load throughput", rate, "rows/s", note)
    table.add("bare COPY of the same rows", t.copy_s, "s", "no key, no upsert")
    table.add("ratio extract-load / bare COPY (time)", t.el_s / t.copy_s, "x")


MYSQL_EL_TARGET = 0.7  # x the driver-only read (rows/s)


def mysql_el_title(rows: int) -> str:
    return f"Extract-load from MariaDB: {rows:,} wallet ledger rows, app table -> raw"


def add_mysql_extract_load_rows(table: Table, target, args, step: str) -> str:
    rows = f"{args.mysql_el_rows:,} wallet ledger rows"
    print(f"{step} extract-load from MariaDB: {rows} vs the driver reading them", flush=True)
    t = mysql_el.bench_mysql_extract_load(target, args.mysql_el_rows, args.repeat)
    table.section(mysql_el_title(t.rows))
    note = f"PyMySQL SSCursor, fetchmany {mysql_el.FETCH_ROWS:,}, rows dropped"
    table.add("driver-only read of the same select", t.driver_s, "s", note)
    table.add("driver-only throughput", t.driver_rate, "rows/s")
    note = "empty raw table; convert + COPY + upsert + cursor"
    table.add("extract_load (MariaDB -> raw)", t.el_s, "s", note)
    table.add("extract-load throughput, MariaDB", t.el_rate, "rows/s")
    ok = t.ratio >= MYSQL_EL_TARGET
    note = f">= {MYSQL_EL_TARGET}x: {verdict(ok)}"
    table.add("ratio extract-load / driver-only (rows/s)", t.ratio, "x", note)
    return (
        f"MariaDB extract-load: {t.el_rate:,.0f} rows/s, {t.ratio:.2f}x the driver-only "
        f"read's {t.driver_rate:,.0f} rows/s ({verdict(ok)})"
    )


EVENT_RUN_TARGET = 30.0  # s, dbt run of a 1M-event day through every daily mart
HISTORY_TARGET = 1.3  # partition time with 60 days of history / with 10


def add_event_day_rows(table: Table, target, args, step: str) -> str:
    systems = event_data.systems()
    if not systems:
        table.section("Event marts: no event simulator found (dagster_project/simulate)")
        return "event marts: skipped (no simulator)"
    apps = ", ".join(systems)
    print(f"{step} event marts: one day of {args.event_day_rows:,} events per app ({apps}), "
          "dbt vs hand-written SQL", flush=True)  # fmt: skip
    t = events.bench_event_day(
        target, systems, args.event_day_rows, args.repeat, args.event_timeout
    )
    usable = ", ".join(f"{s} {t.day_events[s]:,}" for s in systems)
    table.section(f"Event marts: partition {events.DAY} with {args.event_day_rows:,} simulated "
                  f"events per app ({apps})")  # fmt: skip
    table.add("usable events on the day (after dedup)", sum(t.day_events.values()), "events",
              usable)  # fmt: skip
    n_marts = len(t.run.models)
    ok = t.run.wall_s <= EVENT_RUN_TARGET and not set(t.too_slow) & set(t.daily_marts)
    note = f"{n_marts} marts; dbt elapsed {t.run.elapsed_s:.2f}s; <= {EVENT_RUN_TARGET:.0f}s: "
    note += verdict(ok) + (
        " (not every mart finished)" if set(t.too_slow) & set(t.daily_marts) else ""
    )
    table.add("dbt run --select tag:daily (the day)", t.run.wall_s, "s", note)
    table.add("dbt build --select tag:daily", t.build.wall_s, "s", "the same plus their tests")
    for name in t.too_slow:
        note = "cancelled by statement_timeout"
        if name in t.hand_slow_s:
            note += f"; hand SQL {t.hand_slow_s[name]:.2f}s"
        table.add(f"  left out: {name}", f"> {t.timeout_s}", "s", note)
    if t.rebuilt:
        table.add("dbt run of the whole-rebuild event marts", t.rebuilt.wall_s, "s",
                  ", ".join(t.rebuilt_models))  # fmt: skip
    for name, seconds in t.hand_s.items():
        if name != "commit":
            table.add(f"  hand SQL: {name}", seconds, "s")
    table.add("hand-written SQL, sum", t.hand_total_s, "s", f"same rows: {t.same}")
    if t.uncovered:
        table.add("  no hand baseline", len(t.uncovered), "marts", ", ".join(t.uncovered))
        table.add("dbt run of the marts with a baseline", t.covered_run.wall_s, "s")
    table.add("dbt start-up (run of one view)", t.startup.wall_s, "s", "same vars: partial parse")
    table.add("dbt start-up with new vars", t.startup_reparse_s, "s",
              "full re-parse, as each new partition")  # fmt: skip
    dbt_s = t.covered_run.wall_s
    table.add("ratio dbt run / hand", dbt_s / t.hand_total_s, "x")
    table.add("ratio (dbt - start-up) / hand", (dbt_s - t.startup.wall_s) / t.hand_total_s, "x")
    for model, (n_hand, n_dbt, differ) in t.compare.items():
        if differ or n_hand != n_dbt:
            table.add(f"  differs: {model}", differ, "rows", f"hand {n_hand:,}, dbt {n_dbt:,}")
    left_out = f"; left out: {', '.join(t.too_slow)}" if t.too_slow else ""
    return (
        f"event marts: {args.event_day_rows:,}-event day run {t.run.wall_s:.1f}s "
        f"({verdict(ok)}), build {t.build.wall_s:.1f}s, dbt/hand "
        f"{dbt_s / t.hand_total_s:.1f}x, same rows {t.same}{left_out}"
    )


def add_history_rows(table: Table, target, args, step: str) -> str | None:
    systems = event_data.systems()
    if not systems:
        return None
    print(f"{step} event marts: partition cost with 10 and 60 days of history "
          f"({args.history_day_rows:,} events per app and day)", flush=True)  # fmt: skip
    h = events.bench_history(
        target, systems, args.history_day_rows, args.repeat, timeout_s=args.event_timeout
    )
    table.section(f"Event marts: partition {events.DAY} of {args.history_day_rows:,} events per "
                  "app, with history")  # fmt: skip
    for depth in h.depths:
        rows = sum(h.raw_rows[depth].values())
        table.add(
            f"dbt run tag:daily, {depth} days of history",
            h.runs[depth].wall_s,
            "s",
            f"raw event rows {rows:,}; dbt elapsed {h.runs[depth].elapsed_s:.2f}s",
        )
    note = f"<= {HISTORY_TARGET}: {verdict(h.ratio <= HISTORY_TARGET)}"
    table.add(f"ratio {h.depths[-1]} / {h.depths[0]} days", h.ratio, "x", note)
    first, last = h.runs[h.depths[0]].models, h.runs[h.depths[-1]].models
    grew = sorted(last, key=lambda m: first.get(m, 0) - last[m])[:3]
    for model in grew:
        table.add(f"  grew: {model}", last[model], "s", f"{first.get(model, 0):.2f}s with "
                  f"{h.depths[0]} days")  # fmt: skip
    seq = sorted(m for m, scans in h.index_scans.items()
                 if any(s.startswith("Seq Scan") for s in scans))  # fmt: skip
    note = "seq scan of raw in: " + ", ".join(seq) if seq else "every raw event read is indexed"
    table.add("window reaches the raw index", str(h.pushdown), "", note)
    table.add("  plans", str(h.explain_path.name), "", str(h.explain_path))
    left_out = f"; left out: {', '.join(h.too_slow)}" if h.too_slow else ""
    return (
        f"event marts: history {h.depths[-1]}/{h.depths[0]} days {h.ratio:.2f}x "
        f"({verdict(h.ratio <= HISTORY_TARGET)}){left_out}"
    )


def add_token_rows(table: Table, target, args, step: str) -> str:
    print(f"{step} token economy: {args.ledger_rows:,} ledger rows (365 days up to now), "
          "wallet marts, today's live numbers, top users", flush=True)  # fmt: skip
    t = tokens.bench_tokens(
        target, args.ledger_rows, args.repeat, args.token_runs, args.reuse_token_data
    )
    g = t.generated
    table.section(f"Token economy: {g.rows:,} ledger rows over {token_data.DAYS} closed days "
                  f"and today until now, {g.users:,} users")  # fmt: skip
    made = "reused" if g.reused else g.seconds
    table.add("generated in the wallet app db (SQL)", made, "s", "untimed; " + g.describe())
    if t.landed:
        ledger = "wallet__wallet_ledger"
        rows, seconds = t.landed.rows[ledger], t.landed.seconds[ledger]
        table.add("extract-load wallet_ledger (empty raw)", seconds, "s", f"{rows:,} rows")
        table.add("extract-load throughput, ledger", rows / seconds, "rows/s",
                  f"side figure (events' target >= {EL_TARGET:,})")  # fmt: skip
        others = [k for k in t.landed.rows if k != ledger]
        note = ", ".join(f"{k.split('__')[1]} {t.landed.rows[k]:,}" for k in others)
        table.add("extract-load the other four tables", sum(t.landed.seconds[k] for k in others),
                  "s", note)  # fmt: skip
    verdicts = []
    if t.missing:
        table.add("wallet marts", "missing", "", ", ".join(t.missing))
    if t.history:
        first, end = t.range_
        table.add(f"dbt run wallet daily marts, {token_data.DAYS} days in one window",
                  t.history.wall_s, "s", f"{first} .. {end - timedelta(days=1)}; dbt elapsed "
                  f"{t.history.elapsed_s:.1f}s; "
                  + tokens.models_note(t.history))  # fmt: skip
        table.add("dbt run whole-rebuild wallet marts + live view", t.rebuilt.wall_s, "s",
                  tokens.models_note(t.rebuilt))  # fmt: skip
        table.add("dbt run one day's partition (yesterday)", t.day.wall_s, "s",
                  f"best of {args.repeat}; {len(t.daily_marts)} marts; "
                  + tokens.models_note(t.day))  # fmt: skip
        table.add("dbt start-up (run of one view)", t.startup.wall_s, "s")
        sizes = ", ".join(f"{m} {n:,}" for m, n in t.mart_rows.items())
        table.add("mart rows", sum(t.mart_rows.values()), "rows", sizes)
    if t.live:
        ok = t.live.p95 <= tokens.LIVE_TARGET_MS
        verdicts.append(f"live today p95 {t.live.p95:.1f} ms ({verdict(ok)})")
        row = t.live_row or {}
        note = (f"p50 {t.live.p50:.1f} ms, {t.runs} runs; <= {tokens.LIVE_TARGET_MS:.0f} ms: "
                f"{verdict(ok)}; {row.get('entries', 0):,} entries today; equals the "
                f"staging ledger: {t.live_same}")  # fmt: skip
        table.add("live: token_daily_live, date = current_date, p95", t.live.p95, "ms", note)
    if t.live_base:
        note = f"p50 {t.live_base.p50:.1f} ms, {len(t.live_base.ms)} runs (whole raw ledger)"
        table.add("seed: v_token_analytics_realtime, today, p95", t.live_base.p95, "ms", note)
        if t.live:
            table.add("ratio seed / live (p50)", t.live_base.p50 / t.live.p50, "x")
    for metric, lat in t.top.items():
        ok = lat.p95 <= tokens.TOP_TARGET_MS
        verdicts.append(f"top users by {metric} p95 {lat.p95:.1f} ms ({verdict(ok)})")
        note = (f"p50 {lat.p50:.1f} ms, {t.runs} runs; <= {tokens.TOP_TARGET_MS:.0f} ms: "
                f"{verdict(ok)}; same top 20 as the ledger: {t.top_same[metric]}")  # fmt: skip
        table.add(f"top 20 users by {metric}, 365 days, p95", lat.p95, "ms", note)
        base = t.top_base[metric]
        note = f"p50 {base.p50:.1f} ms, {len(base.ms)} runs; ratio (p50) {base.p50 / lat.p50:.1f}x"
        table.add("  same from the staging ledger, p95", base.p95, "ms", note)
    if t.load:
        table.add("load average after the queries", t.load.split(" ")[0], "", t.load)
    for name, plan in t.plans.items():
        table.add(f"  plan: {name}", plan.execution_ms, "ms", plan.summary())
    if t.plans_path:
        table.add("  plans (EXPLAIN ANALYZE, BUFFERS)", t.plans_path.name, "", str(t.plans_path))
    return "token economy: " + ("; ".join(verdicts) if verdicts else "marts missing")


def add_export_rows(table: Table, target, args, step: str) -> str:
    small, large = args.export_sizes
    print(f"{step} exports: transactions, about {small:,} and {large:,} rows, CSV and JSON, "
          "each in a fresh process, against fetch-all-then-write", flush=True)  # fmt: skip
    t = exports.bench_exports(target, args.repeat, args.export_sizes, args.ledger_rows)
    table.section(f"Exports of dataset {exports.DATASET} (marts.fct_wallet_transactions)")
    table.add("wallet data", "-", "", t.data)
    verdicts = []
    for type_ in exports.FORMATS:
        for size in t.sizes:
            ours, naive = t.ours[(type_, size)], t.naive[(type_, size)]
            note = f"{ours.rows / ours.seconds:,.0f} rows/s; {ours.bytes / 2**20:,.1f} MiB file"
            if type_ == "csv" and size == t.sizes[-1]:
                ok = ours.seconds <= exports.CSV_TARGET_S
                note += f"; <= {exports.CSV_TARGET_S:.0f}s: {verdict(ok)}"
                verdicts.append(f"CSV {ours.rows:,} rows {ours.seconds:.2f}s ({verdict(ok)})")
            label = f"{type_} {ours.rows:,} rows: export_file (streamed)"
            table.add(label, ours.seconds, "s", note)
            table.add("  peak memory of the process", ours.peak_mb, "MB",
                      f"{ours.rest_mb:.0f} MB before the export (imports, connection); "
                      f"grew {ours.peak_mb - ours.rest_mb:.1f} MB")  # fmt: skip
            table.add(f"  seed's way (fetch all, then write), {naive.rows:,} rows", naive.seconds,
                      "s", f"peak {naive.peak_mb:.0f} MB (grew "
                      f"{naive.peak_mb - naive.rest_mb:.0f} MB); ratio seed / ours "
                      f"{naive.seconds / ours.seconds:.1f}x")  # fmt: skip
        ratio = t.memory_ratio(type_)
        ok = ratio <= exports.MEMORY_TARGET
        big, small = (t.windows[s][2] for s in reversed(t.sizes))
        table.add(f"{type_}: peak memory {big:,} / {small:,} rows", ratio, "x",
                  f"<= {exports.MEMORY_TARGET}: {verdict(ok)}; seed's way "
                  f"{t.memory_ratio(type_, t.naive):.2f}x")  # fmt: skip
        verdicts.append(f"{type_} memory {big:,}/{small:,} rows {ratio:.2f}x ({verdict(ok)})")
    return "exports: " + "; ".join(verdicts)


def add_retention_rows(table: Table, target, args, step: str) -> str:
    print(f"{step} retention: the older half of {args.retention_rows:,} EverReach app_events, "
          f"batched (raw_retention) against one delete statement, in database "
          f"{target.retention_database}", flush=True)  # fmt: skip
    t = retention.bench_retention(
        args.retention_rows, target.warehouse_url, target.retention_database
    )
    table.section("Raw retention (raw.everreach__app_events, 90-day window)")
    rate = t.deleted / t.seconds
    table.add(f"raw_retention: {t.deleted:,} of {t.rows:,} rows", t.seconds, "s",
              f"{rate:,.0f} rows/s; {t.batches} transactions of <= {t.batch_limit:,} "
              f"rows, horizon {t.horizon}")  # fmt: skip
    table.add(f"  seed's way (one delete), {t.naive_deleted:,} rows", t.naive_seconds, "s",
              f"one transaction holding every deleted row's lock; ratio ours / seed "
              f"{t.seconds / t.naive_seconds:.2f}x")  # fmt: skip
    return f"retention: {rate:,.0f} rows/s, {t.seconds / t.naive_seconds:.2f}x one statement"


def print_header(target, r, args) -> None:
    with target.connect() as conn:
        about = machine.describe(conn, r)
    source = "from WAREHOUSE_URL" if target.user_url else "embedded server"
    if target.smoke:
        source = "fresh smoke database, " + ("WAREHOUSE_URL's server" if target.user_url
                                             else "embedded server")  # fmt: skip
    where = [
        ("warehouse", f"{target.warehouse_url} ({source})"),
        ("redis keys", f"{target.keys.prefix}* and {target.counter_prefix}*"),
        ("repeat", f"best of {args.repeat}"),
    ]
    if target.smoke:
        where.append(("size", "SMOKE: tiny data, a check that every section runs; the "
                              "figures and verdicts say nothing about speed"))  # fmt: skip
    name = "python -m bench.run --smoke" if target.smoke else "make bench"
    print(f"{name}  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", flush=True)
    print(header(about, where), flush=True)


def sections(target, r, args) -> list[Section]:
    """The sections this run does, in order, with what each needs of the ones before."""
    only_one = args.only is not None  # `--only X`: none of the first seven sections
    end = gift_window_end()
    got: dict = {}  # what the gift sections hand on

    def gift_sync(table: Table) -> None:
        got["sync_s"], result = measure_sync(target, r, args, end)
        add_sync_rows(table, args.gifts, got["sync_s"], result)

    def naive_loop(table: Table) -> None:
        got["naive"] = measure_naive(target, r, args, end)
        add_naive_rows(table, args.gifts, got["sync_s"], got["naive"])

    def gift_floors(table: Table) -> None:
        stages = measure_floors(target, r, args, got["naive"])
        add_floor_rows(table, args.gifts, got["sync_s"], got["naive"].total_ids, stages)

    out = []
    if not only_one:
        out += [
            Section("gift sync", sync_title(args.gifts), gift_sync, step="[1/10]"),
            Section(
                "naive loop",
                "Naive loop (seed 000) on the same dirty set",
                naive_loop,
                needs=("gift sync",),
                step="[2/10]",
            ),  # fmt: skip
            Section(
                "floors",
                "Floors and the sync's other stages",
                gift_floors,
                needs=("gift sync", "naive loop"),
                step="[3/10]",
            ),  # fmt: skip
        ]
    if not args.skip_dbt and not only_one:
        out.append(Section("gift marts", f"Gift marts over {args.mart_gifts:,} gifts",
                           lambda t: add_mart_rows(t, target, args), step="[4/10]"))  # fmt: skip
    if not args.skip_el and not only_one:
        out.append(Section("extract-load", f"Extract-load: {args.el_rows:,} events of one day",
                           lambda t: add_extract_load_rows(t, target, args),
                           step="[5/10]"))  # fmt: skip
    if not args.skip_mysql_el and args.only in (None, "mysql-el"):
        out.append(
            Section(
                "mysql extract-load",
                mysql_el_title(args.mysql_el_rows),
                lambda t: add_mysql_extract_load_rows(t, target, args, "[6/10]"),
                step="[6/10]",
            )
        )
    if not args.skip_events and not only_one:
        out += [
            Section(
                "event day",
                f"Event marts: partition {events.DAY}, {args.event_day_rows:,} events per app",
                lambda t: add_event_day_rows(t, target, args, "[7/10]"),
                step="[7/10]",
            ),  # fmt: skip
            Section(
                "event history",
                f"Event marts: partition {events.DAY} of "
                f"{args.history_day_rows:,} events per app, with history",
                lambda t: add_history_rows(t, target, args, "[7/10]"),
                needs=("event day",),
                step="[7/10]",
            ),  # fmt: skip
        ]
    if not args.skip_tokens and args.only in (None, "tokens"):
        out.append(Section("tokens", f"Token economy: {args.ledger_rows:,} ledger rows",
                           lambda t: add_token_rows(t, target, args, "[8/10]"),
                           step="[8/10]"))  # fmt: skip
    if not args.skip_exports and args.only in (None, "exports"):
        out.append(Section("exports", f"Exports of dataset {exports.DATASET}",
                           lambda t: add_export_rows(t, target, args, "[9/10]"),
                           step="[9/10]"))  # fmt: skip
    if not args.skip_retention and args.only in (None, "retention"):
        out.append(Section("retention", "Raw retention (raw.everreach__app_events)",
                           lambda t: add_retention_rows(t, target, args, "[10/10]"),
                           step="[10/10]"))  # fmt: skip
    return out


def report(table: Table, outcome: Outcome) -> None:
    if table.rows:
        print(table.render())
    for summary in outcome.summaries:
        print(f"\n{summary}")
    if outcome.failed:
        print("\nnot measured:")
        for name in outcome.failed:
            print(f"  {name}: {outcome.status[name]}: {outcome.errors[name]}")


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    target = environment.resolve(smoke=args.smoke)
    if target.smoke:  # dbt's target and logs, the plan files: apart from `make bench`'s
        dbt_runs.use_workdir(analytics_home() / "bench" / "smoke" / target.database / "dbt")
    names = {s.name for s in sections(target, None, args)}  # what the flags leave to run
    if names & {"gift sync", "gift marts", "extract-load", "mysql extract-load", "event day"}:
        environment.refuse_foreign_data(target, args.force)
    if names & {"tokens", "exports"}:
        token_data.refuse_foreign_data(target, args.force)
    r = target.redis()
    print_header(target, r, args)
    table = Table()
    sync.clear_redis(target, r)  # leftovers of an interrupted run
    try:
        outcome = run_sections(sections(target, r, args), table)
    finally:
        removed = sync.clear_redis(target, r)
        progress(f"removed {removed:,} bench keys from Redis")
    report(table, outcome)
    elapsed = time.perf_counter() - started
    print(f"\n(total bench time {elapsed:.0f}s; load average at the end {machine.load()})")
    if outcome.failed:
        print(f"bench: {len(outcome.failed)} section(s) not measured: "
              + ", ".join(outcome.failed))  # fmt: skip
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
