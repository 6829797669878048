"""YesGoddess marts against a pandas recomputation from raw, and partition re-runs."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import psycopg
import pytest

from dagster_project.dbt_vars import window_vars
from dagster_project.ingest.extract_load import extract_load_system
from dagster_project.ingest.user_agents import parse_new_user_agents
from dagster_project.simulate.yesgoddess import create_tables, simulate_yesgoddess
from tests.conftest import run_dbt
from tests.integration.test_yesgoddess_staging import (
    PROP_NAMES,
    _expected_reason,
    _frame,
    first_prop,
)

SCHEMA = "ygm_src"
END = date(2026, 3, 31)
SELECT = (
    "source:yesgoddess+",
    "source:enrichment+",
    "yesgoddess_event_types",
    "utm_source_aliases",
)
ALIASES = {"ig": "instagram", "insta": "instagram", "fb": "facebook", "tw": "twitter"}


def _land(conn, url: str) -> None:
    extract_load_system(conn, url, "yesgoddess", schema=SCHEMA)
    parse_new_user_agents(conn, "yesgoddess__attribution", "user_agent")


def _build(*extra: str) -> None:
    # the cross-app marts need the other apps' tables: tested in test_active_users
    run_dbt("build", "--quiet", "--select", *SELECT, "--exclude", "int_user_days_unioned+", *extra)


@pytest.fixture
def marts(conn, warehouse_url):
    with psycopg.connect(warehouse_url) as app:
        app.execute(f"drop schema if exists {SCHEMA} cascade")
        create_tables(app, schema=SCHEMA)
        simulate_yesgoddess(
            app, days=3, events_per_day=2000, seed=5, end=END, schema=SCHEMA,
            duplicate_share=0.05, late_share=0.05, pii_share=0.03, malformed_share=0.03,
        )  # fmt: skip
    _land(conn, warehouse_url)
    _build()
    yield conn
    with psycopg.connect(warehouse_url, autocommit=True) as app:
        app.execute(f"drop schema if exists {SCHEMA} cascade")


def _usable_events(conn) -> pd.DataFrame:
    """Staging recomputed: usable arrivals, first arrival of each (occurred_at, id)."""
    raw = _frame(conn, "select * from raw.yesgoddess__events")
    raw = raw[raw.apply(_expected_reason, axis=1).isna()]
    events = raw.sort_values("ingest_seq").drop_duplicates(["occurred_at", "id"])
    events["date"] = events["occurred_at"].dt.tz_convert("UTC").dt.date
    props = events["props_json"]
    names = PROP_NAMES
    events["revenue"] = props.map(lambda p: first_prop(p, names["revenue_cents"]) or 0)
    events["engagement"] = props.map(lambda p: first_prop(p, names["engagement_ms"]) or 0)
    events["visitor"] = events["actor_id"].map(lambda a: f"actor:{a}", na_action="ignore")
    events["visitor"] = events["visitor"].fillna("session:" + events["session_id"])
    return events


def _sessions(conn, events: pd.DataFrame) -> pd.DataFrame:
    """Each session's first landing (by occurred_at) with its normalized attribution."""
    attribution = _frame(
        conn,
        "select a.*, u.device_type as ua_device, u.browser as ua_browser, u.os as ua_os "
        "from raw.yesgoddess__attribution a left join raw.user_agents u using (user_agent)",
    )
    landed = attribution.merge(
        events[["id", "session_id", "occurred_at"]], left_on="event_id", right_on="id"
    ).sort_values("occurred_at")
    sessions = landed.drop_duplicates("session_id").copy()

    def norm(value):
        if value is None or pd.isna(value) or not value.strip():
            return None
        return ALIASES.get(value.strip().lower(), value.strip().lower())

    sessions["utm_source"] = sessions["utm_source"].map(norm)
    for col in ("utm_medium", "utm_campaign"):
        sessions[col] = sessions[col].map(lambda v: norm(v) and v.strip().lower())
    for col in ("device_type", "browser", "os"):
        filled = sessions[col].where(sessions[col].fillna("") != "")
        sessions[col] = filled.fillna(sessions[f"ua_{col.split('_')[0]}"])
    return sessions


