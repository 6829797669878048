"""Mashups daily marts on partition windows: a re-run is idempotent, a late event changes
only its own day, a redelivery of it changes nothing, and the partitions add up to a full
rebuild."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from tests.conftest import run_dbt
from tests.mashups_fixture import SRC, drop_project_schemas, extract_load_mashups, land

END = date(2026, 3, 31)
LATE_DAY = END - timedelta(days=3)
DAILY_MARTS = {
    "fct_mashup_daily_stats": "mashup_id, date",
    "fct_user_daily_stats": "user_id, date",
    "fct_mashup_traffic_sources_daily": "date, source",
    "fct_mashup_countries_daily": "date, country",
    "fct_mashup_devices_daily": "date, device",
    "fct_mashup_plays_hourly": "date, hour_of_day",
    "fct_subscription_upgrades_daily": "date, from_tier, to_tier",
}
UPGRADES = "fct_subscription_upgrades_daily"
LATE_IDS = ("late-play-1", "late-upgrade-1")


@pytest.fixture
def built(fresh_warehouse):
    land(fresh_warehouse, days=6, events_per_day=600, seed=5, end=END, late_share=0.03)
    _build()
    yield fresh_warehouse
    drop_project_schemas(fresh_warehouse)


def _build(window: tuple[date, date] | None = None, *extra: str) -> None:
    args = [
        "build",
        "--quiet",
        "--select",
        "source:mashups+",
        "mashups_event_types",
        "--exclude",
        "int_user_days_unioned+",
        *extra,
    ]  # cross-app: test_active_users
    if window:
        args += ["--vars", json.dumps({"min_date": str(window[0]), "max_date": str(window[1])})]
    run_dbt(*args)


def _snapshot(url: str) -> dict[str, dict[date, list[tuple]]]:
    """Each daily mart's rows, by date."""
    out: dict[str, dict[date, list[tuple]]] = {}
    with psycopg.connect(url) as conn:
        for table, order in DAILY_MARTS.items():
            cur = conn.execute(f"select * from marts.{table} order by {order}")
            at = [c.name for c in cur.description].index("date")
            by_day = out.setdefault(table, {})
            for row in cur:
                by_day.setdefault(row[at], []).append(tuple(row))
    return out


def _deliver_late_events(url: str) -> str:
    """A play and a signed-in listener's upgrade (trackUpgrade) of LATE_DAY 20:30 UTC
    arriving now (days late), through the extract-load."""
    at = datetime(LATE_DAY.year, LATE_DAY.month, LATE_DAY.day, 20, 30, tzinfo=UTC)
    with psycopg.connect(url) as app:
        mashup_id = app.execute(f"select id from {SRC}.mashups order by id limit 1").fetchone()[0]
        props = {"mashup_id": mashup_id, "source": "embed", "autoPlay": False,
                 "country": "IS", "device": "tablet"}  # fmt: skip
        insert = (
            f"insert into {SRC}.analytics_events"
            " (id, user_id, event_type, properties, timestamp, session_id, received_at)"
            " values (%s, %s, %s, %s, %s, 'late-session', now())"
        )
        app.execute(insert, [LATE_IDS[0], None, "mashup_played", json.dumps(props), at])
        upgrade = {"from": "pro", "to": "studio"}
        app.execute(insert, [LATE_IDS[1], "late-listener", "subscription_upgraded",
                             json.dumps(upgrade), at])  # fmt: skip
    extract_load_mashups(url)
    return mashup_id


def test_partition_reruns_are_idempotent_and_late_events_touch_only_their_day(built):
    url = built
    before = _snapshot(url)
    # upgrades are rare (a few signed-in sessions in a hundred): at 600 events a day that
    # mart has a few of the days, LATE_DAY among them (seed 5); the play marts have all
    assert all(len(days) == 6 for t, days in before.items() if t != UPGRADES)
    assert len(before[UPGRADES]) >= 2 and LATE_DAY in before[UPGRADES]
    window = (LATE_DAY, LATE_DAY + timedelta(days=1))

    _build(window)  # the same partition again
    assert _snapshot(url) == before

    mashup_id = _deliver_late_events(url)
    _build(window)
    after = _snapshot(url)
    for table, days in after.items():
        assert days.keys() == before[table].keys(), table
        for day, rows in days.items():
            if day != LATE_DAY:
                assert rows == before[table][day], (table, day)
    changed = {t for t in after if after[t][LATE_DAY] != before[t][LATE_DAY]}
    # the play reaches every play mart (the creator's too), the upgrade its own
    assert changed == set(DAILY_MARTS)

    def row(table, key):
        new = next((r for r in after[table][LATE_DAY] if key(r)), None)
        return new, next((r for r in before[table][LATE_DAY] if key(r)), None)

    new, old = row("fct_mashup_daily_stats", lambda r: r[0] == mashup_id)
    assert new[2] == (old[2] if old else 0) + 1  # plays
    new, old = row("fct_mashup_countries_daily", lambda r: r[1] == "IS")
    assert old is None and new[2:5] == (1, 1, 1)
    new, old = row("fct_mashup_plays_hourly", lambda r: r[1] == 20)
    assert new[2] == old[2] + 1
    new, old = row(UPGRADES, lambda r: r[1:3] == ("pro", "studio"))
    # one more upgrade, by one more user (the late listener has no other event that day)
    assert new[3:5] == ((old[3] + 1, old[4] + 1) if old else (1, 1))

    # a redelivery of the late events (same id and timestamp) counts once
    with psycopg.connect(url) as app:
        app.execute(
            f"insert into {SRC}.analytics_events"
            " (id, user_id, event_type, properties, timestamp, session_id, received_at)"
            f" select id, user_id, event_type, properties, timestamp, session_id, now()"
            f" from {SRC}.analytics_events where id = any(%s)",
            [list(LATE_IDS)],
        )
    extract_load_mashups(url)
    _build(window)
    assert _snapshot(url) == after

    # the partitions add up to a full rebuild
    _build(None, "--full-refresh")
    assert _snapshot(url) == after
