"""The Mashups realtime counter sync (Redis `mashup:{id}:plays` / `:likes` → raw) against
a real Redis and PostgreSQL: no increment lost or doubled whatever interleaves, crashes
resumed, never KEYS, bad counters quarantined; the Dagster asset and sensor."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter

import pytest
import redis
from dagster import DagsterInstance, RunRequest, SkipReason, build_sensor_context

from dagster_project.ingest.redis_mashup_counters import (
    METRICS,
    CounterKeys,
    sync_mashup_counters,
)
from dagster_project.resources import RedisResource


@pytest.fixture
def mashup_prefix(redis_client, monkeypatch):
    """A prefix of this test's own in front of the seed's key shapes (`{id}:plays`,
    `{id}:likes`, `dirty`); the asset and the sensor read it from the environment."""
    prefix = f"test:{uuid.uuid4().hex[:8]}:mashup:"
    monkeypatch.setenv("MASHUP_REDIS_PREFIX", prefix)
    monkeypatch.delenv("MASHUP_REDIS_URL", raising=False)
    monkeypatch.delenv("MASHUP_COUNTERS_SCAN", raising=False)
    yield prefix
    found = list(redis_client.scan_iter(match=f"{prefix}*", count=1000))
    if found:
        redis_client.unlink(*found)


def _mashup_id(rng: random.Random) -> str:
    """The simulator's (and the app's) mashup ids: v4 uuids."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class App:
    """The Mashups app on its own connection, with the one-line change: each INCR and its
    SADD to the dirty set in one MULTI. `made` counts every increment independently."""

    def __init__(self, keys: CounterKeys, dirty: bool = True):
        import os

        self.r = redis.Redis.from_url(os.environ["REDIS_URL"])
        self.keys, self.dirty = keys, dirty
        self.made: Counter = Counter()
        self.lock = threading.Lock()

    def count(self, mashup_id: str, metric: str, times: int = 1) -> None:
        for _ in range(times):
            pipe = self.r.pipeline(transaction=True)
            pipe.incr(self.keys.counter(mashup_id, metric))
            if self.dirty:
                pipe.sadd(self.keys.dirty, mashup_id)
            pipe.execute()
            with self.lock:
                self.made[(mashup_id, metric)] += 1


def _landed(conn) -> Counter:
    rows = conn.execute(
        "select mashup_id, metric, sum(count) from raw.mashups__realtime_counts group by 1, 2"
    ).fetchall()
    conn.commit()
    return Counter({(m, metric): int(n) for m, metric, n in rows})


def _left(r: redis.Redis, keys: CounterKeys, counters) -> Counter:
    left = Counter()
    for mashup_id, metric in counters:
        value = r.get(keys.counter(mashup_id, metric))
        if value is not None:
            left[(mashup_id, metric)] = int(value)
    return left


def _in_flight(r: redis.Redis, keys: CounterKeys) -> Counter:
    fields = r.hgetall(keys.inflight)
    fields.pop(b"batch_id", None)
    out = Counter()
    for field, n in fields.items():
        mashup_id, _, metric = field.decode().rpartition(":")
        out[(mashup_id, metric)] = int(n)
    return out


def _assert_nothing_lost(conn, r, keys, app: App) -> None:
    """landed + still in Redis (counters and a crashed batch) == every increment made."""
    accounted = _landed(conn) + _left(r, keys, app.made) + _in_flight(r, keys)
    assert accounted == app.made


