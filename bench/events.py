"""Issue 3, bench points 2 and 3: a 1M-event day through every daily event mart (dbt run
and build of the day's partition, the whole-rebuild event marts, hand-written SQL of the
same marts), and the cost of a day's partition with 10 and with 60 days of history."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from bench import event_data as data
from bench import event_hand_sql as hand
from bench.dbt_runs import DBT, failure, workdir
from bench.environment import Target
from bench.timing import progress, timed
from dagster_project.settings import DBT_PROJECT_DIR, REPO_ROOT

DAY = date(2026, 3, 31)  # a fixed past day: the simulators give the same rows every run
STARTUP_VIEWS = {"yesgoddess": "stg_yesgoddess__attributions", "mashups": "stg_mashups__mashups",
                 "everreach": "stg_everreach__prompts"}  # fmt: skip
BUILDABLE = ["--indirect-selection", "buildable"]  # as Dagster's split dbt steps


def window(day: date) -> list[str]:
    return ["--vars", json.dumps({"min_date": day.isoformat(),
                                  "max_date": (day + timedelta(days=1)).isoformat()})]  # fmt: skip


@dataclass
class DbtRun:
    wall_s: float
    elapsed_s: float  # dbt's own elapsed_time (after start-up and parsing)
    models: dict[str, float]  # execution_time per model
    failed: list[str] = field(default_factory=list)  # models cancelled (with timeout_s)


def dbt(command: str, select: list[str], *extra: str, timeout_s: int = 0) -> DbtRun:
    """`dbt <command> --select …`; with `timeout_s`, every statement dbt sends is cancelled
    after that long (PGOPTIONS statement_timeout) and a failed model is not fatal: its
    name is in `DbtRun.failed`."""
    work = workdir()
    env = dict(os.environ)
    if timeout_s:
        env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} -c statement_timeout={timeout_s}s"
    cmd = [
        DBT, command, "--select", *select, *extra,
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
    ]  # fmt: skip
    results_path = work / "target" / "run_results.json"
    results_path.unlink(missing_ok=True)  # what is read below is this run's
    seconds, proc = timed(
        lambda: subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    )
    if proc.returncode != 0 and timeout_s and results_path.exists():
        failed = [
            r["unique_id"].split(".")[-1]
            for r in json.loads(results_path.read_text()).get("results", [])
            if r["status"] in ("error", "fail") and r["unique_id"].startswith("model.")
        ]
        if failed:
            return DbtRun(seconds, 0.0, {}, failed)
    if proc.returncode != 0:
        raise failure(command, select, proc, results_path)
    results = json.loads(results_path.read_text())
    models = {
        r["unique_id"].split(".")[-1]: float(r.get("execution_time") or 0.0)
        for r in results.get("results", [])
        if r["unique_id"].startswith("model.")
    }
    return DbtRun(seconds, float(results.get("elapsed_time") or 0.0), models)


def best(runs: list[DbtRun]) -> DbtRun:
    return min(runs, key=lambda r: r.wall_s)


@dataclass
class Project:
    """What the manifest says about the event marts."""

    daily: dict[str, str]  # daily model -> relation (schema.name)
    rebuilt: list[str]  # whole-rebuild marts downstream of the benchmarked event sources
    systems_of: dict[str, set[str]]  # model -> event systems among its sources
    compiled: dict[str, Path]  # daily model -> its compiled SQL (after a run)


def read_project(systems: list[str]) -> Project:
    target = workdir() / "target"
    manifest = json.loads((target / "manifest.json").read_text())
    nodes, parents = manifest["nodes"], manifest["parent_map"]

    def sources_of(uid: str, seen: set) -> set[str]:
        out = set()
        for parent in parents.get(uid, []):
            if parent in seen:
                continue
            seen.add(parent)
            if parent.startswith("source."):
                out.add(parent.split(".")[2])
            elif parent.startswith("model."):
                out |= sources_of(parent, seen)
        return out

    daily, rebuilt, systems_of, compiled = {}, [], {}, {}
    for uid, node in nodes.items():
        if node["resource_type"] != "model":
            continue
        name = node["name"]
        found = sources_of(uid, set()) & set(data.CANDIDATES)
        systems_of[name] = found
        if "daily" in node["tags"] and "wallet" not in node["fqn"]:  # bench/tokens.py
            daily[name] = f"{node['schema']}.{node['alias']}"
            compiled[name] = target / "compiled" / node["package_name"] / node["original_file_path"]
        elif (
            "marts" in node["fqn"]
            and found & set(systems)
            and node["config"]["materialized"] in ("table", "incremental")
        ):
            rebuilt.append(name)
    return Project(daily, sorted(rebuilt), systems_of, compiled)


def truncate_daily(target: Target, project: Project) -> None:
    with target.connect(autocommit=True) as conn:
        for relation in project.daily.values():
            if conn.execute("select to_regclass(%s)", [relation]).fetchone()[0]:
                conn.execute(f"truncate {relation}")


def covered_marts(project: Project, systems: list[str], marts: list[str]) -> tuple[list, list]:
    """The hand baselines of `marts` (those whose apps are all benchmarked), and the
    marts without one."""
    covered = [
        m for m in hand.MARTS
        if m.model in marts and project.systems_of.get(m.model, set()) <= set(systems)
        and project.systems_of.get(m.model, set()) <= set(m.systems)
    ]  # fmt: skip
    names = {m.model for m in covered}
    return covered, sorted(set(marts) - names)


# The event apps' daily models (tag:daily also holds the wallet's, benched in bench/tokens.py).
EVENT_DAILY = [
    f"tag:daily,path:models/{folder}"
    for folder in ("intermediate", "marts/engagement", "marts/everreach", "marts/mashups",
                   "marts/yesgoddess")
]  # fmt: skip


def probe(project: Project, timeout_s: int, rebuilt: bool = False) -> list[str]:
    """Untimed first run of the day's partition (also dbt's warm-up with these vars) and,
    with `rebuilt`, of the whole-rebuild marts, each statement cancelled after `timeout_s`:
    the marts that cannot finish at this volume."""
    select = [*EVENT_DAILY, *(project.rebuilt if rebuilt else [])]
    run = dbt("run", select, *window(DAY), timeout_s=timeout_s)
    return sorted(run.failed)


def daily_selection(too_slow: list[str]) -> list[str]:
    return [*EVENT_DAILY, *(["--exclude", *too_slow] if too_slow else [])]


# --- point 2: one 1M-event day -------------------------------------------------------------


@dataclass
class DayTimes:
    systems: list[str]
    rows: int  # simulated events per system
    raw_rows: dict[str, int]  # raw event rows per system
    day_events: dict[str, int]  # usable, deduplicated events of the day per system
    timeout_s: int
    daily_marts: list[str]  # every daily mart of the project
    too_slow: list[str]  # marts cancelled by the statement timeout: not in the timed runs
    startup: DbtRun
    startup_reparse_s: float  # the same start-up when the vars change (a new partition)
    run: DbtRun  # dbt run --select tag:daily, the day's window
    build: DbtRun  # dbt build --select tag:daily (with tests)
    rebuilt: DbtRun | None  # dbt run of the whole-rebuild event marts
    rebuilt_models: list[str]
    covered_run: DbtRun  # dbt run of the marts with a hand baseline (= run if all are)
    hand_s: dict[str, float]  # best per mart (the marts dbt ran)
    hand_slow_s: dict[str, float]  # hand SQL of the marts dbt could not finish
    uncovered: list[str]
    compare: dict[str, tuple[int, int, int]]

    @property
    def hand_total_s(self) -> float:
        return sum(self.hand_s.values())

    @property
    def same(self) -> bool:
        return all(d == 0 and h == n for h, n, d in self.compare.values())


def _counts(target: Target, systems: list[str], day: date) -> tuple[dict, dict]:
    raw_rows, day_events = {}, {}
    lo, hi = day.isoformat(), (day + timedelta(days=1)).isoformat()
    with target.connect() as conn:
        for system in systems:
            event_spec = next(s for s in data.specs(system) if s.event_time)
            raw_rows[system] = conn.execute(
                sql.SQL("select count(*) from {}").format(
                    sql.Identifier("raw", event_spec.raw_table)
                )
            ).fetchone()[0]
            view = EVENT_VIEWS[system]
            day_events[system] = conn.execute(
                sql.SQL(
                    "select count(*) from staging.{} where occurred_at >= %s::timestamp "
                    "at time zone 'utc' and occurred_at < %s::timestamp at time zone 'utc'"
                ).format(sql.Identifier(view)),  # fmt: skip
                [lo, hi],
            ).fetchone()[0]
    return raw_rows, day_events


EVENT_VIEWS = {"yesgoddess": "stg_yesgoddess__events", "mashups": "stg_mashups__analytics_events",
               "everreach": "stg_everreach__app_events"}  # fmt: skip


def prep_selection(systems: list[str]) -> tuple[list[str], list[str]]:
    """Everything the daily marts read, and the systems' staging and quarantine, but no
    mart: seeds, staging views (and their tests), quarantine tables, the enrichment's
    staging (raw.user_agents, parsed by `land`). `@source:x` is every model downstream of
    the app's sources *and all their ancestors*, as Dagster's apps_daily job selects the
    sources' downstream plus its upstream; on an empty database nothing else is there.
    (`+tag:daily,path:…` would not do: in an intersection the `+` reaches only the
    ancestors inside the path.)"""
    select = [f"@source:{s}" for s in systems]
    return select, ["--exclude", "tag:daily+", "path:models/marts"]


def bench_event_day(
    target: Target, systems: list[str], rows: int, repeat: int, timeout_s: int = 60
) -> DayTimes:
    data.prepare_day(target, systems, DAY, rows)
    select, exclude = prep_selection(systems)
    progress("dbt build of seeds, staging and quarantine for these systems (untimed) ...")
    seconds, _ = timed(lambda: dbt("build", select, *exclude, *BUILDABLE))
    progress(f"built in {seconds:.1f}s")
    project = read_project(systems)
    truncate_daily(target, project)
    with target.connect(autocommit=True) as conn:
        conn.execute("analyze")
    raw_rows, day_events = _counts(target, systems, DAY)
    progress(f"probe run of the day's partition, statements cancelled after {timeout_s}s "
             "(untimed) ...")  # fmt: skip
    too_slow = probe(project, timeout_s, rebuilt=True)
    if too_slow:
        progress(f"did not finish in {timeout_s}s, left out of the timed runs: "
                 + ", ".join(too_slow))  # fmt: skip
    daily = daily_selection([m for m in too_slow if m in project.daily])
    marts = sorted(set(project.daily) - set(too_slow))
    rebuilt = [m for m in project.rebuilt if m not in too_slow]
    startup_view = STARTUP_VIEWS[systems[0]]
    reparse = dbt("run", [startup_view]).wall_s  # vars differ from the last run: full parse
    dbt("run", [startup_view], *window(DAY))  # and back to the window's vars
    covered, uncovered = covered_marts(project, systems, marts)
    slow_hand, _ = covered_marts(project, systems, [m for m in too_slow if m in project.daily])
    startups, runs, builds, rebuilds, covered_runs = [], [], [], [], []
    hands: dict[str, list[float]] = {}
    slow_hands: dict[str, list[float]] = {}
    for i in range(max(1, repeat)):
        progress(f"repetition {i + 1}/{repeat}: dbt start-up, run, build, whole-rebuild "
                 "marts, hand SQL ...")  # fmt: skip
        startups.append(dbt("run", [startup_view], *window(DAY)))
        runs.append(dbt("run", daily, *window(DAY)))
        builds.append(dbt("build", daily, *window(DAY), *BUILDABLE))
        if rebuilt:
            rebuilds.append(dbt("run", rebuilt, *window(DAY)))
        if uncovered:
            covered_runs.append(dbt("run", [m.model for m in covered], *window(DAY)))
        hand.reset(target.warehouse_url)
        for name, seconds in hand.build(target.warehouse_url, covered, DAY,
                                        project.systems_of).items():  # fmt: skip
            hands.setdefault(name, []).append(seconds)
        if slow_hand:
            for name, seconds in hand.build(target.warehouse_url, slow_hand, DAY,
                                            project.systems_of).items():  # fmt: skip
                slow_hands.setdefault(name, []).append(seconds)
        progress(f"dbt run {runs[-1].wall_s:.1f}s, build {builds[-1].wall_s:.1f}s, hand "
                 f"{sum(v[-1] for v in hands.values()):.1f}s")  # fmt: skip
    compare = hand.mismatches(target.warehouse_url, covered, project.daily, DAY)
    return DayTimes(
        systems=systems, rows=rows, raw_rows=raw_rows, day_events=day_events,
        timeout_s=timeout_s, daily_marts=sorted(project.daily), too_slow=too_slow,
        startup=best(startups), startup_reparse_s=reparse, run=best(runs), build=best(builds),
        rebuilt=best(rebuilds) if rebuilds else None, rebuilt_models=rebuilt,
        covered_run=best(covered_runs) if covered_runs else best(runs),
        hand_s={k: min(v) for k, v in hands.items()},
        hand_slow_s={k: min(v) for k, v in slow_hands.items() if k != "commit"},
        uncovered=uncovered, compare=compare,
    )  # fmt: skip


# --- point 3: flat cost with history -------------------------------------------------------


@dataclass
class HistoryTimes:
    rows: int
    depths: list[int]
    runs: dict[int, DbtRun] = field(default_factory=dict)  # days of history -> best run
    raw_rows: dict[int, dict[str, int]] = field(default_factory=dict)
    too_slow: list[str] = field(default_factory=list)
    index_scans: dict[str, list[str]] = field(default_factory=dict)  # mart -> raw scans
    explain_path: Path | None = None

    @property
    def ratio(self) -> float:
        first, last = self.depths[0], self.depths[-1]
        return self.runs[last].wall_s / self.runs[first].wall_s

    @property
    def pushdown(self) -> bool:
        """Every raw event table read by a daily mart is read through an index."""
        return all(
            not scan.startswith("Seq Scan") for scans in self.index_scans.values() for scan in scans
        )


def _replicate_marts(conn: psycopg.Connection, project: Project, first: int, last: int) -> None:
    """The marts get history too (the day's rows copied to the earlier days), so the
    partition's delete and the rolling windows meet tables of the realistic size."""
    for relation in project.daily.values():
        schema, name = relation.split(".")
        cols = [r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = %s "
            "and table_name = %s order by ordinal_position", [schema, name])]  # fmt: skip
        select = sql.SQL(", ").join(
            sql.SQL("date - n") if c == "date" else sql.Identifier("m", c) for c in cols
        )
        conn.execute(
            sql.SQL(
                "insert into {rel} ({cols}) select {select} from {rel} as m "
                "cross join generate_series({first}, {last}) as n where m.date = {day}"
            ).format(
                rel=sql.Identifier(schema, name),
                cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
                select=select,
                first=sql.Literal(first),
                last=sql.Literal(last),
                day=sql.Literal(DAY),
            )
        )


