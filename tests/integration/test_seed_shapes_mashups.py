"""Mashups events exactly as seed 004's `lib/analytics/events.ts` captures them, in a table
made from seed 004's own `analytics_events` DDL (plus the arrival column docs/SOURCES.md
asks for), checked in staging and the marts by hand."""

from __future__ import annotations

import json

import psycopg
import pytest

from dagster_project.ingest.extract_load import extract_load_system
from dagster_project.simulate.mashups import create_tables
from tests.conftest import run_dbt

SCHEMA = "mashups_seed_shapes"
AT = "2026-03-10 18:00:00+00"
M1 = "7f6c8f4e-3b1a-4c2d-9e5f-0a1b2c3d4e5f"
CREATOR = "2b9d7a10-5c3e-4f6a-8b7c-9d0e1f2a3b4c"
U1, U2 = "0d9f6a2e-1111-4a5b-8c7d-000000000001", "0d9f6a2e-1111-4a5b-8c7d-000000000002"

# seed 004, lib/analytics/events.ts: posthog.capture(<event>, <props>) for each helper
CAPTURES = [
    ("mashup_played", U1, {"mashup_id": M1, "source": "twitter", "autoPlay": False}),
    ("mashup_played", U2, {"mashup_id": M1, "source": "direct", "autoPlay": True}),
    ("mashup_played", U1, {"mashup_id": M1, "source": "twitter", "autoPlay": True}),
    ("mashup_created", CREATOR, {"trackCount": 4, "duration": 187, "usedAI": True}),
    ("mashup_exported", CREATOR, {"platform": "tiktok", "format": "mp4"}),
    ("ai_reaction", U2, {"mashup_id": M1, "reaction": "fire"}),
    ("user_followed", U1, {"creator_id": CREATOR}),
    ("comment_posted", U1, {"mashup_id": M1, "has_media": True}),
    ("comment_posted", U2, {"mashup_id": M1, "has_media": False}),
    ("subscription_upgraded", U1, {"from": "free", "to": "pro"}),
]

# seed 004's DDL, as written there; ingest_seq is the one column the extract-load adds
SEED_DDL = f"""
create table {SCHEMA}.analytics_events (
  id uuid primary key default gen_random_uuid(),
  user_id uuid,
  event_type text not null,
  properties jsonb,
  timestamp timestamp default now(),
  session_id text
);
alter table {SCHEMA}.analytics_events add column ingest_seq bigserial;
"""


@pytest.fixture
def landed(conn, warehouse_url):
    with psycopg.connect(warehouse_url) as app:
        app.execute(f"drop schema if exists {SCHEMA} cascade")
        create_tables(app, schema=SCHEMA)  # the mashups catalogue table
        app.execute(f"drop table {SCHEMA}.analytics_events")
        app.execute(SEED_DDL)
        app.execute("set timezone = 'UTC'")  # the seed's column is a timestamp without zone
        with app.cursor() as cur:
            cur.executemany(
                f"insert into {SCHEMA}.analytics_events (user_id, event_type, properties, "
                "timestamp, session_id) values (%s, %s, %s, %s, %s)",
                [
                    (user, kind, json.dumps(props), AT, f"s-{user[-1]}")
                    for kind, user, props in CAPTURES
                ],
            )
    extract_load_system(conn, warehouse_url, "mashups", schema=SCHEMA)
    run_dbt(
        "build", "--quiet", "--select", "mashups_event_types", "source:mashups+",
        "--exclude", "int_user_days_unioned+",
    )  # fmt: skip
    yield conn
    with psycopg.connect(warehouse_url, autocommit=True) as app:
        app.execute(f"drop schema if exists {SCHEMA} cascade")


def test_every_capture_is_usable_with_its_props_read(landed):
    rejected = landed.execute(
        "select event_type, reject_reason from quarantine.mashups__analytics_events"
    ).fetchall()
    assert rejected == []
    rows = landed.execute(
        "select event_type, mashup_id, traffic_source, auto_play, track_count, "
        "duration_seconds, used_ai, export_platform, export_format, reaction, "
        "followed_creator_id, has_media, from_tier, to_tier "
        "from staging.stg_mashups__analytics_events order by ingest_seq"
    ).fetchall()
    assert [r[0] for r in rows] == [kind for kind, _, _ in CAPTURES]
    by_kind = {}
    for row in rows:
        by_kind.setdefault(row[0], []).append(row[1:])
    assert [r[:3] for r in by_kind["mashup_played"]] == [
        (M1, "twitter", False), (M1, "direct", True), (M1, "twitter", True),
    ]  # fmt: skip
    assert by_kind["mashup_created"][0][3:6] == (4, 187, True)
    assert by_kind["mashup_exported"][0][6:8] == ("tiktok", "mp4")
    assert by_kind["ai_reaction"][0][8] == "fire"
    assert by_kind["user_followed"][0][9] == CREATOR
    assert [r[10] for r in by_kind["comment_posted"]] == [True, False]
    assert by_kind["subscription_upgraded"][0][11:] == ("free", "pro")


def test_daily_stats_count_the_captures_by_hand(landed):
    stats = landed.execute(
        "select plays, unique_plays, comments from marts.fct_mashup_daily_stats "
        "where mashup_id = %s and date = '2026-03-10'",
        [M1],
    ).fetchone()
    assert stats == (3, 2, 2)  # U1 played twice, U2 once; two comments
    followers = landed.execute(
        "select followers_gained from marts.fct_user_daily_stats "
        "where user_id = %s and date = '2026-03-10'",
        [CREATOR],
    ).fetchone()
    assert followers == (1,)
