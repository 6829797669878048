"""The Redis → raw.gift_analytics sync against a real Redis and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from dagster_project.ingest.redis_gifts import GiftKeys, SyncAlreadyRunning, sync_gifts
from tests import gift_fixture


def _raw(conn, column: str = "value_usd") -> dict:
    return dict(conn.execute(f"select gift_id, {column} from raw.gift_analytics").fetchall())


def test_fixture_lands_and_malformed_gifts_are_quarantined(conn, redis_client, gift_prefix):
    keys = GiftKeys(gift_prefix)
    gift_fixture.load(redis_client, gift_prefix)
    redis_client.sadd(keys.dirty, "g_without_hash")

    result = sync_gifts(conn, redis_client, keys=keys)

    assert (result.synced, result.quarantined, result.missing) == (11, 2, 1)
    assert set(_raw(conn)) == set(gift_fixture.GIFTS) - gift_fixture.QUARANTINED
    rejects = dict(conn.execute("select gift_id, reject_reason from quarantine.gift_analytics"))
    assert set(rejects) == gift_fixture.QUARANTINED
    assert "created_at='yesterday'" in rejects["g11"]
    assert "value_usd='ten' is not a number" in rejects["g12"]
    raw_values = conn.execute(
        "select raw_values->>'value_usd' from quarantine.gift_analytics where gift_id = 'g12'"
    ).fetchone()[0]
    assert raw_values == "ten"  # the rejected values are kept, not lost
    assert redis_client.scard(keys.dirty) == 0
    assert not redis_client.exists(keys.inflight)
    state = conn.execute(
        "select status, items_processed, items_quarantined, error_message, last_run_at "
        "from ops.sync_state where id = 'gift_redis_sync'"
    ).fetchone()
    assert state[:4] == ("idle", 11, 2, None) and state[4] is not None


def test_offset_and_empty_values_are_typed(conn, redis_client, gift_prefix):
    gift_fixture.load(redis_client, gift_prefix)
    sync_gifts(conn, redis_client, keys=GiftKeys(gift_prefix))
    created = conn.execute(
        "select (gift_created_at at time zone 'UTC')::text, value_usd, campaign_id "
        "from raw.gift_analytics where gift_id in ('g04', 'g05') order by gift_id"
    ).fetchall()
    d0 = gift_fixture.d(0).isoformat()
    assert created == [(f"{d0} 00:00:00", None, "camp_b"), (f"{d0} 23:30:00", 25, "camp_b")]


def test_gift_redirtied_during_sync_is_taken_by_the_next_run(conn, redis_client, gift_prefix):
    keys = GiftKeys(gift_prefix)
    gift_fixture.load(redis_client, gift_prefix, {"g01": gift_fixture.GIFTS["g01"]})

    def app_writes_meanwhile() -> None:
        # the app updates the gift after we read it, before our commit
        redis_client.hset(keys.gift("g01"), "value_usd", "99.99")
        redis_client.sadd(keys.dirty, "g01")

    first = sync_gifts(conn, redis_client, keys=keys, before_commit=app_writes_meanwhile)
    assert first.still_dirty == 1
    assert _raw(conn)["g01"] == Decimal("10.5")

    second = sync_gifts(conn, redis_client, keys=keys)
    assert second.synced == 1
    assert _raw(conn)["g01"] == Decimal("99.99")
    assert redis_client.scard(keys.dirty) == 0


def test_crash_after_commit_loses_nothing_and_counts_nothing_twice(conn, redis_client, gift_prefix):
    keys = GiftKeys(gift_prefix)
    gift_fixture.load(redis_client, gift_prefix)

    def crash() -> None:
        raise RuntimeError("worker killed after the Postgres commit")

    with pytest.raises(RuntimeError, match="worker killed"):
        sync_gifts(conn, redis_client, keys=keys, after_commit=crash)
    assert redis_client.scard(keys.inflight) == len(gift_fixture.GIFTS)
    assert conn.execute("select status from ops.sync_state").fetchone()[0] == "error"

    gift_fixture.load(redis_client, gift_prefix, {"g_new": gift_fixture.GIFTS["g01"]})
    resumed = sync_gifts(conn, redis_client, keys=keys)

    assert resumed.resumed and resumed.synced == 11
    counts = conn.execute(
        "select (select count(*) from raw.gift_analytics),"
        " (select count(distinct gift_id) from raw.gift_analytics),"
        " (select count(*) from quarantine.gift_analytics)"
    ).fetchone()
    assert counts == (11, 11, 2)
    assert not redis_client.exists(keys.inflight)
    assert resumed.still_dirty == 1  # g_new waits in the live set: the next run takes it
    assert sync_gifts(conn, redis_client, keys=keys).synced == 1


def test_missing_field_never_erases_a_landed_value(conn, redis_client, gift_prefix):
    keys = GiftKeys(gift_prefix)
    gift_fixture.load(redis_client, gift_prefix, {"g01": gift_fixture.GIFTS["g01"]})
    sync_gifts(conn, redis_client, keys=keys)

    redis_client.hdel(keys.gift("g01"), "value_usd", "claimed_at", "creator_address")
    redis_client.hset(keys.gift("g01"), "country", "AR")
    redis_client.sadd(keys.dirty, "g01")
    sync_gifts(conn, redis_client, keys=keys)

    row = conn.execute(
        "select value_usd, gift_claimed_at is not null, creator_address, country "
        "from raw.gift_analytics where gift_id = 'g01'"
    ).fetchone()
    assert row == (Decimal("10.5"), True, "0xcreator", "AR")


def test_blank_field_clears_but_a_later_fix_leaves_quarantine(conn, redis_client, gift_prefix):
    keys = GiftKeys(gift_prefix)
    gift_fixture.load(redis_client, gift_prefix, {"g12": gift_fixture.GIFTS["g12"]})
    sync_gifts(conn, redis_client, keys=keys)
    assert conn.execute("select count(*) from quarantine.gift_analytics").fetchone()[0] == 1

    redis_client.hset(keys.gift("g12"), "value_usd", "")
    redis_client.sadd(keys.dirty, "g12")
    result = sync_gifts(conn, redis_client, keys=keys)

    assert (result.synced, result.quarantined) == (1, 0)
    assert _raw(conn) == {"g12": None}
    assert conn.execute("select count(*) from quarantine.gift_analytics").fetchone()[0] == 0


def test_a_second_sync_is_refused_while_one_runs(conn, redis_client, gift_prefix, warehouse_url):
    gift_fixture.load(redis_client, gift_prefix)
    sync_gifts(conn, redis_client, keys=GiftKeys(gift_prefix))  # creates the tables
    with psycopg.connect(warehouse_url) as holder:
        holder.execute("select pg_advisory_lock(hashtext('gift_redis_sync'))")
        with pytest.raises(SyncAlreadyRunning, match="refuses rather than waits"):
            sync_gifts(conn, redis_client, keys=GiftKeys(gift_prefix))
    assert conn.execute("select status from ops.sync_state").fetchone()[0] == "idle"


def test_a_lost_warehouse_connection_fails_cleanly_and_the_next_run_resumes(
    conn, redis_client, gift_prefix, warehouse_url
):
    keys = GiftKeys(gift_prefix)
    gift_fixture.load(redis_client, gift_prefix)
    pid = conn.info.backend_pid

    def kill_connection() -> None:
        with psycopg.connect(warehouse_url, autocommit=True) as admin:
            admin.execute("select pg_terminate_backend(%s)", [pid])

    with pytest.raises(psycopg.OperationalError):
        sync_gifts(conn, redis_client, keys=keys, before_commit=kill_connection)
    assert redis_client.scard(keys.inflight) == len(gift_fixture.GIFTS)  # nothing acknowledged

    with psycopg.connect(warehouse_url) as fresh:
        assert fresh.execute("select count(*) from raw.gift_analytics").fetchone()[0] == 0
        result = sync_gifts(fresh, redis_client, keys=keys)
        assert (result.resumed, result.synced, result.quarantined) == (True, 11, 2)


def test_a_new_gift_needs_a_creator_but_a_landed_one_keeps_its_own(conn, redis_client, gift_prefix):
    keys = GiftKeys(gift_prefix)
    landed = gift_fixture.GIFTS["g01"]
    gift_fixture.load(redis_client, gift_prefix, {"g01": landed})
    sync_gifts(conn, redis_client, keys=keys)

    without = {k: v for k, v in landed.items() if k != "creator_address"}
    gift_fixture.load(
        redis_client,
        gift_prefix,
        {
            "g01": landed | {"creator_address": ""},
            "new_blank": landed | {"creator_address": ""},
            "new_missing": without,
        },
    )
    redis_client.hdel(keys.gift("new_missing"), "creator_address")
    result = sync_gifts(conn, redis_client, keys=keys, chunk_size=2)

    assert (result.synced, result.quarantined) == (1, 2)
    assert _raw(conn, "creator_address") == {"g01": "0xcreator"}
    rejects = dict(conn.execute("select gift_id, reject_reason from quarantine.gift_analytics"))
    assert "creator_address is blank; it is required for a new gift" in rejects["new_blank"]
    assert "creator_address is missing" in rejects["new_missing"]
    raw_values = conn.execute(
        "select raw_values from quarantine.gift_analytics where gift_id = 'new_blank'"
    ).fetchone()[0]
    assert raw_values["created_at"] == landed["created_at"]  # the hash as read, not parsed


def test_many_small_chunks_land_the_same_rows(conn, redis_client, gift_prefix, warehouse_url):
    gift_fixture.load(redis_client, gift_prefix)
    result = sync_gifts(conn, redis_client, keys=GiftKeys(gift_prefix), chunk_size=3)
    assert (result.synced, result.quarantined) == (11, 2)
    assert set(_raw(conn)) == set(gift_fixture.GIFTS) - gift_fixture.QUARANTINED


def test_a_failing_later_chunk_rolls_back_every_chunk(conn, redis_client, gift_prefix, monkeypatch):
    from dagster_project.ingest import redis_gifts

    real_land_chunk = redis_gifts.land_chunk
    calls = []

    def fail_on_second_chunk(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full while landing chunk 2")
        real_land_chunk(*args)

    monkeypatch.setattr(redis_gifts, "land_chunk", fail_on_second_chunk)
    keys = GiftKeys(gift_prefix)
    gift_fixture.load(redis_client, gift_prefix)
    with pytest.raises(RuntimeError, match="chunk 2"):
        sync_gifts(conn, redis_client, keys=keys, chunk_size=3)

    assert conn.execute("select count(*) from raw.gift_analytics").fetchone()[0] == 0
    state = conn.execute("select status, error_message from ops.sync_state").fetchone()
    assert state == ("error", "RuntimeError: disk full while landing chunk 2")
    assert redis_client.scard(keys.inflight) == len(gift_fixture.GIFTS)


def test_invalid_utf8_is_quarantined_readably_not_lost(conn, redis_client, gift_prefix):
    keys = GiftKeys(gift_prefix)
    bad_id = b"g\xff"
    redis_client.hset(
        keys.gift("ok_id").encode()[: -len(b"ok_id")] + bad_id,
        mapping={"creator_address": "0x1", "created_at": "2026-11-01T10:00:00Z"},
    )
    redis_client.hset(keys.gift("bad_value"), mapping={"creator_address": b"0x\xfe"})
    redis_client.sadd(keys.dirty, bad_id, "bad_value")

    result = sync_gifts(conn, redis_client, keys=keys)

    assert (result.synced, result.quarantined, result.missing) == (0, 2, 0)
    rejects = dict(conn.execute("select gift_id, reject_reason from quarantine.gift_analytics"))
    assert set(rejects) == {"g\\xff", "bad_value"}
    assert "creator_address='0x\\xfe' contains a NUL byte or invalid UTF-8" in rejects["bad_value"]