def _add_history(target, systems, project, bases, first: int, last: int) -> dict[str, int]:
    counts = {}
    with target.connect() as conn:
        for system in systems:
            for spec in data.specs(system):
                seconds, n = timed(
                    lambda s=spec: data.replicate(conn, s, bases[s.raw_table], first, last)
                )
                if n:
                    progress(f"{spec.raw_table}: +{n:,} rows (days -{first}..-{last}) "
                             f"in {seconds:.1f}s (untimed)")  # fmt: skip
        _replicate_marts(conn, project, first, last)
        conn.commit()
        for system in systems:
            spec = next(s for s in data.specs(system) if s.event_time)
            counts[system] = conn.execute(
                sql.SQL("select count(*) from {}").format(sql.Identifier("raw", spec.raw_table))
            ).fetchone()[0]
    with target.connect(autocommit=True) as conn:
        seconds, _ = timed(lambda: [
            conn.execute(sql.SQL("analyze {}").format(sql.Identifier("raw", s.raw_table)))
            for system in systems for s in data.specs(system)
        ])  # fmt: skip
        for relation in project.daily.values():
            conn.execute(f"analyze {relation}")
    progress(f"analyze of raw in {seconds:.1f}s (untimed)")
    return counts


def _plan_scans(plan: dict, raw_tables: set[str]) -> list[str]:
    found = []
    if plan.get("Relation Name") in raw_tables:
        index = plan.get("Index Name")
        found.append(f"{plan['Node Type']} on {plan['Relation Name']}"
                     + (f" using {index}" if index else ""))  # fmt: skip
    for child in plan.get("Plans", []):
        found.extend(_plan_scans(child, raw_tables))
    return found


