"""The realtime dashboard's activeUsers and playingNow (docs/DASHBOARDS.md): a simulated
day up to now plus hand-written listeners in the app's event shape, landed by the
`mashups_events_realtime` job the 5-minute schedule runs (real Dagster, dbt, PostgreSQL),
the published queries compared with the rules applied here to the raw rows."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg
import pytest
from dagster import DagsterInstance

from dagster_project.definitions import defs
from dagster_project.simulate.mashups import simulate_mashups
from tests.conftest import run_dbt
from tests.dashboards_doc import QUERIES as DASHBOARDS
from tests.integration.test_mashups_staging_marts import _expected_reason
from tests.mashups_fixture import SRC, drop_project_schemas

PLAYBACK = ("mashup_played", "mashup_play_completed", "mashup_skipped")
# (listener, session, event_type, mashup, minutes ago); id h<i>, a second delivery of h8
HAND = [
    ("u-h1", "s1", "mashup_played", "m-h1", 3),  # playing m-h1
    ("u-h2", "s2", "mashup_played", "m-h1", 10),
    ("u-h2", "s2", "mashup_play_completed", "m-h1", 2),  # finished: active, not playing
    ("u-h3", "s3", "mashup_played", "m-h2", 12),  # no end (tab closed): still counted
    ("u-h4", "s4", "mashup_played", "m-h1", 20),  # no end, past 15 minutes: gone
    ("u-h5", "s5", "mashup_played", "m-h2", 8),
    ("u-h5", "s5", "mashup_played", "m-h1", 4),  # the next play ends the one before
    (None, "s6", "mashup_played", "m-h2", 1),  # anonymous: the session listens
    ("u-h7", "s7", "mashup_liked", "m-h3", 1),  # active, not playing
    ("u-h8", "s8", "mashup_played", "m-h3", 2),  # delivered twice below
    ("u-h9", "s9", "mashup_playedd", "m-h3", 1),  # not in the taxonomy: quarantined
    ("u-h10", "s10", "mashup_played", "m-h3", -30),  # a clock 30 minutes ahead: not yet
]


@pytest.fixture(scope="module")
def landed():
    """A simulated day up to now, landed by the job and built (staging and the view)."""
    url = os.environ["WAREHOUSE_URL"]
    drop_project_schemas(url)
    with psycopg.connect(url) as app:
        # two days: at 00:05 UTC the last minutes are yesterday's
        simulate_mashups(app, schema=SRC, days=2, events_per_day=20_000, seed=8)
    with pytest.MonkeyPatch.context() as patch:
        _land(url, patch)
    run_dbt("build", "--quiet", "--select", "+mashup_recent_events")
    yield url
    drop_project_schemas(url)


def _write_hand_events(url: str) -> None:
    now = datetime.now(UTC)
    rows = [
        (
            f"h{i}",
            user,
            kind,
            json.dumps({"mashup_id": mashup}),
            now - timedelta(minutes=ago),
            session,
            now,
        )
        for i, (user, session, kind, mashup, ago) in enumerate(HAND)
    ]
    rows.append(rows[9])
    with psycopg.connect(url) as app:
        app.cursor().executemany(
            f"insert into {SRC}.analytics_events (id, user_id, event_type, properties, "
            '"timestamp", session_id, received_at) values (%s, %s, %s, %s, %s, %s, %s)',
            rows,
        )


def _land(url: str, monkeypatch) -> None:
    """The job the 5-minute schedule runs, as Dagster runs it."""
    monkeypatch.setenv("SOURCE_MASHUPS_URL", f"{url}?options=-csearch_path%3D{SRC}")
    result = defs.resolve_job_def("mashups_events_realtime").execute_in_process(
        instance=DagsterInstance.ephemeral(), raise_on_error=False
    )
    failures = [e.step_failure_data.error for e in result.all_events if e.is_step_failure]
    assert result.success, [f.message for f in failures if f]
    landed = {tuple(e.asset_key.path) for e in result.get_asset_materialization_events()}
    assert landed == {("raw", "mashups__analytics_events")}


def _expected(conn, now: datetime) -> tuple[int, dict[str, int]]:
    cur = conn.execute("select * from raw.mashups__analytics_events")
    raw = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description], dtype=object)
    raw = raw[raw.apply(_expected_reason, axis=1).isna()].sort_values("ingest_seq")
    ev = raw.drop_duplicates(["timestamp", "id"], keep="first").copy()
    ev["user_key"] = [
        u if u is not None else f"session:{s}"
        for u, s in zip(ev["user_id"], ev["session_id"], strict=True)
    ]
    ev["mashup_id"] = [p.get("mashup_id") for p in ev["properties"]]
    recent = ev[(ev["timestamp"] > now - timedelta(minutes=15)) & (ev["timestamp"] <= now)]
    active = recent.loc[recent["timestamp"] > now - timedelta(minutes=5), "user_key"].nunique()
    playback = recent[recent["event_type"].isin(PLAYBACK)].sort_values(["timestamp", "id"])
    latest = playback.drop_duplicates("user_key", keep="last")
    playing = latest[latest["event_type"] == "mashup_played"]["mashup_id"].value_counts()
    return active, dict(playing)


def test_active_users_and_playing_now(landed, monkeypatch):
    # the hand listeners arrive after the build: the next landing brings them, no dbt run
    _write_hand_events(landed)
    _land(landed, monkeypatch)
    with psycopg.connect(landed) as conn:
        # one transaction: the queries' now() and the one the expectation uses are the same
        now = conn.execute("select now()").fetchone()[0]
        (active,) = conn.execute(DASHBOARDS["mashups_active_users"]).fetchone()
        playing = dict(conn.execute(DASHBOARDS["mashups_playing_now"]).fetchall())
        order = [n for _, n in conn.execute(DASHBOARDS["mashups_playing_now"]).fetchall()]
        expected_active, expected_playing = _expected(conn, now)
    assert active == expected_active
    assert playing == expected_playing
    assert order == sorted(order, reverse=True)
    # the hand listeners: u-h1 and u-h5 on m-h1, u-h3 and the anonymous session on m-h2,
    # u-h8 once on m-h3; active in 5 minutes: u-h1, u-h2, u-h5, s6, u-h7, u-h8
    assert {m: n for m, n in playing.items() if m.startswith("m-h")} == {
        "m-h1": 2,
        "m-h2": 2,
        "m-h3": 1,
    }
    simulated = expected_active - 6
    assert simulated > 0 and len(playing) > 3  # the simulated listeners are in it too


def test_the_schedule_runs_that_job_every_5_minutes():
    schedule = defs.resolve_schedule_def("mashups_events_every_5_minutes")
    assert (schedule.cron_schedule, schedule.job_name) == ("*/5 * * * *", "mashups_events_realtime")
