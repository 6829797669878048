"""Hostile Redis: keys and values nobody planned for, and a Redis that goes away.

The rule (docs/RELIABILITY.md): every dirty id is either landed, quarantined with a reason
naming the value and the rule, or counted missing; no id blocks the others; the next run
is green.
"""

from __future__ import annotations

import pytest

from dagster_project.ingest.redis_gifts import GiftKeys, RedisUnreachable, sync_gifts
from tests import gift_fixture

GOOD = {k: v for k, v in gift_fixture.GIFTS.items() if k not in gift_fixture.QUARANTINED}
TEMPLATE = gift_fixture.GIFTS["g01"]
LONG_ID = "L" * 10_000
ODD_IDS = ["a:b:c", "with space", "ünïcødé-😀", "quo'te\"s", "x" * 256]  # all valid


def _state(conn) -> tuple:
    return conn.execute(
        "select status, items_processed, items_quarantined, error_message "
        "from ops.sync_state where id = 'gift_redis_sync'"
    ).fetchone()


def _rejects(conn) -> dict[str, str]:
    return dict(conn.execute("select gift_id, reject_reason from quarantine.gift_analytics"))


def _offer_poison(r, keys: GiftKeys) -> set[str]:
    """Write the hostile keys beside the good gifts; returns every dirty id offered."""
    gift_fixture.load(r, keys.prefix, GOOD | dict.fromkeys(ODD_IDS, TEMPLATE))
    gift_fixture.load(r, keys.prefix, {LONG_ID: TEMPLATE, "": TEMPLATE})
    r.set(keys.gift("a_string"), "not a hash")
    r.rpush(keys.gift("a_list"), "not", "a", "hash")
    r.hset(keys.gift("bad_utf8"), mapping={**TEMPLATE, "campaign_id": b"\xff\xfeabc"})
    r.hset(keys.gift("nul_byte"), mapping={**TEMPLATE, "country": "A\x00R"})
    r.hset(keys.gift("one_mb"), mapping={**TEMPLATE, "source": "s" * 1_000_000})
    r.sadd(keys.dirty, "a_string", "a_list", "bad_utf8", "nul_byte", "one_mb", "no_hash")
    return {m.decode("utf-8", "surrogateescape") for m in r.smembers(keys.dirty)}


def test_poison_keys_are_quarantined_and_never_block_the_rest(conn, redis_client, gift_prefix):
    keys = GiftKeys(gift_prefix)
    offered = _offer_poison(redis_client, keys)

    result = sync_gifts(conn, redis_client, keys=keys)

    assert result.synced + result.quarantined + result.missing == len(offered)
    landed = {g for (g,) in conn.execute("select gift_id from raw.gift_analytics")}
    assert landed == set(GOOD) | set(ODD_IDS) | {"one_mb"}
    assert conn.execute(
        "select length(source) from raw.gift_analytics where gift_id = 'one_mb'"
    ).fetchone() == (1_000_000,)
    rejects = _rejects(conn)
    assert len(rejects) == result.quarantined == 6
    assert "its key holds a string, not a hash (WRONGTYPE)" in rejects["a_string"]
    assert "its key holds a list, not a hash (WRONGTYPE)" in rejects["a_list"]
    assert "gift id '' is empty" in rejects[""]
    assert "campaign_id='\\xff\\xfeabc' contains a NUL byte or invalid UTF-8" in rejects["bad_utf8"]
    assert "country='A\\x00R' contains a NUL byte or invalid UTF-8" in rejects["nul_byte"]
    (long_key,) = [k for k in rejects if k.startswith("L" * 64)]
    assert "the id has 10,000 characters, more than the 256 allowed" in rejects[long_key]
    kept = conn.execute(
        "select raw_values->>'_gift_id' from quarantine.gift_analytics where gift_id = %s",
        [long_key],
    ).fetchone()[0]
    assert kept == LONG_ID  # the whole id is kept with its values: nothing lost
    assert result.missing == 1
    assert _state(conn) == ("idle", result.synced, 6, None)
    assert not redis_client.exists(keys.inflight)


