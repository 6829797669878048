"""The EverReach simulator fills `app_events`, `prompts` and `responses` reproducibly, mess
included. Every count the summary reports is recomputed here in SQL from the rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest

from dagster_project.simulate.everreach import (
    EVENT_NAMES,
    FEEDBACK_EVENTS,
    create_tables,
    simulate_everreach,
)

SCHEMA = "er_sim_test"
END = date(2026, 3, 31)
CUTOFF = datetime.combine(END + timedelta(days=1), time(), UTC)
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
PHONE = r"\+[0-9]{1,3} [0-9 ]{7,}[0-9]"
SHARES = {"malformed_share": 0.01, "pii_share": 0.01, "late_share": 0.02, "duplicate_share": 0.02}


@pytest.fixture
def er(fresh_warehouse):
    with psycopg.connect(fresh_warehouse) as conn:
        conn.execute(f"drop schema if exists {SCHEMA} cascade")
        conn.commit()
        yield conn
        conn.rollback()
        conn.execute(f"drop schema if exists {SCHEMA} cascade")
        conn.commit()


def _simulate(conn, seed: int = 5, reset: bool = True, **kwargs):
    options = {"days": 8, "events_per_day": 2_000, "seed": seed, "end": END, "schema": SCHEMA,
               "reset": reset, **SHARES} | kwargs  # fmt: skip
    return simulate_everreach(conn, **options)


def _snapshot(conn) -> list[list[tuple]]:
    return [
        conn.execute(f"select * from {SCHEMA}.{table} order by {key}").fetchall()
        for table, key in (
            ("app_events", "ingest_seq"),
            ("prompts", "prompt_id"),
            ("responses", "response_id"),
        )  # fmt: skip
    ]


def test_same_seed_and_end_give_the_same_rows(er):
    calls = []
    first = _simulate(er, progress=lambda done, total: calls.append((done, total)))
    before = _snapshot(er)
    assert calls == [(i, 8) for i in range(1, 9)]
    assert _simulate(er) == first
    assert _snapshot(er) == before
    assert [len(rows) for rows in before] == [first.events, first.prompts, first.responses]
    assert 13_000 < first.events < 19_000 and first.start == END - timedelta(days=7)
    assert first.describe().startswith(f"simulated {first.events:,} EverReach events")
    assert _simulate(er, seed=6) != first


def test_without_reset_a_run_appends_and_create_tables_is_idempotent(er):
    first = _simulate(er)
    create_tables(er, SCHEMA)
    _simulate(er, reset=False, seed=9)
    n = er.execute(f"select count(*) from {SCHEMA}.app_events").fetchone()[0]
    assert n > first.events


def test_the_mess_matches_the_summary(er):
    s = _simulate(er)
    counts = er.execute(
        f"""
        select
            count(*),
            count(*) - count(distinct id),
            count(distinct id) filter (where created_at - occurred_at >= interval '1 day'),
            count(distinct id) filter (
                where occurred_at is null
                   or occurred_at > created_at + interval '1 day'
                   or event_name <> all(%(names)s)
                   or jsonb_typeof(properties) <> 'object'
                   or jsonb_typeof(context) <> 'object'
                   or jsonb_typeof(properties -> 'placement') not in ('string')
                   or jsonb_typeof(properties -> 'response_id') not in ('string')
            ),
            count(distinct id) filter (
                where properties::text ~ %(email)s or properties::text ~ %(phone)s
            )
        from {SCHEMA}.app_events
        """,
        {"names": list(EVENT_NAMES), "email": EMAIL, "phone": PHONE},
    ).fetchone()
    assert counts == (s.events, s.duplicates, s.late, s.malformed, s.pii)
    assert min(counts) > 0
    # a second delivery repeats the first exactly, seconds to minutes later
    again = er.execute(
        f"""
        select count(*), count(*) filter (
            where a.created_at < b.created_at
              and b.created_at - a.created_at <= interval '15 minutes'
              and (a.occurred_at, a.event_name, a.user_id, a.anonymous_id, a.properties,
                   a.context) is not distinct from
                  (b.occurred_at, b.event_name, b.user_id, b.anonymous_id, b.properties,
                   b.context))
        from {SCHEMA}.app_events a
        join {SCHEMA}.app_events b on a.id = b.id and a.ingest_seq < b.ingest_seq
        """
    ).fetchone()
    assert again == (s.duplicates, s.duplicates)
    texts = er.execute(
        f"""
        select
            (select count(*) from {SCHEMA}.prompts where text ~ %(email)s or text ~ %(phone)s),
            (select count(*) from {SCHEMA}.prompts where length(text) > 5000),
            (select count(*) from {SCHEMA}.responses where text ~ %(email)s),
            (select count(*) from {SCHEMA}.responses where length(text) > 5000)
        """,
        {"email": EMAIL, "phone": PHONE},
    ).fetchone()
    assert min(texts) > 0, texts


def test_time_is_consistent_and_nothing_arrives_after_the_end(er):
    s = _simulate(er)
    latest, before_happening, future, out_of_order, earliest = er.execute(
        f"""
        select
            max(created_at),
            count(*) filter (where occurred_at <= created_at + interval '1 day'
                               and created_at < occurred_at),
            count(*) filter (where occurred_at > created_at + interval '2 days'),
            count(*) filter (where created_at < lag_created),
            min(occurred_at)
        from (select *, lag(created_at) over (order by ingest_seq) as lag_created
              from {SCHEMA}.app_events) e
        """
    ).fetchone()
    assert latest < CUTOFF
    assert before_happening == 0 and future > 0 and out_of_order == 0
    assert earliest >= datetime.combine(s.start, time(), UTC)
    for table in ("prompts", "responses"):
        latest = er.execute(f"select max(created_at) from {SCHEMA}.{table}").fetchone()[0]
        assert latest < CUTOFF


def test_funnel_leaks_people_return_and_feedback_points_at_responses(er):
    _simulate(er)
    by_name = dict(
        er.execute(f"select event_name, count(*) from {SCHEMA}.app_events group by 1").fetchall()
    )
    assert set(EVENT_NAMES) - set(by_name) <= {"trial_extended"}
    assert (
        by_name["signup_started"] > by_name["signup_completed"] > by_name["onboarding_completed"]
        > by_name["aha_reached"] > by_name["trial_started"] > 0
    )  # fmt: skip
    assert by_name["trial_expired"] > 0 and by_name["purchase_succeeded"] > 0
    anon_only, linked, returning = er.execute(
        f"""
        select
            count(*) filter (where event_name = 'signup_started' and user_id is null),
            count(*) filter (where event_name = 'signup_completed' and user_id is not null
                               and anonymous_id is not null),
            (select count(*) from (
                select user_id from {SCHEMA}.app_events where user_id is not null
                group by user_id having count(distinct occurred_at::date) > 2) r)
        from {SCHEMA}.app_events
        """
    ).fetchone()
    assert anon_only == by_name["signup_started"] and linked > 0 and returning > 20
    orphans, feedback, placements, models = er.execute(
        f"""
        select
            count(*) filter (where r.response_id is null),
            count(*),
            (select count(distinct properties ->> 'placement') from {SCHEMA}.app_events
             where event_name = 'paywall_shown'),
            (select count(distinct model) from {SCHEMA}.responses)
        from {SCHEMA}.app_events e
        left join {SCHEMA}.responses r on r.response_id = e.properties ->> 'response_id'
        where e.event_name = any(%(feedback)s) and jsonb_typeof(e.properties) = 'object'
          and jsonb_typeof(e.properties -> 'response_id') = 'string'
        """,
        {"feedback": list(FEEDBACK_EVENTS)},
    ).fetchone()
    # feedback whose response row arrived after the cutoff is the only orphan
    assert feedback > 500 and orphans < 0.01 * feedback
    assert placements >= 5 and models == 4
    context_keys = er.execute(
        f"select count(*) from {SCHEMA}.app_events where jsonb_typeof(context) = 'object' "
        "and not context ?& array['platform', 'app_build', 'device_model', 'country']"
    ).fetchone()[0]
    assert context_keys == 0
