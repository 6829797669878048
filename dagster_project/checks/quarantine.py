"""Quarantine rate per source: the share of arrivals rejected; warns above 1 %.

Two kinds of quarantine exist. The gift sync rejects gifts before they land
(quarantine.gift_analytics, written by Python; a gift leaves it when a valid version
lands), so its rate is over every gift: quarantined / (landed + quarantined). The app
sources land every row in raw and dbt's quarantine models pick the rejects out of them,
so their rate is over the latest load (the rows sharing the newest `_loaded_at`: one
extract-load is one transaction): rejected rows of that load / rows of that load. Their
check hangs on the dbt quarantine asset, so it runs after dbt has rebuilt the rejects.
"""

from dataclasses import dataclass

from dagster import AssetCheckResult, AssetChecksDefinition, AssetCheckSeverity, asset_check
from psycopg import sql

from dagster_project.ingest.extract_load import LOADED_AT
from dagster_project.resources import WarehouseResource

WARN_RATE = 0.01  # above 1 % of arrivals rejected, someone should look
TOP_REASONS = 5


@dataclass(frozen=True)
class QuarantinedSource:
    raw_table: str  # raw.<raw_table>; the quarantine table has the same name
    raw_key: str  # the raw primary key
    quarantine_key: str  # the quarantine column holding it

    @property
    def quarantine_asset(self) -> list[str]:
        return ["quarantine", self.raw_table]


# The dbt quarantine models (dbt_project/models/quarantine/) and the raw key each keeps.
DBT_QUARANTINED = (
    QuarantinedSource("yesgoddess__events", "ingest_seq", "ingest_seq"),
    QuarantinedSource("everreach__app_events", "ingest_seq", "ingest_seq"),
    QuarantinedSource("mashups__analytics_events", "ingest_seq", "ingest_seq"),
    QuarantinedSource("wallet__wallet_ledger", "id", "entry_id"),
    QuarantinedSource("cryptogift__tasks", "id", "task_id"),
    QuarantinedSource("cryptogift__referrals", "id", "referral_id"),
)

_LATEST_LOAD = """
    with latest as (
        select max({loaded_at}) as loaded_at from {raw}
    ),
    load as (
        select r.{raw_key}::text as key
        from {raw} as r, latest
        where r.{loaded_at} = latest.loaded_at
    ),
    rejected as (
        select q.reject_reason
        from {quarantine} as q
        where q.{quarantine_key}::text in (select key from load)
    )
    select
        (select loaded_at from latest),
        (select count(*) from load),
        (select count(*) from rejected),
        (select count(*) from {raw}),
        (select count(*) from {quarantine}),
        (select coalesce(jsonb_object_agg(reason, n), '{{}}'::jsonb) from (
            select left(reject_reason, 200) as reason, count(*) as n
            from rejected group by 1 order by 2 desc, 1 limit {top}
        ) as top)
"""

# A gift's reason starts `gift <id>: `; without it, equal reasons group together.
_GIFTS = """
    with reasons as (
        select left(regexp_replace(reject_reason, '^gift \\S+: ', ''), 200) as reason
        from quarantine.gift_analytics
    )
    select
        (select max(updated_at) from raw.gift_analytics),
        (select count(*) from raw.gift_analytics),
        (select count(*) from reasons),
        (select coalesce(jsonb_object_agg(reason, n), '{}'::jsonb) from (
            select reason, count(*) as n from reasons group by 1 order by 2 desc, 1 limit 5
        ) as top)
"""


def quarantine_result(
    *, source: str, arrived: int, rejected: int, scope: str, reasons: dict, **extra
) -> AssetCheckResult:
    rate = rejected / arrived if arrived else 0.0
    description = (
        f"{source}: {rejected:,} of {arrived:,} {scope} quarantined ({rate:.2%}; "
        f"warns above {WARN_RATE:.0%})"
    )
    return AssetCheckResult(
        passed=rate <= WARN_RATE,
        severity=AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "source": source,
            "scope": scope,
            "arrived": arrived,
            "quarantined": rejected,
            "quarantine_rate": round(rate, 6),
            "quarantine_rate_pct": round(rate * 100, 3),
            "threshold_pct": WARN_RATE * 100,
            "top_reasons": reasons,
            **extra,
        },
    )


def latest_load_rates(conn, source: QuarantinedSource) -> AssetCheckResult:
    query = sql.SQL(_LATEST_LOAD).format(
        loaded_at=sql.Identifier(LOADED_AT),
        raw=sql.Identifier("raw", source.raw_table),
        quarantine=sql.Identifier("quarantine", source.raw_table),
        raw_key=sql.Identifier(source.raw_key),
        quarantine_key=sql.Identifier(source.quarantine_key),
        top=sql.Literal(TOP_REASONS),
    )
    loaded_at, landed, rejected, landed_total, rejected_total, reasons = conn.execute(
        query
    ).fetchone()
    return quarantine_result(
        source=f"raw.{source.raw_table}",
        arrived=landed,
        rejected=rejected,
        scope="rows of the latest load",
        reasons=reasons,
        latest_load_at=str(loaded_at or ""),
        landed_all_loads=landed_total,
        quarantined_all_loads=rejected_total,
    )


def _dbt_quarantine_check(source: QuarantinedSource) -> AssetChecksDefinition:
    @asset_check(
        name="quarantine_rate",
        asset=source.quarantine_asset,
        description=(
            f"Share of raw.{source.raw_table}'s latest load that staging rejected into "
            f"quarantine.{source.raw_table}; warns above 1 %, with the top reasons."
        ),
    )
    def _check(warehouse: WarehouseResource) -> AssetCheckResult:
        with warehouse.connect() as conn:
            return latest_load_rates(conn, source)

    return _check


@asset_check(
    asset=["raw", "gift_analytics"],
    description=(
        "Share of gifts in quarantine.gift_analytics (rejected by the sync) of all gifts "
        "seen; warns above 1 %, with the top reasons."
    ),
)
def gift_quarantine_rate(warehouse: WarehouseResource) -> AssetCheckResult:
    with warehouse.connect() as conn:
        synced_at, landed, rejected, reasons = conn.execute(_GIFTS).fetchone()
    return quarantine_result(
        source="raw.gift_analytics",
        arrived=landed + rejected,
        rejected=rejected,
        scope="gifts",
        reasons=reasons,
        landed=landed,
        latest_landed_at=str(synced_at or ""),
    )


QUARANTINE_CHECKS = [gift_quarantine_rate, *(_dbt_quarantine_check(s) for s in DBT_QUARANTINED)]
