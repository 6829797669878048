"""The YesGoddess simulator fills `events` and `attribution` reproducibly, mess included.

Every count the summary reports is recomputed here in SQL from the rows themselves."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest

from dagster_project.simulate.yesgoddess import EVENT_TYPES, simulate_yesgoddess

SCHEMA = "yg_test"
END = date(2026, 3, 31)  # a Tuesday, safely in the past
CUTOFF = datetime.combine(END + timedelta(days=1), time(), UTC)
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
PHONE = r"\+[0-9]{1,3} [0-9 ]{7,}[0-9]"


@pytest.fixture
def yg(fresh_warehouse):
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
    return simulate_yesgoddess(conn, **options)


def _rows(conn, table: str, order: str, skip: str) -> list[tuple]:
    cur = conn.execute(f"select * from {SCHEMA}.{table} order by {order}")
    keep = [i for i, d in enumerate(cur.description) if d.name != skip]
    return [tuple(row[i] for i in keep) for row in cur.fetchall()]


def _snapshot(conn) -> tuple[list, list]:
    return (
        _rows(conn, "events", "ingest_seq", "ingest_seq"),
        _rows(conn, "attribution", "id", "id"),
    )


def test_same_seed_and_end_give_the_same_rows(yg):
    calls = []
    first = _simulate(yg, progress=lambda done, total: calls.append((done, total)))
    before = _snapshot(yg)
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert _simulate(yg) == first
    assert _snapshot(yg) == before
    assert len(before[0]) == first.events and len(before[1]) == first.attribution
    assert 5_000 < first.events < 7_000 and first.start == END - timedelta(days=2)
    assert _simulate(yg, seed=8) != first


def test_without_reset_a_run_appends(yg):
    first = _simulate(yg)
    _simulate(yg, reset=False)
    n_events, n_attribution = yg.execute(
        f"select (select count(*) from {SCHEMA}.events),"
        f" (select count(*) from {SCHEMA}.attribution)"
    ).fetchone()
    assert (n_events, n_attribution) == (2 * first.events, 2 * first.attribution)


def test_the_mess_matches_the_summary(yg):
    summary = _simulate(yg)
    counts = yg.execute(
        f"""
        select
            count(*),
            count(*) - count(distinct id),
            count(distinct id) filter (where created_at - occurred_at >= interval '1 day'),
            count(distinct id) filter (
                where occurred_at is null
                   or occurred_at > created_at + interval '1 day'
                   or event_type <> all(%(types)s)
                   or jsonb_typeof(props_json) <> 'object'
                   or jsonb_typeof(props_json -> 'revenueCents') <> 'number'
                   or jsonb_typeof(props_json -> 'engagementMs') <> 'number'
            ),
            count(distinct id) filter (
                where props_json::text ~ %(email)s or props_json::text ~ %(phone)s
            )
        from {SCHEMA}.events
        """,
        {"types": list(EVENT_TYPES), "email": EMAIL, "phone": PHONE},
    ).fetchone()
    expected = (summary.events, summary.duplicates, summary.late, summary.malformed, summary.pii)
    assert counts == expected
    assert min(expected) > 0

    # a second delivery repeats the first exactly, a few seconds to minutes later
    redelivered = yg.execute(
        f"""
        select count(*),
               count(*) filter (where a.created_at < b.created_at
                                  and b.created_at - a.created_at <= interval '15 minutes'
                                  and (a.occurred_at, a.event_type, a.props_json, a.session_id)
                                      is not distinct from
                                      (b.occurred_at, b.event_type, b.props_json, b.session_id))
        from {SCHEMA}.events a
        join {SCHEMA}.events b on a.id = b.id and a.ingest_seq < b.ingest_seq
        """
    ).fetchone()
    assert redelivered == (summary.duplicates, summary.duplicates)


def test_time_is_consistent_and_nothing_arrives_after_the_end(yg):
    summary = _simulate(yg)
    check = yg.execute(
        f"""
        select
            max(created_at),
            count(*) filter (where occurred_at <= created_at + interval '1 day'
                               and created_at < occurred_at),
            count(*) filter (where occurred_at > created_at + interval '2 days'),
            count(*) filter (where created_at < lag_created),
            min(occurred_at)
        from (
            select *, lag(created_at) over (order by ingest_seq) as lag_created
            from {SCHEMA}.events
        ) e
        """
    ).fetchone()
    latest, arrived_before_happening, future, out_of_order, earliest = check
    assert latest < CUTOFF and latest <= datetime.now(UTC)
    assert arrived_before_happening == 0  # created_at >= occurred_at unless a future stamp
    assert future > 0  # the malformed client clocks
    assert out_of_order == 0  # ingest_seq is arrival order
    assert earliest >= datetime.combine(summary.start, time(), UTC)


def test_attribution_has_real_user_agents_and_points_at_events(yg):
    _simulate(yg)
    stats = yg.execute(
        f"""
        select
            count(*),
            count(distinct a.event_id),
            count(*) filter (where not exists (
                select 1 from {SCHEMA}.events e where e.id = a.event_id)),
            count(*) filter (where a.user_agent like 'Mozilla/5.0 (%%'),
            count(*) filter (where a.device_type is null),
            count(*) filter (where a.utm_source is null),
            count(distinct a.browser),
            count(*) filter (where a.created_at < (
                select min(e.created_at) from {SCHEMA}.events e where e.id = a.event_id))
        from {SCHEMA}.attribution a
        """
    ).fetchone()
    total, distinct_events, orphans, mozilla, no_device, direct, browsers, early = stats
    assert total == distinct_events  # 1:1 with an event
    assert orphans == 0 and early == 0
    assert mozilla >= 0.95 * total
    assert 0.3 * total < no_device < total  # the app left most of them empty
    assert 0 < direct < total and browsers >= 4


def test_sessions_and_leaking_funnels(yg):
    _simulate(yg)
    by_type = dict(
        yg.execute(f"select event_type, count(*) from {SCHEMA}.events group by 1").fetchall()
    )
    assert by_type["asset_viewed"] > by_type["license_clicked"] > by_type["license_created"] > 0
    assert by_type["asset_downloaded"] > 0
    sessions, events, actors = yg.execute(
        f"""
        select count(distinct session_id), count(session_id),
               count(distinct actor_id) filter (where actor_type in ('creator', 'brand'))
        from {SCHEMA}.events
        """
    ).fetchone()
    assert events / sessions > 3
    revenue = yg.execute(
        f"""
        select min((props_json ->> 'revenueCents')::bigint)
        from {SCHEMA}.events
        where event_type = 'license_created'
          and jsonb_typeof(props_json -> 'revenueCents') = 'number'
        """
    ).fetchone()[0]
    assert revenue > 0
    returning = yg.execute(
        f"""
        select count(*) from (
            select actor_id from {SCHEMA}.events where actor_id is not null
            group by actor_id having count(distinct session_id) > 1
        ) r
        """
    ).fetchone()[0]
    assert returning > 0.1 * actors
