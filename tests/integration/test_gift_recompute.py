"""Simulated gifts through sync + dbt, checked against a pandas recomputation from Redis."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from dagster_project.ingest.redis_gifts import GiftKeys, sync_gifts
from dagster_project.simulate.gifts import simulate_gifts

TIMES = [
    "created_at",
    "viewed_at",
    "preclaim_at",
    "education_completed_at",
    "claimed_at",
    "expired_at",
    "returned_at",
]


def _gifts_from_redis(redis_client, prefix: str) -> pd.DataFrame:
    """Read the hashes straight from Redis: the recomputation shares no code with the sync."""
    keys = [k for k in redis_client.scan_iter(match=f"{prefix}gft_*", count=1000)]
    pipe = redis_client.pipeline(transaction=False)
    for key in keys:
        pipe.hgetall(key)
    rows = [{k.decode(): v.decode() for k, v in h.items()} for h in pipe.execute()]
    return pd.DataFrame(rows)


def _parse(df: pd.DataFrame) -> tuple[pd.DataFrame, set[str]]:
    bad = pd.Series(False, index=df.index)
    for col in TIMES:
        text = df[col].str.strip()
        df[col] = pd.to_datetime(
            text.where(text != ""), utc=True, errors="coerce", format="ISO8601"
        )
        bad |= (text != "") & df[col].isna()
    value = df["value_usd"].str.strip()
    df["value_usd"] = pd.to_numeric(value.where(value != ""), errors="coerce")
    bad |= (value != "") & df["value_usd"].isna()
    df["campaign_id"] = df["campaign_id"].where(df["campaign_id"] != "")
    return df[~bad].copy(), set(df.loc[bad, "gift_id"])


def _expected_funnel(gifts: pd.DataFrame) -> pd.DataFrame:
    g = gifts[gifts["created_at"].notna()].copy()
    g["date"] = g["created_at"].dt.date
    g["claim_min"] = (g["claimed_at"] - g["created_at"]).dt.total_seconds() / 60
    out = g.groupby(["date", "campaign_id"], dropna=False).agg(
        total_created=("gift_id", "size"),
        total_viewed=("viewed_at", "count"),
        total_preclaim=("preclaim_at", "count"),
        total_education=("education_completed_at", "count"),
        total_claimed=("claimed_at", "count"),
        avg_claim_time_min=("claim_min", "mean"),
        total_value_usd=("value_usd", "sum"),
    )
    out["conversion_rate"] = out["total_claimed"] * 100 / out["total_created"]
    return out.reset_index()


def _expected_activity(gifts: pd.DataFrame) -> pd.DataFrame:
    series = {}
    for col, name in [
        ("created_at", "gifts_created"),
        ("viewed_at", "gifts_viewed"),
        ("claimed_at", "gifts_claimed"),
    ]:
        series[name] = gifts[col].dropna().dt.date.value_counts()
    out = pd.DataFrame(series).fillna(0).astype(int)
    return out.rename_axis("date").reset_index()


@pytest.fixture
def simulated(conn, redis_client, gift_prefix, dbt_build):
    summary = simulate_gifts(
        redis_client,
        gifts=4000,
        days=20,
        seed=7,
        end=date(2026, 6, 30),
        prefix=gift_prefix,
        counter_prefix=f"{gift_prefix}campaign:",
    )
    gifts, invalid = _parse(_gifts_from_redis(redis_client, gift_prefix))
    result = sync_gifts(conn, redis_client, keys=GiftKeys(gift_prefix))
    dbt_build()
    return summary, gifts, invalid, result


def _read(conn, sql: str) -> pd.DataFrame:
    cur = conn.execute(sql)
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def test_quarantine_holds_exactly_the_malformed_gifts(simulated, conn):
    summary, gifts, invalid, result = simulated
    assert len(invalid) == summary.malformed > 0
    assert result.synced == len(gifts) == summary.gifts - summary.malformed
    landed = {r[0] for r in conn.execute("select gift_id from quarantine.gift_analytics")}
    assert landed == invalid


def test_funnel_equals_pandas(simulated, conn):
    _, gifts, _, _ = simulated
    expected = _expected_funnel(gifts).sort_values(["date", "campaign_id"], na_position="last")
    actual = _read(
        conn, "select * from marts.fct_gift_funnel_daily order by date, campaign_id nulls last"
    )
    assert len(actual) == len(expected) > 20
    for col in [
        "total_created",
        "total_viewed",
        "total_preclaim",
        "total_education",
        "total_claimed",
    ]:
        assert actual[col].tolist() == expected[col].tolist(), col
    for col in ["conversion_rate", "avg_claim_time_min", "total_value_usd"]:
        a = actual[col].astype(float).to_numpy()
        e = expected[col].astype(float).to_numpy()
        assert a == pytest.approx(e, abs=0.006, nan_ok=True), col


def test_activity_equals_pandas(simulated, conn):
    _, gifts, _, _ = simulated
    expected = _expected_activity(gifts).sort_values("date").reset_index(drop=True)
    actual = _read(
        conn,
        "select date, gifts_created, gifts_viewed, gifts_claimed "
        "from marts.fct_gift_activity_daily "
        "where gifts_created + gifts_viewed + gifts_claimed > 0 order by date",
    )
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False)


def test_sync_and_dbt_twice_give_identical_marts(
    simulated, conn, redis_client, gift_prefix, dbt_build
):
    marts = [
        "marts.fct_gift_funnel_daily",
        "marts.fct_gift_activity_daily",
        "embed.gift_funnel_public",
    ]
    before = {t: _read(conn, f"select * from {t} order by 1, 2") for t in marts}
    ids = [
        k.decode().removeprefix(gift_prefix)
        for k in redis_client.scan_iter(match=f"{gift_prefix}gft_*", count=1000)
    ]
    redis_client.sadd(f"{gift_prefix}dirty", *ids)  # every gift dirty again
    again = sync_gifts(conn, redis_client, keys=GiftKeys(gift_prefix))
    dbt_build()
    assert again.synced == simulated[3].synced
    for table in marts:
        after = _read(conn, f"select * from {table} order by 1, 2")
        pd.testing.assert_frame_equal(after, before[table], obj=table)
