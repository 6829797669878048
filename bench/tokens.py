"""Issue 4: the token economy at 5M ledger rows. A year of wallet activity up to now
(bench/token_data.py) landed by the production extract-load, then: one dbt run of the
wallet daily marts over all 365 closed days (one window, as a Dagster single-run
backfill), one day's partition (yesterday), the live view's query for today (what a
dashboard asks; p50/p95 over `runs`) against the seed's `v_token_analytics_realtime`,
and the top users of a 365-day range (docs/WALLET.md's query, over the users' running
totals) against the same from the staging ledger. Query plans of every measured query go
to a file (EXPLAIN ANALYZE, BUFFERS) and the bench prints what they show."""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

from bench import machine
from bench import token_data as data
from bench.dbt_runs import workdir
from bench.environment import Target
from bench.events import DbtRun, best, dbt
from bench.timing import progress
from dagster_project.settings import DBT_PROJECT_DIR, REPO_ROOT

WALLET_DOC = REPO_ROOT / "docs" / "WALLET.md"

LIVE_TARGET_MS = 100.0  # p95
TOP_TARGET_MS = 200.0  # p95
WALLET_DAILY = ["tag:daily,path:models/marts/wallet"]
WALLET_STAGING = ["path:models/staging/wallet"]
WALLET_REBUILT = ["path:models/marts/wallet", "path:models/intermediate/wallet"]
STARTUP_VIEW = "stg_wallet__users"
NEEDED = ("fct_token_daily", "fct_token_user_daily", "fct_token_user_running_totals",
          "token_daily_live", "dim_wallet_users")  # fmt: skip
BASELINE_RUNS = 5  # the baselines scan the whole ledger each time: fewer runs
WARMUP = 3

SEED_VIEW = """
create schema if not exists bench_wallet;
create or replace view bench_wallet.v_token_analytics_realtime as
-- seed 002, migrations/005_analytics.sql (DATE() of a UTC timestamp), over the landed ledger
select
    (occurred_at at time zone 'utc')::date as date,
    sum(case when direction = 'credit' then amount else 0 end) as credited,
    sum(case when direction = 'debit' then amount else 0 end) as debited,
    sum(case when direction = 'credit' then amount else -amount end) as net,
    count(distinct user_id) as active_users
from raw.wallet__wallet_ledger
group by (occurred_at at time zone 'utc')::date
"""

LIVE_SQL = "select * from {live} where date = current_date"
SEED_LIVE_SQL = "select * from bench_wallet.v_token_analytics_realtime where date = current_date"
# what the live row must equal: today's usable entries, straight from staging
LEDGER_TODAY_SQL = """
select
    coalesce(sum(amount) filter (where direction = 'credit'), 0),
    coalesce(sum(amount) filter (where direction = 'debit'), 0),
    count(distinct user_id), count(*)
from {ledger}
where occurred_at >= current_date::timestamp at time zone 'utc'
"""

METRICS = ("spend", "earn", "net")
# the top-users query docs/WALLET.md publishes (and the tests run), as a dashboard sends it
TOP_DOC_SQL = dict(
    re.findall(r"<!-- query: (\w+) -->\n```sql\n(.*?)```", WALLET_DOC.read_text(), re.S)
)["top_users"]
TOP_SQL = "select user_id, username, {metric} from ({doc}) as top order by {metric} desc, user_id"
LEDGER_EXPR = {
    "spend": "sum(amount) filter (where direction = 'debit')",
    "earn": "sum(amount) filter (where direction = 'credit')",
    "net": "sum(signed_amount)",
}
TOP_BASE_SQL = """
select top.user_id, users.username, top.total
from (
    select user_id, coalesce({expr}, 0) as total
    from {ledger}
    where occurred_at >= %s::timestamp at time zone 'utc'
        and occurred_at < %s::timestamp at time zone 'utc'
    group by user_id
    order by total desc, user_id
    limit 20
) as top
join {users} as users on users.user_id = top.user_id
order by top.total desc, top.user_id
"""


@dataclass
class Latency:
    ms: list[float]

    def quantile(self, q: float) -> float:
        """Nearest rank: the smallest run at or above q of them."""
        ordered = sorted(self.ms)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    @property
    def p50(self) -> float:
        return self.quantile(0.50)

    @property
    def p95(self) -> float:
        return self.quantile(0.95)


@dataclass
class Plan:
    text: str

    @property
    def execution_ms(self) -> float:
        found = re.search(r"Execution Time: ([\d.]+) ms", self.text)
        return float(found.group(1)) if found else float("nan")

    def summary(self) -> str:
        """The plan's scans, aggregates, workers and JIT, in a line."""
        keep = []
        for line in self.text.splitlines():
            s = line.strip().lstrip("-> ").strip()
            m = re.match(
                r"((?:Parallel )?(?:Seq|Index Only|Index|Bitmap Heap|Bitmap Index) Scan"
                r"(?: using \S+)? on \S+|(?:Finalize |Partial )?(?:Hash|Group|Mixed)?Aggregate"
                r"|Gather(?: Merge)?)[^(]*\(cost=[^)]*\) \(actual time=[\d.]+\.\.([\d.]+) "
                r"rows=([\d.]+) loops=(\d+)",
                s,
            )
            if m:
                keep.append(f"{m.group(1)} {float(m.group(2)):.0f}ms rows={m.group(3)}"
                            f"{'x' + m.group(4) if m.group(4) != '1' else ''}")  # fmt: skip
            elif s.startswith(("Workers Launched", "Buffers: shared")):
                if s.startswith("Buffers") and any(k.startswith("Buffers") for k in keep):
                    continue
                keep.append(s)
            elif s.startswith("Timing:") or s.startswith("Functions:"):
                keep.append("JIT " + s)
        return "; ".join(keep)


