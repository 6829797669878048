"""The gift hash exactly as seed 000's "Redis Structure (Corrected)" writes it: ISO-8601
times with milliseconds, `""` for what has not happened yet, an `email_hash` already
`sha256:`-prefixed. Synced from a real Redis and built by real dbt, checked by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from dagster_project.ingest.redis_gifts import GiftKeys, sync_gifts

# seed 000, `HSET gift:analytics:{giftId}`, field for field ("0xCreator..." as written)
SEED_000_HASH = {
    "gift_id": "seed000",
    "token_id": "123",
    "campaign_id": "camp_xyz",
    "creator_address": "0xCreator...",
    "created_at": "2025-01-22T10:00:00.000Z",
    "viewed_at": "2025-01-22T11:30:00.000Z",
    "preclaim_at": "2025-01-22T12:00:00.000Z",
    "education_completed_at": "2025-01-22T12:15:00.000Z",
    "claimed_at": "",
    "claimer_address": "",
    "referrer_address": "",
    "value_usd": "10.50",
    "email_hash": "sha256:abc123...",
    "device_type": "mobile",
    "country": "US",
    "source": "twitter",
    "campaign": "holiday2025",
}


def test_the_seeds_hash_lands_with_unset_fields_as_null(conn, redis_client, gift_prefix, dbt_build):
    redis_client.hset(f"{gift_prefix}seed000", mapping=SEED_000_HASH)
    redis_client.sadd(f"{gift_prefix}dirty", "seed000")
    sync_gifts(conn, redis_client, keys=GiftKeys(gift_prefix))
    dbt_build()

    assert conn.execute("select count(*) from quarantine.gift_analytics").fetchone() == (0,)
    staged = conn.execute(
        "select campaign_id, claimed_at, claimer_address, referrer_address, value_usd, "
        "email_hash, device_type, country, utm_source, utm_campaign "
        "from staging.stg_cryptogift__gifts where gift_id = 'seed000'"
    ).fetchone()
    assert staged == (
        "camp_xyz", None, None, None, Decimal("10.50"), "sha256:abc123...", "mobile", "US",
        "twitter", "holiday2025",
    )  # fmt: skip
    funnel = conn.execute(
        "select date, total_created, total_viewed, total_preclaim, total_education, "
        "total_claimed, total_value_usd from marts.fct_gift_funnel_daily "
        "where campaign_id = 'camp_xyz'"
    ).fetchall()
    assert funnel == [(date(2025, 1, 22), 1, 1, 1, 1, 0, Decimal("10.50"))]
