"""EverReach events named as seed 003's `analytics/events.yml` lists them, with the
`context` seed 003's collector writes (platform, app_build, device_model): every one is a
usable event in staging with its context read. The names are copied from seed 003's
"Event Categories" (the taxonomy seed must accept each)."""

from __future__ import annotations

import json

import psycopg
import pytest

from dagster_project.ingest.extract_load import extract_load_system
from dagster_project.simulate.everreach import create_tables
from tests.conftest import run_dbt

SCHEMA = "er_seed_shapes"
SEED_003_EVENTS = {
    "ai": ["prompt_submitted", "ai_response_generated", "response_copied", "response_liked",
           "response_disliked"],
    "paywall": ["paywall_shown", "purchase_attempted", "purchase_succeeded", "purchase_failed",
                "purchase_restored", "entitlement_refreshed"],
    "trial": ["trial_started", "trial_expired", "trial_extended", "subscription_cancelled",
              "feature_blocked"],
    "onboarding": ["signup_started", "signup_completed", "onboarding_question_answered",
                   "onboarding_completed", "first_contact_created", "aha_reached"],
    "warmth": ["contact_warmth_changed", "contact_warmth_below_threshold", "contact_imported",
               "interaction_created"],
    "usage": ["message_sent", "message_template_used", "contact_searched", "filter_applied",
              "export_data"],
}  # fmt: skip
NAMES = [name for names in SEED_003_EVENTS.values() for name in names]
CONTEXT = {"platform": "ios", "app_build": "1.8.0 (412)", "device_model": "iPhone15,2"}


@pytest.fixture
def staged(conn, warehouse_url):
    with psycopg.connect(warehouse_url) as app:
        app.execute(f"drop schema if exists {SCHEMA} cascade")
        create_tables(app, schema=SCHEMA)
        with app.cursor() as cur:
            cur.executemany(
                f"insert into {SCHEMA}.app_events (id, event_name, user_id, anonymous_id, "
                "occurred_at, context, properties, created_at) values "
                "(%s, %s, 'u1', 'anon-1', '2026-03-10 09:00+00', %s, '{}', "
                "'2026-03-10 09:00+00')",
                [(f"ev-{i}", name, json.dumps(CONTEXT)) for i, name in enumerate(NAMES)],
            )
    extract_load_system(conn, warehouse_url, "everreach", schema=SCHEMA)
    run_dbt("build", "--quiet", "--select", "everreach_event_types", "source:everreach+",
            "--exclude", "int_user_days_unioned+")  # fmt: skip
    yield conn
    with psycopg.connect(warehouse_url, autocommit=True) as app:
        app.execute(f"drop schema if exists {SCHEMA} cascade")


def test_every_seed_003_event_is_usable_with_its_context(staged):
    assert len(NAMES) == 31
    rejected = staged.execute(
        "select event_name, reject_reason from quarantine.everreach__app_events"
    ).fetchall()
    assert rejected == []
    rows = staged.execute(
        "select event_name, platform, app_build, device_model "
        "from staging.stg_everreach__app_events"
    ).fetchall()
    assert sorted(r[0] for r in rows) == sorted(NAMES)
    assert {r[1:] for r in rows} == {("ios", "1.8.0 (412)", "iPhone15,2")}