@dataclass
class TokenTimes:
    generated: data.Generated
    landed: data.Landed | None  # None: the data of an earlier run was reused
    missing: list[str] = field(default_factory=list)  # marts not in the project yet
    daily_marts: list[str] = field(default_factory=list)
    history: DbtRun | None = None  # all closed days in one window
    rebuilt: DbtRun | None = None  # whole-rebuild wallet marts and the live view
    day: DbtRun | None = None  # yesterday's partition, best of repeat
    startup: DbtRun | None = None
    mart_rows: dict[str, int] = field(default_factory=dict)
    live: Latency | None = None
    live_base: Latency | None = None
    live_row: dict | None = None
    live_same: bool | None = None  # the live row equals today's usable ledger entries
    top: dict[str, Latency] = field(default_factory=dict)
    top_base: dict[str, Latency] = field(default_factory=dict)
    top_same: dict[str, bool] = field(default_factory=dict)
    plans: dict[str, Plan] = field(default_factory=dict)
    plans_path: Path | None = None
    range_: tuple[date, date] | None = None
    runs: int = 0
    load: str = ""  # load average after the queries


def window(first: date, end: date) -> list[str]:
    return ["--vars", json.dumps({"min_date": first.isoformat(), "max_date": end.isoformat()})]


def _relations() -> dict[str, str]:
    """model -> schema.alias, from the manifest of the bench's last dbt run."""
    manifest = json.loads((workdir() / "target" / "manifest.json").read_text())
    return {
        n["name"]: f"{n['schema']}.{n['alias']}"
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model"
    }


def _daily_marts() -> list[str]:
    manifest = json.loads((workdir() / "target" / "manifest.json").read_text())
    return sorted(
        n["name"]
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model"
        and "daily" in n["tags"]
        and n["original_file_path"].startswith("models/marts/wallet/")
    )


def missing_models() -> list[str]:
    found = {p.stem for p in (DBT_PROJECT_DIR / "models").rglob("*.sql")}
    return [m for m in NEEDED if m not in found]


def _measure(conn: psycopg.Connection, query: str, params, runs: int) -> tuple[Latency, list]:
    rows = []
    for _ in range(WARMUP):
        rows = conn.execute(query, params).fetchall()
    ms = []
    for _ in range(runs):
        start = time.perf_counter()
        rows = conn.execute(query, params).fetchall()
        ms.append((time.perf_counter() - start) * 1000)
    return Latency(ms), rows


def _explain(conn: psycopg.Connection, query: str, params) -> Plan:
    rows = conn.execute("explain (analyze, buffers, verbose off) " + query, params).fetchall()
    return Plan("\n".join(r[0] for r in rows))


def prepare(target: Target, rows: int, reuse: bool) -> tuple[data.Generated, data.Landed | None]:
    found = data.existing(target, rows) if reuse else None
    if found and data.raw_matches(target, found):
        progress(f"reusing the token data of an earlier run: {found.describe()}")
        return found, None
    progress(f"generating {rows:,} ledger rows in {data.SCHEMA} of the wallet app database "
             "(untimed) ...")  # fmt: skip
    generated = data.generate(target, rows)
    progress(generated.describe())
    data.reset_raw(target)
    progress("extract-load of the five wallet tables into raw ...")
    landed = data.land(target)
    return generated, landed


def _truncate(target: Target, relations: dict[str, str], models: list[str]) -> None:
    with target.connect(autocommit=True) as conn:
        for model in models:
            relation = relations.get(model)
            if relation and conn.execute("select to_regclass(%s)", [relation]).fetchone()[0]:
                conn.execute(f"truncate {relation}")


