"""Daily/weekly/monthly active users: a hand-computed fixture, and a late day's rebuild
reaching the rolling counts of the days after it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import psycopg
import pytest

from dagster_project.ingest.extract_load import extract_load, source_engine
from dagster_project.ingest.source_tables import SOURCE_TABLES
from dagster_project.simulate.yesgoddess import create_tables
from tests.conftest import land_empty_sources, run_dbt

SCHEMA = "au_src"
SELECT = ("+int_user_days_unioned+",)

# user, occurred_at; None = anonymous. A is active Monday 2 March and twice on Tuesday.
EVENTS = [
    ("A", "2026-03-02 10:00"),
    ("A", "2026-03-03 09:00"),
    ("A", "2026-03-03 23:59"),
    ("B", "2026-03-03 00:00"),
    ("C", "2026-02-10 12:00"),  # 21 days before 3 March: monthly, not weekly
    ("D", "2026-01-20 12:00"),  # 42 days before: in neither
    (None, "2026-03-03 12:00"),  # anonymous: not a user
]


def _insert(app, rows, first_id: int, arrived: str | None = None) -> None:
    """Events as the app writes them: created_at is the arrival (default: when it happened)."""
    with app.cursor().copy(
        f"copy {SCHEMA}.events (id, occurred_at, source, event_type, actor_type, actor_id, "
        "props_json, session_id, created_at) from stdin"
    ) as copy:
        for n, (user, at) in enumerate(rows, first_id):
            stamp = f"{at}+00"
            copy.write_row((f"ev-{n}", stamp, "web", "asset_viewed", "brand" if user else
                            "anonymous", user, "{}", f"s-{n}", arrived or stamp))  # fmt: skip


def _land(conn, url: str) -> None:
    land_empty_sources(conn, url, systems=("everreach", "mashups"))  # no events there
    engine = source_engine(url)
    spec = next(s for s in SOURCE_TABLES if s.raw_table == "yesgoddess__events")
    extract_load(conn, engine, replace(spec, schema=SCHEMA))
    engine.dispose()


def _actives(conn) -> dict:
    rows = conn.execute(
        "select date, dau, wau, mau from marts.fct_active_users_daily where app = 'yesgoddess'"
    )
    return {d.isoformat(): (dau, wau, mau) for d, dau, wau, mau in rows}


@pytest.fixture
def app(conn, warehouse_url):
    with psycopg.connect(warehouse_url) as app:
        app.execute(f"drop schema if exists {SCHEMA} cascade")
        create_tables(app, schema=SCHEMA)
        _insert(app, EVENTS, 1)
        # the same delivery of A's Tuesday event, twice: counts once
        app.execute(
            f"insert into {SCHEMA}.events (id, occurred_at, source, event_type, actor_type, "
            "actor_id, props_json, session_id, created_at) select id, occurred_at, source, "
            f"event_type, actor_type, actor_id, props_json, session_id, created_at "
            f"from {SCHEMA}.events where id = 'ev-2'"
        )
        app.commit()
        yield app
    with psycopg.connect(warehouse_url, autocommit=True) as db:
        db.execute(f"drop schema if exists {SCHEMA} cascade")


def test_weekly_and_monthly_actives_are_distinct_users_of_the_period(app, conn, warehouse_url):
    _land(conn, warehouse_url)
    run_dbt("build", "--quiet", "--select", *SELECT)
    actives = _actives(conn)
    assert actives["2026-03-03"] == (2, 2, 3)  # A and B; C only monthly; D in neither
    assert actives["2026-03-02"] == (1, 1, 2)  # A; C monthly
    assert actives["2026-02-10"] == (1, 1, 2)  # C; D (21 days before) monthly
    assert actives["2026-01-20"] == (1, 1, 1)
    assert set(actives) == {"2026-01-20", "2026-02-10", "2026-03-02", "2026-03-03"}
    stickiness = conn.execute(
        "select stickiness_pct from marts.fct_active_users_daily where date = '2026-03-03'"
    ).fetchone()[0]
    assert float(stickiness) == pytest.approx(66.67)


def test_a_late_day_rebuild_reaches_the_rolling_counts_after_it(app, conn, warehouse_url):
    _land(conn, warehouse_url)
    run_dbt("build", "--quiet", "--select", *SELECT)
    _insert(
        app, [("E", "2026-02-27 08:00")], 100, arrived="2026-03-04 10:00+00"
    )  # arrives late, for 27 February
    app.commit()
    _land(conn, warehouse_url)
    window = json.dumps({"min_date": "2026-02-27", "max_date": "2026-02-28"})
    run_dbt("build", "--quiet", "--select", *SELECT, "--vars", window)
    actives = _actives(conn)
    assert actives["2026-02-27"] == (1, 1, 2)  # E; C (17 days before) monthly; D (38) not
    assert actives["2026-03-02"] == (1, 2, 3)  # A; E within 7 days; C monthly
    assert actives["2026-03-03"] == (2, 3, 4)  # A, B; E within 7 days; C monthly
    assert actives["2026-01-20"] == (1, 1, 1)  # before the window: untouched
    assert date(2026, 2, 10).isoformat() in actives