def test_the_run_after_poison_is_green_and_takes_new_gifts(conn, redis_client, gift_prefix):
    keys = GiftKeys(gift_prefix)
    _offer_poison(redis_client, keys)
    sync_gifts(conn, redis_client, keys=keys)

    # the poison is dirtied again (the app keeps writing it) next to a new good gift
    redis_client.sadd(keys.dirty, "a_string", LONG_ID, "")
    gift_fixture.load(redis_client, gift_prefix, {"g_after": TEMPLATE})
    again = sync_gifts(conn, redis_client, keys=keys)

    assert (again.synced, again.quarantined) == (1, 3)
    assert conn.execute(
        "select count(*) from raw.gift_analytics where gift_id = 'g_after'"
    ).fetchone() == (1,)
    assert len(_rejects(conn)) == 6  # re-rejected in place, not added twice
    assert _state(conn)[0] == "idle"


def test_200k_vanished_hashes_are_counted_missing(conn, redis_client, gift_prefix):
    keys = GiftKeys(gift_prefix)
    pipe = redis_client.pipeline(transaction=False)
    for start in range(0, 200_000, 10_000):
        pipe.sadd(keys.dirty, *(f"gone{i}" for i in range(start, start + 10_000)))
    pipe.execute()
    gift_fixture.load(redis_client, gift_prefix, {"g01": TEMPLATE})

    result = sync_gifts(conn, redis_client, keys=keys)

    assert (result.synced, result.quarantined, result.missing) == (1, 0, 200_000)
    assert redis_client.scard(keys.dirty) == 0 and not redis_client.exists(keys.inflight)


def test_redis_gone_at_start_says_so_and_the_next_run_syncs(conn, private_redis):
    r = private_redis.client()
    keys = GiftKeys("gift:analytics:")
    gift_fixture.load(r, keys.prefix, GOOD)
    sync_gifts(conn, r, keys=keys)
    gift_fixture.load(r, keys.prefix, GOOD)  # dirty again: the next sync has work
    private_redis.stop()

    with pytest.raises(RedisUnreachable, match=rf"Redis at 127.0.0.1:{private_redis.port}/0"):
        sync_gifts(conn, r, keys=keys)
    status, processed, quarantined, message = _state(conn)
    # the error's row says nothing was processed, not the last success's figures
    assert (status, processed, quarantined) == ("error", 0, 0)
    assert message.startswith(f"RedisUnreachable: Redis at 127.0.0.1:{private_redis.port}/0")

    private_redis.start()
    result = sync_gifts(conn, r, keys=keys)
    assert (result.synced, result.quarantined) == (len(GOOD), 0)
    assert _state(conn) == ("idle", len(GOOD), 0, None)


def test_redis_gone_between_commit_and_ack_loses_and_doubles_nothing(conn, private_redis):
    r = private_redis.client()
    keys = GiftKeys("gift:analytics:")
    gift_fixture.load(r, keys.prefix, gift_fixture.GIFTS)

    # Postgres commits, then Redis is stopped before the in-flight key can be deleted
    with pytest.raises(RedisUnreachable, match="the next sync after Redis is back resumes"):
        sync_gifts(conn, r, keys=keys, before_commit=private_redis.stop)
    private_redis.start()
    assert r.scard(keys.inflight) == len(gift_fixture.GIFTS)  # nothing acknowledged

    resumed = sync_gifts(conn, r, keys=keys)

    assert resumed.resumed and (resumed.synced, resumed.quarantined) == (len(GOOD), 2)
    assert conn.execute(
        "select count(*), count(distinct gift_id) from raw.gift_analytics"
    ).fetchone() == (len(GOOD), len(GOOD))
    assert not r.exists(keys.inflight)