def bench_tokens(target: Target, rows: int, repeat: int, runs: int, reuse: bool) -> TokenTimes:
    generated, landed = prepare(target, rows, reuse)
    t = TokenTimes(generated, landed, missing=missing_models(), runs=runs)
    today = datetime.now(UTC).date()
    if today != generated.today:
        raise SystemExit("bench: the UTC day changed while the token data was made; run again")
    first, yesterday = today - timedelta(days=data.DAYS), today - timedelta(days=1)
    t.range_ = (first, today)
    with target.connect(autocommit=True) as conn:
        conn.execute(SEED_VIEW)
    if t.missing:
        progress("wallet marts not in the project yet (" + ", ".join(t.missing) + "): "
                 "only the seed's live baseline is measured")  # fmt: skip
        with target.connect(autocommit=True) as conn:
            t.live_base, _ = _measure(conn, SEED_LIVE_SQL, None, BASELINE_RUNS)
            t.plans["seed live view (today)"] = _explain(conn, SEED_LIVE_SQL, None)
        _write_plans(t)
        return t

    progress("dbt run of the wallet staging views (untimed) ...")
    dbt("run", WALLET_STAGING, *window(first, today))
    relations = _relations()
    t.daily_marts = _daily_marts()
    _truncate(target, relations, t.daily_marts)
    progress(f"dbt run of the wallet daily marts over {first} .. {yesterday} "
             f"({data.DAYS} closed days, one window) ...")  # fmt: skip
    t.history = dbt("run", WALLET_DAILY, *window(first, today))
    progress(f"  {t.history.wall_s:.1f}s: " + models_note(t.history))
    progress("dbt run of the whole-rebuild wallet marts and the live view ...")
    t.rebuilt = dbt("run", WALLET_REBUILT, "--exclude", "tag:daily", *window(yesterday, today))
    progress(f"  {t.rebuilt.wall_s:.1f}s: " + models_note(t.rebuilt))
    day_runs = []
    for i in range(max(1, repeat)):
        day_runs.append(dbt("run", WALLET_DAILY, *window(yesterday, today)))
        progress(f"repetition {i + 1}/{repeat}: day {yesterday} {day_runs[-1].wall_s:.1f}s")
    t.day = best(day_runs)
    t.startup = best([dbt("run", [STARTUP_VIEW], *window(yesterday, today))
                      for _ in range(max(1, repeat))])  # fmt: skip
    relations = _relations()
    _queries(target, t, relations, first, today)
    _write_plans(t)
    return t


def models_note(run: DbtRun) -> str:
    return ", ".join(f"{m} {s:.1f}s" for m, s in sorted(run.models.items(), key=lambda x: -x[1]))


def _queries(target: Target, t: TokenTimes, rel: dict[str, str], first: date, end: date) -> None:
    live_sql = LIVE_SQL.format(live=rel["token_daily_live"])
    ledger = rel["stg_wallet__wallet_ledger"]
    with target.connect(autocommit=True) as conn:
        for model in ("fct_token_daily", "fct_token_user_daily", "fct_token_feature_daily",
                      "fct_token_user_running_totals", "dim_wallet_users"):  # fmt: skip
            if model in rel:
                conn.execute(f"analyze {rel[model]}")  # just written: autovacuum's state
                count = conn.execute(f"select count(*) from {rel[model]}").fetchone()
                t.mart_rows[model] = count[0]
        progress(f"live query, {t.runs} runs: {live_sql}")
        t.live, live_rows = _measure(conn, live_sql, None, t.runs)
        t.plans["live view (today)"] = _explain(conn, live_sql, None)
        cur = conn.execute(live_sql)
        names = [d.name for d in cur.description]
        live_rows = cur.fetchall()
        if len(live_rows) == 1:
            t.live_row = dict(zip(names, live_rows[0], strict=True))
            expect = conn.execute(LEDGER_TODAY_SQL.format(ledger=ledger)).fetchone()
            got = tuple(t.live_row.get(k) for k in ("credited", "debited", "active_users",
                                                      "entries"))  # fmt: skip
            t.live_same = got == tuple(expect) and t.live_row.get("is_live", True)
        else:
            t.live_same = False
        progress(f"seed's v_token_analytics_realtime for today, {BASELINE_RUNS} runs ...")
        t.live_base, _ = _measure(conn, SEED_LIVE_SQL, None, BASELINE_RUNS)
        t.plans["seed live view (today)"] = _explain(conn, SEED_LIVE_SQL, None)
        for metric in METRICS:
            params = {"from": first, "to": end - timedelta(days=1), "metric": metric,
                      "limit": 20}  # fmt: skip
            top_sql = TOP_SQL.format(metric=metric, doc=TOP_DOC_SQL)
            base_sql = TOP_BASE_SQL.format(expr=LEDGER_EXPR[metric], ledger=ledger,
                                           users=rel["dim_wallet_users"])  # fmt: skip
            progress(f"top users by {metric} over {first} .. {end - timedelta(days=1)}: "
                     f"{t.runs} runs, {BASELINE_RUNS} of the staging baseline ...")  # fmt: skip
            t.top[metric], top_rows = _measure(conn, top_sql, params, t.runs)
            t.plans[f"top users by {metric}"] = _explain(conn, top_sql, params)
            base_params = [first, end]
            t.top_base[metric], base_rows = _measure(conn, base_sql, base_params, BASELINE_RUNS)
            t.plans[f"staging ledger: top users by {metric}"] = _explain(
                conn, base_sql, base_params
            )
            t.top_same[metric] = [tuple(r) for r in top_rows] == [tuple(r) for r in base_rows]
    t.load = machine.load()


def _write_plans(t: TokenTimes) -> None:
    path = workdir().parent / "token_plans.txt"
    parts = [f"-- {name}\n{plan.text}\n" for name, plan in t.plans.items()]
    path.write_text(
        f"-- bench tokens {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n" + "\n".join(parts)
    )
    t.plans_path = path