def test_increments_interleaved_at_every_stage_are_never_lost(conn, redis_client, mashup_prefix):
    keys = CounterKeys(mashup_prefix)
    app, rng = App(keys), random.Random(7)
    ids = [_mashup_id(rng) for _ in range(25)]
    for mashup_id in ids:
        app.count(mashup_id, "plays", rng.randrange(1, 6))
        if rng.random() < 0.6:
            app.count(mashup_id, "likes", rng.randrange(1, 3))
    stages = Counter()

    def app_counts_meanwhile(stage: str) -> None:
        # between a page's SSCAN and its script, after the script, between the take-over
        # and the commit, between the commit and the DEL: plays of mashups on the page,
        # on pages already taken or still to come, and of mashups new to the dirty set
        stages[stage] += 1
        for mashup_id in rng.sample(ids, 4):
            app.count(mashup_id, rng.choice(METRICS))
        if rng.random() < 0.3:
            ids.append(_mashup_id(rng))
            app.count(ids[-1], "plays")

    first = sync_mashup_counters(
        conn, redis_client, keys=keys, page_size=3, hook=app_counts_meanwhile
    )

    assert {"before_take", "after_take", "before_commit", "after_commit"} <= set(stages)
    assert stages["before_take"] > 3  # several pages
    assert first.keys_taken > 0 and first.batches_landed == 1 and first.still_dirty > 0
    _assert_nothing_lost(conn, redis_client, keys, app)
    assert not redis_client.exists(keys.inflight) and not redis_client.exists(keys.dirty_inflight)

    # the increments made during the first sync are taken by the next one
    sync_mashup_counters(conn, redis_client, keys=keys)
    assert _landed(conn) == app.made
    assert _left(redis_client, keys, app.made) == Counter()  # counters brought to 0 are deleted
    assert redis_client.scard(keys.dirty) == 0


def test_a_concurrent_app_thread_loses_nothing(conn, redis_client, mashup_prefix):
    """The app increments from another thread while syncs run, with no hook at all."""
    keys = CounterKeys(mashup_prefix)
    app, rng = App(keys), random.Random(11)
    ids = [_mashup_id(rng) for _ in range(40)]
    stop = threading.Event()

    def listeners() -> None:
        local = random.Random(3)
        while not stop.is_set():
            app.count(local.choice(ids), local.choice(METRICS))

    thread = threading.Thread(target=listeners)
    thread.start()
    try:
        for _ in range(5):
            sync_mashup_counters(conn, redis_client, keys=keys, page_size=4)
    finally:
        stop.set()
        thread.join()
    assert sum(app.made.values()) > 0
    _assert_nothing_lost(conn, redis_client, keys, app)
    sync_mashup_counters(conn, redis_client, keys=keys)
    assert _landed(conn) == app.made


def test_a_crash_after_the_commit_counts_nothing_twice(conn, redis_client, mashup_prefix):
    keys = CounterKeys(mashup_prefix)
    app, rng = App(keys), random.Random(5)
    ids = [_mashup_id(rng) for _ in range(6)]
    for mashup_id in ids:
        app.count(mashup_id, "plays", 3)
        app.count(mashup_id, "likes", 1)

    def crash(stage: str) -> None:
        if stage == "after_commit":
            raise RuntimeError("worker killed after the Postgres commit, before the DEL")

    with pytest.raises(RuntimeError, match="worker killed"):
        sync_mashup_counters(conn, redis_client, keys=keys, hook=crash)
    assert redis_client.exists(keys.inflight)  # the committed batch is still in flight
    assert _landed(conn) == app.made
    state = conn.execute(
        "select status from ops.sync_state where id = 'mashup_counters_redis_sync'"
    ).fetchone()
    assert state == ("error",)
    conn.commit()
    app.count(ids[0], "plays", 2)  # played meanwhile

    resumed = sync_mashup_counters(conn, redis_client, keys=keys)

    assert resumed.resumed and resumed.already_landed
    assert (resumed.plays, resumed.likes) == (2, 0)  # only the new plays
    assert _landed(conn) == app.made
    assert not redis_client.exists(keys.inflight)


