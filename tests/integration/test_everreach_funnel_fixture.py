"""The onboarding funnel on a hand-written app database: strict order, the conversion
window (dbt var onboarding_window_days), skipped steps, anonymous → user stitching."""

from __future__ import annotations

import json
from datetime import date

import psycopg
import pytest

from dagster_project.simulate.everreach import create_tables
from tests.conftest import run_dbt
from tests.integration.test_everreach_pipeline import SRC, land

D1, D2, D3 = "2026-03-02", "2026-03-03", "2026-03-04"
# seed 003: the collector fills context with platform, app_build, device_model
CTX = json.dumps({"platform": "android", "app_build": "2.14.1", "device_model": "Pixel 8"})

# (person, anonymous_id, user_id or None, event, occurred_at)
EVENTS = [
    # A: every step in order, the purchase on day 4 → counts all six
    ("a1", None, "signup_started", f"{D1} 10:00"),
    ("a1", "u1", "signup_completed", f"{D1} 10:05"),
    ("a1", "u1", "onboarding_completed", f"{D1} 10:10"),
    ("a1", "u1", "aha_reached", f"{D1} 10:20"),
    ("a1", "u1", "aha_reached", f"{D1} 10:20"),  # delivered twice (see below)
    ("a1", "u1", "trial_started", f"{D3} 09:00"),
    ("a1", "u1", "purchase_succeeded", "2026-03-06 12:00"),
    # B: aha before onboarding, never again after → stops after onboarding_completed;
    # its trial_started does not count (its previous step is missing)
    ("a2", None, "signup_started", f"{D1} 11:00"),
    ("a2", "u2", "signup_completed", f"{D1} 11:01"),
    ("a2", "u2", "aha_reached", f"{D1} 11:05"),
    ("a2", "u2", "onboarding_completed", f"{D1} 11:10"),
    ("a2", "u2", "trial_started", f"{D1} 11:20"),
    # C: skipped onboarding → only signup_completed
    ("a3", None, "signup_started", f"{D1} 12:00"),
    ("a3", "u3", "signup_completed", f"{D1} 12:02"),
    ("a3", "u3", "aha_reached", f"{D1} 12:30"),
    ("a3", "u3", "trial_started", f"{D1} 12:40"),
    # D: onboarding_completed 18 days later → outside 14 days, inside 30
    ("a4", None, "signup_started", f"{D1} 23:30"),
    ("a4", "u4", "signup_completed", f"{D2} 00:10"),
    ("a4", "u4", "onboarding_completed", "2026-03-20 08:00"),
    # E: never finished signing up (day 2)
    ("a5", None, "signup_started", f"{D2} 09:00"),
    # F: signup_completed without signup_started → in no cohort
    ("a6", "u6", "signup_completed", f"{D2} 10:00"),
    ("a6", "u6", "onboarding_completed", f"{D2} 10:05"),
    # G: started twice (day 2 and 3): cohort day 2; completed on day 3
    ("a7", None, "signup_started", f"{D2} 22:00"),
    ("a7", None, "signup_started", f"{D3} 08:00"),
    ("a7", "u7", "signup_completed", f"{D3} 08:03"),
    # H: signup_completed at the very same instant as signup_started → not after it
    ("a8", None, "signup_started", f"{D3} 10:00"),
    ("a8", "u8", "signup_completed", f"{D3} 10:00"),
]

# cohort day: started, completed, onboarded, aha, trial, purchase
EXPECTED_14 = {
    date(2026, 3, 2): (4, 4, 2, 1, 1, 1),
    date(2026, 3, 3): (2, 1, 0, 0, 0, 0),
    date(2026, 3, 4): (1, 0, 0, 0, 0, 0),
}
EXPECTED_30 = EXPECTED_14 | {date(2026, 3, 2): (4, 4, 3, 1, 1, 1)}


@pytest.fixture
def fixture_landed(conn, warehouse_url):
    with psycopg.connect(warehouse_url) as app:
        app.execute(f"drop schema if exists {SRC} cascade")
        create_tables(app, schema=SRC)
        rows = []
        for person, user, name, at in EVENTS:
            props = json.dumps({"method": "email"} if name.startswith("signup") else {})
            rows.append((f"{person}-{name}-{at}", name, user, f"anon-{person}", f"{at}+00",
                         CTX, props, f"{at}+00"))  # fmt: skip
        # the duplicate delivery keeps its id but arrives later
        rows = [(r[0] if i != 4 else rows[3][0], *r[1:]) for i, r in enumerate(rows)]
        with (
            app.cursor() as cur,
            cur.copy(
                f"copy {SRC}.app_events (id, event_name, user_id, anonymous_id, occurred_at, "
                "context, properties, created_at) from stdin"
            ) as copy,
        ):
            for row in rows:
                copy.write_row(row)
        app.commit()
    land(warehouse_url, conn)
    yield
    with psycopg.connect(warehouse_url, autocommit=True) as app:
        app.execute(f"drop schema if exists {SRC} cascade")


def _funnel(conn) -> dict:
    conn.commit()
    rows = conn.execute(
        """
        select cohort_date, signup_started_users, signup_completed_users,
               onboarding_completed_users, aha_reached_users, trial_started_users,
               purchase_succeeded_users, window_days, signup_completed_rate
        from marts.fct_onboarding_funnel order by cohort_date
        """
    ).fetchall()
    conn.commit()  # end the read, or the next dbt run waits on this transaction's lock
    return {r[0]: r[1:] for r in rows}


def test_strict_order_window_and_skipped_steps(fixture_landed, conn):
    run_dbt("build", "--quiet", "--select", "everreach_event_types", "+fct_onboarding_funnel")
    got = _funnel(conn)
    assert {d: v[:6] for d, v in got.items()} == EXPECTED_14
    assert all(v[6] == 14 for v in got.values())
    assert float(got[date(2026, 3, 3)][7]) == 50.0
    run_dbt("run", "--quiet", "--select", "fct_onboarding_funnel",
            "--vars", "{onboarding_window_days: 30}")  # fmt: skip
    got = _funnel(conn)
    assert {d: v[:6] for d, v in got.items()} == EXPECTED_30
    assert all(v[6] == 30 for v in got.values())
