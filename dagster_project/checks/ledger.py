"""Ledger checks: replay every user's balances and name the first entry that disagrees."""

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, multi_asset_check

from dagster_project.resources import WarehouseResource

LEDGER_REPLAY = ["intermediate", "int_ledger_entries_replayed"]

_TOTALS = """
    select
        count(*),
        count(*) filter (where not balance_agrees),
        count(*) filter (where overdraws),
        count(*) filter (where overdraws and reject_reason is null)
    from intermediate.int_ledger_entries_replayed
"""
_FIRST = """
    select entry_id, user_id, position, occurred_at, token_type, direction, amount,
           expected_regular, balance_after_regular, expected_promo, balance_after_promo
    from intermediate.int_ledger_entries_replayed
    where {condition}
    order by occurred_at, entry_id
    limit 1
"""


def _first_entry(conn, condition: str) -> dict:
    cur = conn.execute(_FIRST.format(condition=condition))
    row = cur.fetchone()
    if row is None:
        return {}
    return {f"first_{d.name}": str(v) for d, v in zip(cur.description, row, strict=True)}


def _describe(entry: dict) -> str:
    return (
        f"entry {entry['first_entry_id']} (user {entry['first_user_id']}, #"
        f"{entry['first_position']} in their ledger, {entry['first_occurred_at']}): "
        f"{entry['first_direction']} {entry['first_amount']} {entry['first_token_type']}, "
        f"recorded balances regular {entry['first_balance_after_regular']} / promo "
        f"{entry['first_balance_after_promo']}, replay expects "
        f"{entry['first_expected_regular']} / {entry['first_expected_promo']}"
    )


@multi_asset_check(
    specs=[
        AssetCheckSpec(
            "ledger_balances_agree",
            asset=LEDGER_REPLAY,
            description=(
                "Per user, in ledger order, every entry's recorded balance_after_regular/"
                "promo equals the running sum of the credits and debits before it (from 0); "
                "names the first entry that disagrees."
            ),
        ),
        AssetCheckSpec(
            "ledger_overdrafts_quarantined",
            asset=LEDGER_REPLAY,
            description=(
                "No debit larger than the balance it came from reaches the marts: every "
                "overdrawing entry is in quarantine.wallet__wallet_ledger with its reason."
            ),
        ),
    ],
)
def ledger_checks(warehouse: WarehouseResource):
    with warehouse.connect() as conn:
        entries, disagreeing, overdrafts, used = conn.execute(_TOTALS).fetchone()
        first_bad = _first_entry(conn, "not balance_agrees") if disagreeing else {}
        first_used = _first_entry(conn, "overdraws and reject_reason is null") if used else {}
    yield AssetCheckResult(
        check_name="ledger_balances_agree",
        passed=disagreeing == 0,
        severity=AssetCheckSeverity.ERROR,
        description=_describe(first_bad) if first_bad else f"{entries:,} entries agree",
        metadata={"entries_checked": entries, "entries_disagreeing": disagreeing, **first_bad},
    )
    yield AssetCheckResult(
        check_name="ledger_overdrafts_quarantined",
        passed=used == 0,
        severity=AssetCheckSeverity.ERROR,
        description=_describe(first_used) if first_used else f"{overdrafts:,} quarantined",
        metadata={"overdrafts": overdrafts, "overdrafts_not_quarantined": used, **first_used},
    )