def test_a_crash_in_the_middle_of_the_take_over_resumes(conn, redis_client, mashup_prefix):
    keys = CounterKeys(mashup_prefix)
    app, rng = App(keys), random.Random(9)
    ids = [_mashup_id(rng) for _ in range(10)]
    for mashup_id in ids:
        app.count(mashup_id, "plays", 2)
    pages = Counter()

    def crash(stage: str) -> None:
        if stage == "after_take":
            pages["taken"] += 1
            if pages["taken"] == 2:
                raise RuntimeError("worker killed between two pages")

    with pytest.raises(RuntimeError, match="between two pages"):
        sync_mashup_counters(conn, redis_client, keys=keys, page_size=2, hook=crash)
    assert _landed(conn) == Counter()  # nothing committed
    _assert_nothing_lost(conn, redis_client, keys, app)
    app.count(ids[-1], "likes")  # the app goes on: a new id in the live dirty set

    resumed = sync_mashup_counters(conn, redis_client, keys=keys)
    assert resumed.resumed and not resumed.already_landed
    assert resumed.batches_landed == 2  # the crashed batch, then the rest
    assert _landed(conn) == app.made


def _commands_during(redis_client, action) -> list[str]:
    """Every command the Redis server ran during `action()`, seen by MONITOR from a second
    connection (commands run inside Lua scripts included)."""
    marker = f"end-of-monitor-{uuid.uuid4().hex}"
    seen: list[str] = []
    started = threading.Event()
    db = redis_client.connection_pool.connection_kwargs.get("db", 0)

    def monitor() -> None:
        with redis_client.monitor() as m:
            started.set()
            while True:
                command = m.next_command()
                if marker in command["command"]:
                    return
                if command["db"] == db:  # not another test worker's (conftest)
                    seen.append(command["command"])

    thread = threading.Thread(target=monitor)
    thread.start()
    started.wait(5)
    redis_client.ping()
    try:
        action()
    finally:
        redis_client.echo(marker)
        thread.join(10)
    return seen


@pytest.mark.parametrize("scan", [False, True], ids=["dirty-set", "scan"])
def test_never_keys(conn, redis_client, mashup_prefix, scan):
    keys = CounterKeys(mashup_prefix)
    app, rng = App(keys, dirty=not scan), random.Random(1)
    for _ in range(30):
        app.count(_mashup_id(rng), rng.choice(METRICS), rng.randrange(1, 4))

    def sync() -> None:
        sync_mashup_counters(conn, redis_client, keys=keys, scan=scan, page_size=7)

    commands = _commands_during(redis_client, sync)
    names = Counter(c.split(" ", 1)[0].upper() for c in commands)
    assert "KEYS" not in names
    assert names["EVALSHA"] + names["EVAL"] >= 1 and names["DECRBY"] > 0  # the script ran
    assert names["SCAN" if scan else "SSCAN"] >= 1
    assert "SET" not in names  # never reset with SET 0
    assert _landed(conn) == app.made


def test_a_nul_in_a_mashup_id_is_quarantined_and_blocks_nothing(conn, redis_client, mashup_prefix):
    """PostgreSQL text cannot hold NUL: taken, such a batch would fail at every resume."""
    keys = CounterKeys(mashup_prefix)
    app = App(keys)
    app.count("ok-id", "plays", 2)
    redis_client.set(keys.counter("bad\x00id", "plays"), "7")
    redis_client.sadd(keys.dirty, "bad\x00id")
    result = sync_mashup_counters(conn, redis_client, keys=keys)
    assert result.quarantined == 1
    assert _landed(conn) == app.made
    (reason,) = conn.execute("select reject_reason from quarantine.mashups__realtime_counters")
    assert "bad\\x00id" in reason[0]
    assert redis_client.get(keys.counter("bad\x00id", "plays")) == b"7"  # left as it is
    app.count("ok-id", "plays", 1)  # the next sync is not blocked
    sync_mashup_counters(conn, redis_client, keys=keys)
    assert _landed(conn) == app.made