def explain(target: Target, systems: list[str], project: Project) -> tuple[dict, Path]:
    """EXPLAIN each daily mart's compiled select (the window's SQL of the last run): which
    scans read the raw event tables. The plans are written to a file for inspection."""
    raw_tables = {s.raw_table for system in systems for s in data.specs(system) if s.event_time}
    scans, text = {}, []
    with target.connect() as conn:
        for model, path in sorted(project.compiled.items()):
            if not path.exists():
                continue
            query = path.read_text()
            plan = conn.execute(f"explain (format json) {query}").fetchone()[0][0]["Plan"]
            scans[model] = _plan_scans(plan, raw_tables)
            lines = conn.execute(f"explain {query}").fetchall()
            text.append(f"-- {model}\n" + "\n".join(r[0] for r in lines) + "\n")
            conn.rollback()
    out = workdir().parent / "events_history_explain.txt"
    out.write_text("\n".join(text))
    return scans, out


def bench_history(
    target: Target,
    systems: list[str],
    rows: int,
    repeat: int,
    depths=(10, 60),
    timeout_s: int = 60,
) -> HistoryTimes:
    result = HistoryTimes(rows, list(depths))
    data.prepare_day(target, systems, DAY, rows)
    project = read_project(systems)
    truncate_daily(target, project)
    progress("the day's partition once, so the marts hold its rows (untimed; statements "
             f"cancelled after {timeout_s}s) ...")  # fmt: skip
    result.too_slow = probe(project, timeout_s)
    if result.too_slow:
        progress("did not finish, left out: " + ", ".join(result.too_slow))
    daily = daily_selection(result.too_slow)
    with target.connect() as conn:
        bases = {
            spec.raw_table: data.history_bases(conn, spec)
            for system in systems
            for spec in data.specs(system)
        }
    done = 0
    for depth in depths:
        result.raw_rows[depth] = _add_history(target, systems, project, bases, done + 1, depth)
        done = depth
        runs = []
        for i in range(max(1, repeat)):
            runs.append(dbt("run", daily, *window(DAY)))
            progress(f"{depth} days of history, run {i + 1}/{repeat}: {runs[-1].wall_s:.2f}s")
        result.runs[depth] = best(runs)
        slowest = sorted(result.runs[depth].models.items(), key=lambda kv: -kv[1])[:4]
        progress("slowest models: " + ", ".join(f"{m} {s:.2f}s" for m, s in slowest))
    result.index_scans, result.explain_path = explain(target, systems, project)
    return result
