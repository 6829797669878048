"""The Mashups simulator fills `analytics_events` and `mashups` reproducibly, mess included.

Every count the summary reports is recomputed here in SQL from the rows themselves."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest

from dagster_project.simulate.mashups import DEVICES, EVENT_TYPES, SOURCES, simulate_mashups

SCHEMA = "mashups_sim_test"
END = date(2026, 3, 31)  # a Tuesday, safely in the past
CUTOFF = datetime.combine(END + timedelta(days=1), time(), UTC)
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
PHONE = r"\+[0-9]{1,3} [0-9 ]{7,}[0-9]"


@pytest.fixture
def app(fresh_warehouse):
    with psycopg.connect(fresh_warehouse) as conn:
        conn.execute(f"drop schema if exists {SCHEMA} cascade")
        conn.commit()
        yield conn
        conn.rollback()
        conn.execute(f"drop schema if exists {SCHEMA} cascade")
        conn.commit()


# larger mess shares than the defaults, so a small run still has plenty of each kind
SHARES = {"malformed_share": 0.01, "pii_share": 0.01, "late_share": 0.02}


def _simulate(conn, seed: int = 7, reset: bool = True, **kwargs):
    options = {"days": 3, "events_per_day": 2_000, "seed": seed, "end": END, "schema": SCHEMA,
               "reset": reset, **SHARES} | kwargs  # fmt: skip
    return simulate_mashups(conn, **options)


def _snapshot(conn) -> tuple[list, list]:
    events = conn.execute(
        f"select id, user_id, event_type, properties, timestamp, session_id, received_at "
        f"from {SCHEMA}.analytics_events order by ingest_seq"
    ).fetchall()
    mashups = conn.execute(f"select * from {SCHEMA}.mashups order by id").fetchall()
    return events, mashups


def test_same_seed_and_end_give_the_same_rows(app):
    calls = []
    first = _simulate(app, progress=lambda done, total: calls.append((done, total)))
    before = _snapshot(app)
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert _simulate(app) == first
    assert _snapshot(app) == before
    assert len(before[0]) == first.events and len(before[1]) == first.mashups
    assert 5_000 < first.events < 7_000 and first.start == END - timedelta(days=2)
    assert _simulate(app, seed=8) != first
    line = first.describe()
    assert "\n" not in line and f"{first.events:,} Mashups events" in line


def test_without_reset_a_run_appends_events_and_keeps_the_mashups(app):
    first = _simulate(app)
    again = _simulate(app, reset=False)
    n_events, n_mashups = app.execute(
        f"select (select count(*) from {SCHEMA}.analytics_events),"
        f" (select count(*) from {SCHEMA}.mashups)"
    ).fetchone()
    assert n_events == 2 * first.events
    assert n_mashups == first.mashups and again.mashups == 0  # already there


def test_the_mess_matches_the_summary(app):
    summary = _simulate(app)
    counts = app.execute(
        f"""
        select
            count(*),
            count(*) - count(distinct id),
            count(distinct id) filter (where received_at - timestamp >= interval '1 day'),
            count(distinct id) filter (
                where timestamp is null
                   or timestamp > received_at + interval '1 day'
                   or event_type <> all(%(types)s)
                   or jsonb_typeof(properties) <> 'object'
                   or jsonb_typeof(properties -> 'position') <> 'number'
                   or jsonb_typeof(properties -> 'duration') <> 'number'
                   or jsonb_typeof(properties -> 'autoPlay') <> 'boolean'
            ),
            count(distinct id) filter (
                where properties::text ~ %(email)s or properties::text ~ %(phone)s
            )
        from {SCHEMA}.analytics_events
        """,
        {"types": list(EVENT_TYPES), "email": EMAIL, "phone": PHONE},
    ).fetchone()
    expected = (summary.events, summary.duplicates, summary.late, summary.malformed, summary.pii)
    assert counts == expected
    assert min(expected) > 0
    assert app.execute(  # event ids are unique apart from redeliveries
        f"select count(distinct id) = count(distinct (id, coalesce(timestamp, 'epoch'))) "
        f"from {SCHEMA}.analytics_events"
    ).fetchone()[0]

    # a second delivery repeats the first exactly, a few seconds to minutes later
    redelivered = app.execute(
        f"""
        select count(*),
               count(*) filter (where a.received_at < b.received_at
                                  and b.received_at - a.received_at <= interval '15 minutes'
                                  and (a.timestamp, a.event_type, a.properties, a.session_id,
                                       a.user_id)
                                      is not distinct from
                                      (b.timestamp, b.event_type, b.properties, b.session_id,
                                       b.user_id))
        from {SCHEMA}.analytics_events a
        join {SCHEMA}.analytics_events b on a.id = b.id and a.ingest_seq < b.ingest_seq
        """
    ).fetchone()
    assert redelivered == (summary.duplicates, summary.duplicates)
    kinds = app.execute(
        f"""
        select count(*) filter (where timestamp is null),
               count(*) filter (where timestamp > received_at + interval '1 day'),
               count(*) filter (where event_type <> all(%(types)s)),
               count(*) filter (where jsonb_typeof(properties) = 'string')
        from {SCHEMA}.analytics_events
        """,
        {"types": list(EVENT_TYPES)},
    ).fetchone()
    assert all(n > 0 for n in kinds), kinds


def test_arrival_order_and_nothing_arrives_after_the_end(app):
    summary = _simulate(app)
    latest, early, out_of_order, earliest = app.execute(
        f"""
        select
            max(received_at),
            count(*) filter (where received_at < timestamp
                               and timestamp <= received_at + interval '1 day'),
            count(*) filter (where received_at < lag_received),
            min(timestamp)
        from (
            select *, lag(received_at) over (order by ingest_seq) as lag_received
            from {SCHEMA}.analytics_events
        ) e
        """
    ).fetchone()
    assert latest < CUTOFF and latest <= datetime.now(UTC)
    assert early == 0  # arrives after it happened, unless a malformed future stamp
    assert out_of_order == 0  # ingest_seq is arrival order
    assert earliest >= datetime.combine(summary.start, time(), UTC)
    # late arrivals sit after rows of later days
    late_after_later_days = app.execute(
        f"""
        select count(*) from {SCHEMA}.analytics_events late
        where late.received_at - late.timestamp >= interval '1 day'
          and exists (select 1 from {SCHEMA}.analytics_events e
                      where e.ingest_seq < late.ingest_seq
                        and e.timestamp::date > late.timestamp::date)
        """
    ).fetchone()[0]
    assert late_after_later_days > 0


def test_listening_sessions_look_like_a_music_app(app):
    _simulate(app)
    by_type = dict(
        app.execute(
            f"select event_type, count(*) from {SCHEMA}.analytics_events group by 1"
        ).fetchall()
    )
    plays = by_type["mashup_played"]
    assert plays > by_type["mashup_play_completed"] > by_type["mashup_liked"] > 0
    assert by_type["mashup_skipped"] > 0 and by_type["mashup_created"] > 0
    for etype in ("mashup_shared", "mashup_downloaded", "comment_posted", "user_followed"):
        assert by_type[etype] > 0, etype
    shape = app.execute(
        f"""
        select
            count(distinct session_id),
            count(*) filter (where user_id is null and event_type = 'mashup_played'),
            count(distinct properties ->> 'source') filter (where event_type = 'mashup_played'),
            count(distinct properties ->> 'device'),
            count(*) filter (where event_type = 'mashup_played'
                               and (properties ->> 'autoPlay')::text = 'true'),
            count(*) filter (where extract(hour from timestamp at time zone 'utc')
                                   between 18 and 22 and event_type = 'mashup_played'),
            count(*) filter (where extract(hour from timestamp at time zone 'utc')
                                   between 4 and 8 and event_type = 'mashup_played')
        from {SCHEMA}.analytics_events
        where jsonb_typeof(properties) = 'object'
        """
    ).fetchone()
    sessions, anonymous, sources, devices, auto, evening, morning = shape
    assert plays / sessions > 1.5
    assert 0.2 * plays < anonymous < 0.7 * plays
    assert sources == len(SOURCES) and devices == len(DEVICES)
    assert 0 < auto < plays
    assert evening > 3 * morning  # the UTC evening peak
    returning = app.execute(
        f"""
        select count(*) filter (where n > 1) * 1.0 / count(*) from (
            select user_id, count(distinct session_id) as n from {SCHEMA}.analytics_events
            where user_id is not null group by user_id
        ) u
        """
    ).fetchone()[0]
    assert returning > 0.2
    # a few mashups take most plays; every played mashup exists in `mashups`
    top_share, orphans = app.execute(
        f"""
        with plays as (
            select properties ->> 'mashup_id' as mashup_id, count(*) as n
            from {SCHEMA}.analytics_events
            where event_type = 'mashup_played' and jsonb_typeof(properties) = 'object'
            group by 1
        )
        select
            (select sum(n) from (select n from plays order by n desc limit 10) t) * 1.0
                / (select sum(n) from plays),
            (select count(*) from plays
             where mashup_id not in (select id from {SCHEMA}.mashups))
        """
    ).fetchone()
    assert 0.2 < top_share < 0.95 and orphans == 0