@pytest.mark.parametrize("scan", [False, True], ids=["dirty-set", "scan"])
def test_bad_counters_are_quarantined_and_left_in_redis(conn, redis_client, mashup_prefix, scan):
    keys = CounterKeys(mashup_prefix)
    app, rng = App(keys), random.Random(2)
    good, text, negative, wrong_type = (_mashup_id(rng) for _ in range(4))
    app.count(good, "plays", 4)
    app.count(text, "likes", 1)  # its likes are fine, its plays are not
    redis_client.set(keys.counter(text, "plays"), "ten")
    redis_client.set(keys.counter(negative, "plays"), "-3")
    redis_client.hset(keys.counter(wrong_type, "likes"), "n", "1")
    redis_client.sadd(keys.dirty, text, negative, wrong_type)

    result = sync_mashup_counters(conn, redis_client, keys=keys, scan=scan)

    assert result.quarantined == 3
    assert _landed(conn) == app.made  # the good counters land beside the bad ones
    rejects = dict(
        conn.execute(
            "select redis_key, reject_reason || ' | ' || raw_value "
            "from quarantine.mashups__realtime_counters"
        ).fetchall()
    )
    assert set(rejects) == {
        keys.counter(text, "plays"),
        keys.counter(negative, "plays"),
        keys.counter(wrong_type, "likes"),
    }
    bad_text = rejects[keys.counter(text, "plays")]
    assert f"counter {keys.counter(text, 'plays')} holds 'ten'" in bad_text
    assert "not an integer" in bad_text and bad_text.endswith("| ten")
    assert "'-3': a negative count" in rejects[keys.counter(negative, "plays")]
    assert "holds a Redis hash" in rejects[keys.counter(wrong_type, "likes")]
    # never lost: the values stay in Redis as they were
    assert redis_client.get(keys.counter(text, "plays")) == b"ten"
    assert redis_client.get(keys.counter(negative, "plays")) == b"-3"
    assert redis_client.hgetall(keys.counter(wrong_type, "likes")) == {b"n": b"1"}

    # fixed by hand: the counter lands and leaves quarantine
    redis_client.set(keys.counter(text, "plays"), "5")
    redis_client.sadd(keys.dirty, text)
    sync_mashup_counters(conn, redis_client, keys=keys, scan=scan)
    assert _landed(conn)[(text, "plays")] == 5
    still = conn.execute("select redis_key from quarantine.mashups__realtime_counters")
    assert keys.counter(text, "plays") not in {k for (k,) in still}


def test_scan_mode_finds_counters_without_a_dirty_set(conn, redis_client, mashup_prefix):
    """The seed's app as written: INCR only, no dirty set."""
    keys = CounterKeys(mashup_prefix)
    app, rng = App(keys, dirty=False), random.Random(4)
    for _ in range(50):
        app.count(_mashup_id(rng), rng.choice(METRICS))
    assert sync_mashup_counters(conn, redis_client, keys=keys).keys_taken == 0  # no dirty set
    result = sync_mashup_counters(conn, redis_client, keys=keys, scan=True, page_size=5)
    assert result.keys_taken == len(app.made)
    assert _landed(conn) == app.made


def test_the_asset_and_the_sensor(conn, redis_client, mashup_prefix):
    from dagster_project.definitions import defs
    from dagster_project.sensors import mashup_counters_sensor

    keys = CounterKeys(mashup_prefix)
    instance = DagsterInstance.ephemeral()
    context = build_sensor_context(instance=instance, resources={"redis": RedisResource()})
    assert isinstance(mashup_counters_sensor(context), SkipReason)

    app, rng = App(keys), random.Random(6)
    ids = [_mashup_id(rng) for _ in range(3)]
    app.count(ids[0], "plays", 5)
    app.count(ids[1], "likes", 2)
    app.count(ids[2], "plays", 1)
    request = mashup_counters_sensor(context)
    assert isinstance(request, RunRequest) and request.tags["pending_counters"] == "3"

    result = defs.resolve_job_def("mashup_counters_sync").execute_in_process(instance=instance)
    assert result.success
    (event,) = result.get_asset_materialization_events()
    meta = {k: v.value for k, v in event.materialization.metadata.items()}
    assert (meta["keys_taken"], meta["plays"], meta["likes"]) == (3, 6, 2)
    assert meta["resumed_inflight"] is False
    assert _landed(conn) == app.made
    assert isinstance(mashup_counters_sensor(context), SkipReason)
