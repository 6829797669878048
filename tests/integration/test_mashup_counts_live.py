"""The simulator's realtime counters → the counter sync → staging → marts.mashup_counts_live
(real Redis, PostgreSQL and dbt), checked against sums computed here."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime

import psycopg
import pytest
import redis

from dagster_project.ingest.redis_mashup_counters import CounterKeys, sync_mashup_counters
from dagster_project.ingest.warehouse_tables import ensure_tables
from dagster_project.simulate.mashups import simulate_mashups
from tests.conftest import run_dbt
from tests.dashboards_doc import QUERIES as DASHBOARDS
from tests.mashups_fixture import drop_project_schemas, extract_load_mashups

END = date(2026, 3, 31)
SIMULATION = {"days": 3, "events_per_day": 400, "seed": 21, "end": END}


@pytest.fixture
def prefixes(redis_client):
    made = [f"test:{uuid.uuid4().hex[:8]}:mashup:" for _ in range(2)]
    yield made
    for prefix in made:
        found = list(redis_client.scan_iter(match=f"{prefix}*", count=1000))
        if found:
            redis_client.unlink(*found)


def _counters(r: redis.Redis, prefix: str) -> Counter:
    out = Counter()
    for metric in ("plays", "likes"):
        for key in r.scan_iter(match=CounterKeys(prefix).scan_pattern(metric), count=1000):
            mashup_id = key.decode()[len(prefix) :].rpartition(":")[0]
            out[(mashup_id, metric)] = int(r.get(key))
    return out


def test_simulated_counters_are_deterministic_and_land_exactly(
    fresh_warehouse, redis_client, prefixes
):
    url = fresh_warehouse
    runs = []
    for i, prefix in enumerate(prefixes):
        with psycopg.connect(url) as app:
            schema = f"mashups_rt_{i}"
            app.execute(f"drop schema if exists {schema} cascade")
            runs.append(
                simulate_mashups(
                    app,
                    schema=schema,
                    redis_client=redis_client,
                    counter_prefix=prefix,
                    reset=True,
                    **SIMULATION,
                )  # fmt: skip
            )
            app.execute(f"drop schema {schema} cascade")
            app.commit()
    assert runs[0].realtime == runs[1].realtime and runs[0].realtime
    assert _counters(redis_client, prefixes[0]) == Counter(runs[0].realtime)
    keys = CounterKeys(prefixes[0])
    dirty = {m.decode() for m in redis_client.smembers(keys.dirty)}
    assert dirty == {mashup_id for mashup_id, _ in runs[0].realtime}

    with psycopg.connect(url) as conn:
        result = sync_mashup_counters(conn, redis_client, keys=keys)
        landed = conn.execute(
            "select mashup_id, metric, sum(count) from raw.mashups__realtime_counts group by 1, 2"
        ).fetchall()
    assert Counter({(m, metric): int(n) for m, metric, n in landed}) == Counter(runs[0].realtime)
    plays = sum(n for (_, metric), n in runs[0].realtime.items() if metric == "plays")
    assert result.plays == plays > 0
    assert _counters(redis_client, prefixes[0]) == Counter()


def test_mashup_counts_live_adds_the_counters_after_the_last_built_day(
    warehouse_url, redis_client, prefixes
):
    drop_project_schemas(warehouse_url)
    from tests.mashups_fixture import SRC

    keys = CounterKeys(prefixes[0])
    with psycopg.connect(warehouse_url) as app:
        summary = simulate_mashups(
            app, schema=SRC, redis_client=redis_client, counter_prefix=keys.prefix, **SIMULATION
        )
    extract_load_mashups(warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        sync_mashup_counters(conn, redis_client, keys=keys)  # synced now: after END
        # batches synced on days the mart covers (END and before) are counted by events
        a, b = sorted({m for m, _ in summary.realtime})[:2]
        extra = [
            ("old-batch", a, "plays", 7, datetime(2026, 3, 30, 12, tzinfo=UTC)),
            ("end-batch", a, "likes", 3, datetime(2026, 3, 31, 23, 59, tzinfo=UTC)),
            ("next-batch", a, "plays", 4, datetime(2026, 4, 1, 0, 3, tzinfo=UTC)),
            ("next-batch", b, "likes", 2, datetime(2026, 4, 1, 0, 3, tzinfo=UTC)),
        ]
        with conn.cursor() as cur:
            cur.executemany(
                "insert into raw.mashups__realtime_counts "
                "(batch_id, mashup_id, metric, count, synced_at) values (%s, %s, %s, %s, %s)",
                extra,
            )
        conn.commit()

    try:
        run_dbt("build", "--quiet", "--select", "+mashup_counts_live")
        with psycopg.connect(warehouse_url) as conn:
            built = conn.execute(
                "select mashup_id, date, plays, likes from marts.fct_mashup_daily_stats"
            ).fetchall()
            raw = conn.execute(
                "select mashup_id, metric, count, synced_at from raw.mashups__realtime_counts"
            ).fetchall()
            view = conn.execute(
                "select mashup_id, date, plays, likes, counted_from, is_live, last_synced_at "
                "from marts.mashup_counts_live"
            ).fetchall()
    finally:
        drop_project_schemas(warehouse_url)

    last_built = max(d for _, d, _, _ in built)
    assert last_built == END
    expected = {(m, d): (p, lk, "events", False, None) for m, d, p, lk in built}
    live: dict = {}
    for mashup_id, metric, n, synced_at in raw:
        day = synced_at.astimezone(UTC).date()
        if day <= last_built:
            continue
        plays, likes, newest = live.get((mashup_id, day), (0, 0, synced_at))
        plays, likes = (plays + n, likes) if metric == "plays" else (plays, likes + n)
        live[(mashup_id, day)] = (plays, likes, max(newest, synced_at))
    for grain, (plays, likes, newest) in live.items():
        expected[grain] = (plays, likes, "redis_counters", True, newest)
    got = {(m, d): (p, lk, src, is_live, last) for m, d, p, lk, src, is_live, last in view}
    assert got == expected
    today = datetime.now(UTC).date()
    assert today > date(2026, 4, 1)  # the hand-made batches' days are past, the sync's today
    synced_today = sum(summary.realtime.values())
    assert sum(p + lk for (_, d), (p, lk, *_) in got.items() if d == today) == synced_today
    assert got[(a, date(2026, 4, 1))][:2] == (4, 0) and got[(b, date(2026, 4, 1))][:2] == (0, 2)


def test_last_hour_sums_the_batches_synced_in_the_last_hour(fresh_warehouse):
    with psycopg.connect(fresh_warehouse) as conn:
        ensure_tables(conn)
        batches = [  # (batch, mashup, metric, count, minutes ago)
            ("b1", "m1", "plays", 5, 70),
            ("b2", "m1", "plays", 3, 50),
            ("b2", "m2", "likes", 2, 50),
            ("b3", "m1", "likes", 1, 4),
            ("b3", "m2", "plays", 6, 4),
        ]
        conn.cursor().executemany(
            "insert into raw.mashups__realtime_counts (batch_id, mashup_id, metric, count,"
            " synced_at) values (%s, %s, %s, %s, now() - make_interval(mins => %s))",
            batches,
        )
        conn.commit()
        run_dbt("run", "--quiet", "--select", "+mashup_counter_syncs")
        recent = [b for b in batches if b[4] < 60]
        expected = (
            sum(b[3] for b in recent if b[2] == "plays"),
            sum(b[3] for b in recent if b[2] == "likes"),
        )
        assert conn.execute(DASHBOARDS["mashups_last_hour"]).fetchall() == [expected]
        assert expected == (9, 3)