def _counts(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    grouped = df.groupby(keys, dropna=False)
    return pd.DataFrame(
        {
            "views": grouped["event_type"].agg(lambda s: (s == "asset_viewed").sum()),
            "clicks": grouped["event_type"].agg(
                lambda s: s.isin(["asset_downloaded", "license_clicked"]).sum()
            ),
            "conversions": grouped["event_type"].agg(lambda s: (s == "license_created").sum()),
            "revenue_cents": grouped["revenue"].sum(),
            "unique_visitors": grouped["visitor"].nunique(),
        }
    )


def _mart(conn, table: str, keys: list[str]) -> pd.DataFrame:
    df = _frame(conn, f"select * from marts.{table}")
    return df.set_index(keys).sort_index()


def _keyed(df: pd.DataFrame) -> pd.DataFrame:
    """Null grain members as one comparable value (NaN never equals NaN)."""
    keys = list(df.index.names)
    flat = df.reset_index()
    flat[keys] = flat[keys].astype(object).where(flat[keys].notna(), "<null>")
    return flat.set_index(keys).sort_index()


def _assert_equal(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    actual, expected = _keyed(actual), _keyed(expected)
    assert len(actual) == len(expected) > 0
    assert list(actual.index) == list(expected.index)
    for col in expected.columns:
        got = actual[col].astype(float).tolist()
        want = expected[col].astype(float).tolist()
        assert got == pytest.approx(want), col


def test_daily_metrics_equal_a_recomputation(marts):
    events = _usable_events(marts)
    keys = ["date", "project_id", "ip_asset_id", "license_id"]
    expected = _counts(events, keys)
    expected["engagement_time"] = events.groupby(keys, dropna=False)["engagement"].sum() / 1000
    actual = _mart(marts, "fct_daily_metrics", keys)
    _assert_equal(actual, expected)
    assert json.loads(json.dumps(actual["metadata"].iloc[0]))["events"] >= 1


def test_campaign_performance_equals_a_recomputation(marts):
    events = _usable_events(marts)
    sessions = _sessions(marts, events)
    attributed = events.merge(
        sessions[["session_id", "utm_source", "utm_medium", "utm_campaign"]], on="session_id"
    )
    keys = ["date", "utm_source", "utm_medium", "utm_campaign"]
    expected = _counts(attributed, keys)
    expected["sessions"] = attributed.groupby(keys, dropna=False)["session_id"].nunique()
    actual = _mart(marts, "fct_campaign_performance_daily", keys)
    _assert_equal(actual, expected)
    assert "instagram" in set(actual.index.get_level_values("utm_source"))
    assert not {"ig", "IG", "Instagram"} & set(actual.index.get_level_values("utm_source"))


def test_traffic_by_device_equals_a_recomputation(marts):
    events = _usable_events(marts)
    sessions = _sessions(marts, events)
    located = events.merge(
        sessions[["session_id", "device_type", "browser", "os"]], on="session_id", how="left"
    )
    for col in ("device_type", "browser", "os"):
        located[col] = located[col].fillna("unknown")
    keys = ["date", "device_type", "browser", "os"]
    expected = _counts(located, keys)[["conversions", "revenue_cents", "unique_visitors"]]
    expected["events"] = located.groupby(keys)["id"].size()
    expected["sessions"] = located.groupby(keys)["session_id"].nunique()
    actual = _mart(marts, "fct_traffic_by_device_daily", keys)
    _assert_equal(actual, expected)
    assert {"desktop", "mobile"} <= set(actual.index.get_level_values("device_type"))


def _window(day: date) -> str:
    return json.dumps(window_vars(day, day + timedelta(days=1)))


def test_a_late_event_changes_exactly_its_days_partition(marts, warehouse_url):
    tables = ("fct_daily_metrics", "fct_campaign_performance_daily", "fct_traffic_by_device_daily")
    before = {t: _frame(marts, f"select * from marts.{t}") for t in tables}
    day = date(2026, 3, 30)

    _build("--vars", _window(day))  # a re-run of a built partition changes nothing
    for t in tables:
        pd.testing.assert_frame_equal(
            _frame(marts, f"select * from marts.{t} order by 1, 2, 3, 4").reset_index(drop=True),
            before[t].sort_values(list(before[t].columns[:4])).reset_index(drop=True),
        )

    with psycopg.connect(warehouse_url) as app:  # a view of asset A-late, arriving today
        app.execute(
            f"insert into {SCHEMA}.events (id, occurred_at, source, event_type, actor_type, "
            "actor_id, project_id, ip_asset_id, props_json, session_id, created_at) values "
            "('late-1', '2026-03-30 12:00+00', 'web', 'asset_viewed', 'brand', 'late-actor', "
            "'late-project', 'late-asset', '{\"engagement_ms\": 2500}', 'late-session', now())"
        )
    _land(marts, warehouse_url)
    _build("--vars", _window(day))

    after = _frame(marts, "select * from marts.fct_daily_metrics")
    added = after[after["ip_asset_id"] == "late-asset"]
    assert added[["views", "unique_visitors"]].values.tolist() == [[1, 1]]
    assert added["date"].tolist() == [day]
    unchanged = after[after["ip_asset_id"] != "late-asset"]
    pd.testing.assert_frame_equal(
        unchanged.sort_values(["date", "project_id", "ip_asset_id", "license_id"]).reset_index(
            drop=True
        ),
        before["fct_daily_metrics"]
        .sort_values(["date", "project_id", "ip_asset_id", "license_id"])
        .reset_index(drop=True),
    )
    _assert_equal(
        _mart(marts, "fct_daily_metrics", ["date", "project_id", "ip_asset_id", "license_id"])[
            ["views", "clicks", "conversions"]
        ],
        _counts(_usable_events(marts), ["date", "project_id", "ip_asset_id", "license_id"])[
            ["views", "clicks", "conversions"]
        ],
    )
