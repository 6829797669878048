"""Funnel sanity: no step counts more than the step before it, every rate is a percentage.

One declaration per funnel mart; the SQL that finds offending rows is generated from it,
so every rule is evaluated in one set-based pass over the mart. A broken rule means the
model's logic is wrong (not the data), so the checks are ERROR.
"""

from dataclasses import dataclass

from dagster import AssetCheckResult, AssetChecksDefinition, AssetCheckSeverity, asset_check
from psycopg import sql

from dagster_project.resources import WarehouseResource

SHOWN = 10  # offending rows listed in the metadata


@dataclass(frozen=True)
class Funnel:
    table: str  # marts.<table>
    grain: tuple[str, ...]  # the columns naming a row (its day, …)
    steps: tuple[str, ...]  # each step ≤ the one before it
    within: tuple[tuple[str, str], ...] = ()  # (column, bound): column ≤ bound
    rates: tuple[str, ...] = ()  # percentages: within [0, 100]

    @property
    def rules(self) -> list[tuple[str, str, str]]:
        """(column, operator, bound) for every rule, steps first."""
        pairs = list(zip(self.steps[1:], self.steps[:-1], strict=True)) + list(self.within)
        rules = [(column, "<=", bound) for column, bound in pairs]
        for rate in self.rates:
            rules += [(rate, ">=", "0"), (rate, "<=", "100")]
        return rules


FUNNELS = (
    Funnel(
        "fct_gift_funnel_daily",
        grain=("date", "campaign_id"),
        steps=("total_created", "total_viewed", "total_preclaim", "total_claimed"),
        within=(("total_education", "total_preclaim"),),
        rates=("conversion_rate",),
    ),
    Funnel(
        "fct_onboarding_funnel",
        grain=("cohort_date",),
        steps=(
            "signup_started_users",
            "signup_completed_users",
            "onboarding_completed_users",
            "aha_reached_users",
            "trial_started_users",
            "purchase_succeeded_users",
        ),
        rates=(
            "signup_completed_rate",
            "onboarding_completed_rate",
            "aha_reached_rate",
            "trial_started_rate",
            "purchase_succeeded_rate",
        ),
    ),
    Funnel(
        "fct_trial_conversion",
        grain=("cohort_date",),
        steps=("trials_started", "trials_converted"),
        within=(("trials_expired", "trials_started"), ("trials_open", "trials_started")),
        rates=("conversion_rate",),
    ),
)


def _rule_text(column: str, op: str, bound: str) -> str:
    return f"{column} {op} {bound}"


def _zero_if_null(column: str) -> sql.Composed:
    return sql.SQL("coalesce({}, 0)").format(sql.Identifier(column))


def offending_rows_query(funnel: Funnel) -> sql.Composed:
    """Each row with the list of rules it breaks (null counts as 0), offenders only."""
    broken = [
        sql.SQL("case when not (coalesce({c}, 0) {op} {b}) then {text} end").format(
            c=sql.Identifier(column),
            op=sql.SQL(op),
            b=sql.Literal(int(bound)) if bound.isdigit() else _zero_if_null(bound),
            text=sql.Literal(_rule_text(column, op, bound)),
        )
        for column, op, bound in funnel.rules
    ]
    columns = list(
        dict.fromkeys([*funnel.grain, *funnel.steps, *(c for c, _ in funnel.within), *funnel.rates])
    )
    return sql.SQL("""
        with checked as (
            select {columns}, array_remove(array[{broken}], null) as broken
            from {table}
        )
        select count(*) over () as offending, (select count(*) from {table}) as checked, *
        from checked
        where cardinality(broken) > 0
        order by {grain}
        limit {shown}
    """).format(
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        broken=sql.SQL(", ").join(broken),
        table=sql.Identifier("marts", funnel.table),
        grain=sql.SQL(", ").join(map(sql.Identifier, funnel.grain)),
        shown=sql.Literal(SHOWN),
    )


def funnel_result(conn, funnel: Funnel) -> AssetCheckResult:
    cur = conn.execute(offending_rows_query(funnel))
    names = [d.name for d in cur.description][2:]
    rows = cur.fetchall()
    if rows:
        offending, checked = rows[0][0], rows[0][1]
    else:
        offending = 0
        checked = conn.execute(
            sql.SQL("select count(*) from {}").format(sql.Identifier("marts", funnel.table))
        ).fetchone()[0]
    shown = [
        {n: (v if isinstance(v, int | list) or v is None else str(v)) for n, v in zip(
            names, row[2:], strict=True)}
        for row in rows
    ]  # fmt: skip
    grain = ", ".join(funnel.grain)
    description = (
        f"{offending:,} of {checked:,} rows of marts.{funnel.table} break a funnel rule; "
        f"first ({grain}): " + ", ".join(str(tuple(r[g] for g in funnel.grain)) for r in shown[:3])
        if offending
        else f"{checked:,} rows: every step ≤ the one before it, every rate in [0, 100]"
    )
    return AssetCheckResult(
        passed=offending == 0,
        severity=AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "rows_checked": checked,
            "rows_offending": offending,
            "rules": [_rule_text(*rule) for rule in funnel.rules],
            "offending_rows": shown,
            "offending_days": sorted({str(r[funnel.grain[0]]) for r in shown}),
        },
    )


def _funnel_check(funnel: Funnel) -> AssetChecksDefinition:
    @asset_check(
        name="funnel_steps_monotonic",
        asset=["marts", funnel.table],
        description=(
            f"Per row of marts.{funnel.table}: "
            + "; ".join(_rule_text(*r) for r in funnel.rules if r[2] not in ("0", "100"))
            + (f"; {', '.join(funnel.rates)} within [0, 100]" if funnel.rates else "")
            + ". Lists the offending rows."
        ),
    )
    def _check(warehouse: WarehouseResource) -> AssetCheckResult:
        with warehouse.connect() as conn:
            return funnel_result(conn, funnel)

    return _check


FUNNEL_CHECKS = [_funnel_check(f) for f in FUNNELS]
