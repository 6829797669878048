"""dbt build time of the gift marts against hand-written SQL and dbt's fixed start-up."""

from __future__ import annotations

from dataclasses import dataclass

from bench import dbt_runs, hand_sql, mart_data
from bench.environment import Target
from bench.timing import progress, timed


@dataclass
class MartTimes:
    dbt_s: float  # dbt run of the gift marts: the models alone (wall, incl. start-up)
    build_s: float  # dbt build: the same models and every test on them and the source
    dbt_elapsed_s: float  # the same run as dbt reports it (after start-up and parsing)
    hand_s: float  # the same two tables as hand-written SQL in one session
    startup_s: float  # dbt run of one view: start-up, parse, connection, hooks
    mismatches: dict[str, int]
    embed_rows: int

    @property
    def budget_s(self) -> float:
        return 2 * self.hand_s + self.startup_s

    @property
    def within_budget(self) -> bool:
        return self.dbt_s <= self.budget_s


def prepare(target: Target, gifts: int) -> None:
    """Untimed: fill raw with `gifts` rows, then VACUUM ANALYZE so neither contender pays
    for hint bits or statistics the other one set."""
    with target.connect() as conn:
        seconds, _ = timed(lambda: mart_data.fill(conn, gifts))
        progress(
            f"filled raw.gift_analytics in {seconds:.1f}s (untimed): {mart_data.describe(conn)}"
        )
    with target.connect(autocommit=True) as conn:
        conn.execute("vacuum analyze raw.gift_analytics")


def bench_marts(target: Target, gifts: int, repeat: int) -> MartTimes:
    prepare(target, gifts)
    progress("dbt warm-up run (untimed: first parse into the bench target path) ...")
    dbt_runs.run(dbt_runs.STARTUP)
    startups, dbts, builds, elapsed, hands = [], [], [], [], []
    for i in range(max(1, repeat)):
        progress(f"repetition {i + 1}/{repeat}: dbt start-up, dbt run, dbt build, hand SQL ...")
        startups.append(dbt_runs.run(dbt_runs.STARTUP)[0])
        wall, inner = dbt_runs.run(dbt_runs.MARTS)
        builds.append(dbt_runs.run(dbt_runs.MARTS, command="build")[0])
        dbts.append(wall)
        elapsed.append(inner)
        hand_sql.drop(target.warehouse_url)
        hands.append(timed(lambda: hand_sql.build(target.warehouse_url))[0])
    with target.connect() as conn:
        embed = conn.execute("select count(*) from embed.gift_funnel_public").fetchone()[0]
    return MartTimes(
        dbt_s=min(dbts),
        build_s=min(builds),
        dbt_elapsed_s=min(elapsed),
        hand_s=min(hands),
        startup_s=min(startups),
        mismatches=hand_sql.mismatches(target.warehouse_url),
        embed_rows=embed,
    )
