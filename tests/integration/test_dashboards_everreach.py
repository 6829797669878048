"""EverReach's dashboard queries (docs/DASHBOARDS.md, "EverReach"), run as written on a
simulated app database (duplicates, late, malformed events) plus a few hand-written users,
landed and built with real dbt; every figure is compared with a pandas computation from
the raw rows (the staging rules recomputed, not read from staging or the marts)."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import psycopg
import pytest

from dagster_project.ingest.extract_load import extract_load_system
from dagster_project.simulate.everreach import FEEDBACK_EVENTS, create_tables, simulate_everreach
from tests.conftest import PROJECT_SCHEMAS, drop_schemas, run_dbt
from tests.dashboards_doc import QUERIES as DASHBOARDS
from tests.integration.test_everreach_pipeline import _reason, expected_funnel

SRC = "er_dash"
END = date(2026, 3, 31)
DAYS = 8
START = END - timedelta(days=DAYS - 1)
# the whole simulated range, a sub-period, and a period before any data
PERIODS = (
    (START, END),
    (END - timedelta(days=4), END - timedelta(days=2)),
    (date(2025, 1, 1), date(2025, 1, 31)),
)
CTX = json.dumps({"platform": "ios", "app_build": "2.14.1", "device_model": "iPhone15,2"})
# (event id, user_id, anonymous_id, event_name, occurred_at): users the simulator never
# makes (a purchase before the trial), a duplicate delivery, an anonymous event
HAND = [
    ("h1", "u-buy-first", "a-buy", "purchase_succeeded", "2026-03-26 10:00"),
    ("h2", "u-buy-first", "a-buy", "trial_started", "2026-03-26 11:00"),
    ("h3", "u-trial-buy", "a-trial", "trial_started", "2026-03-26 10:00"),
    ("h4", "u-trial-buy", "a-trial", "trial_expired", "2026-03-28 10:00"),
    ("h5", "u-trial-buy", "a-trial", "purchase_succeeded", "2026-03-29 10:00"),
    ("h6", "u-aha", "a-aha", "aha_reached", "2026-03-27 09:00"),
    ("h6", "u-aha", "a-aha", "aha_reached", "2026-03-27 09:00"),  # delivered twice
    ("h7", None, "a-aha", "app_opened", "2026-03-27 08:00"),  # before signup: not the user's
]


@pytest.fixture(scope="module")
def db():
    url = os.environ["WAREHOUSE_URL"]
    drop_schemas(url, *PROJECT_SCHEMAS, SRC)
    with psycopg.connect(url) as app:
        create_tables(app, schema=SRC)
        simulate_everreach(
            app,
            days=DAYS,
            events_per_day=1_500,
            seed=29,
            end=END,
            schema=SRC,
            duplicate_share=0.03,
            late_share=0.03,
            pii_share=0.01,
            malformed_share=0.02,
        )
        with app.cursor() as cur:
            cur.executemany(
                f"insert into {SRC}.app_events (id, event_name, user_id, anonymous_id, "
                "occurred_at, context, properties, created_at) values (%s, %s, %s, %s, %s, %s, "
                "'{}', %s)",
                [
                    (i, name, user, anon, f"{at}+00", CTX, f"{at}+00")
                    for i, user, anon, name, at in HAND
                ],
            )
        app.commit()
    with psycopg.connect(url) as conn:
        extract_load_system(conn, url, "everreach", schema=SRC)
    run_dbt(
        "build",
        "--quiet",
        "--select",
        "everreach_event_types",
        "source:everreach+",
        "--exclude",
        "int_user_days_unioned+",
    )  # cross-app: test_active_users
    with psycopg.connect(url) as conn:
        yield conn
    drop_schemas(url, SRC)


def _frame(conn, query: str) -> pd.DataFrame:
    cur = conn.execute(query)
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def _day(t: datetime) -> date:
    return t.astimezone(UTC).date()


@pytest.fixture(scope="module")
def events(db) -> pd.DataFrame:
    """The usable events, first arrival of each (occurred_at, id), from the raw rows."""
    raw = _frame(db, "select * from raw.everreach__app_events")
    raw["reason"] = raw.apply(_reason, axis=1)
    ok = raw[raw["reason"].isna()].sort_values("ingest_seq")
    ev = ok.drop_duplicates(["occurred_at", "id"], keep="first").copy()
    ev["user_key"] = ev["user_id"].where(ev["user_id"].notna(), "anon:" + ev["anonymous_id"])
    ev["placement"] = ev["properties"].map(lambda p: p.get("placement"))
    ev["response_id"] = ev["properties"].map(lambda p: p.get("response_id"))
    ev["day"] = ev["occurred_at"].map(_day)
    assert len(raw) > len(ev) > 5_000 and raw["reason"].notna().any()
    return ev


def _run(conn, name: str, **params) -> pd.DataFrame:
    values = {"from": None, "to": None, "user_id": None, "event_name": None, **params}
    cur = conn.execute(DASHBOARDS[name], values)
    frame = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description], dtype=object)
    conn.commit()
    return frame


def _rate(numerator, denominator, places: str = "0.01", scale: int = 100) -> Decimal | None:
    if not denominator:
        return None
    value = Decimal(int(numerator) * scale) / Decimal(int(denominator))
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _n(value) -> int | None:
    """A count as a Python int (SQL sums are numeric, pandas' are numpy), None kept."""
    return None if value is None else int(value)


def _in(days: pd.Series, period) -> pd.Series:
    return (days >= period[0]) & (days <= period[1])


# --- helper functions ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def users(events) -> pd.DataFrame:
    """get_user_event_count, has_reached_aha_moment, has_converted_from_trial per user."""
    mine = events[events["user_id"].notna()]
    g = mine.groupby("user_id")
    trial = mine[mine["event_name"] == "trial_started"].groupby("user_id")["occurred_at"].min()
    buys = mine[mine["event_name"] == "purchase_succeeded"][["user_id", "occurred_at"]]
    after = buys.merge(trial.rename("trial_at"), left_on="user_id", right_index=True)
    converted = set(after.loc[after["occurred_at"] > after["trial_at"], "user_id"])
    out = pd.DataFrame(
        {
            "event_count": g.size(),
            "first_seen_at": g["occurred_at"].min(),
            "last_seen_at": g["occurred_at"].max(),
            "has_reached_aha_moment": g["event_name"].apply(lambda n: (n == "aha_reached").any()),
        }
    )
    out["has_converted_from_trial"] = out.index.isin(converted)
    return out.sort_index()


def test_user_helpers_for_every_user(db, users):
    got = _run(db, "everreach_user").set_index("user_id")
    assert list(got.index) == list(users.index)
    for column in users.columns:
        assert (got[column] == users[column]).all(), column
    assert users["has_reached_aha_moment"].any() and not users["has_reached_aha_moment"].all()
    assert users["has_converted_from_trial"].sum() >= 2
    hand = got.loc[["u-buy-first", "u-trial-buy", "u-aha"]]
    assert list(hand["has_converted_from_trial"]) == [False, True, False]
    assert list(hand["has_reached_aha_moment"]) == [False, False, True]
    assert list(hand["event_count"]) == [2, 3, 1]  # the redelivery and the anonymous event not


def test_user_event_count_by_event_name_and_one_user(db, events, users):
    mine = events[events["user_id"].notna()]
    for name in ("response_copied", "aha_reached", "no_such_event"):
        counts = mine[mine["event_name"] == name].groupby("user_id").size()
        got = _run(db, "everreach_user", event_name=name).set_index("user_id")["event_count"]
        assert list(got.index) == list(users.index)
        assert (got == counts.reindex(users.index).fillna(0).astype(int)).all(), name
    busiest = users["event_count"].idxmax()
    one = _run(db, "everreach_user", user_id=busiest)
    assert list(one["user_id"]) == [busiest]
    assert one.loc[0, "event_count"] == users.loc[busiest, "event_count"]
    assert _run(db, "everreach_user", user_id="nobody").empty


# --- ML labels -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def responses(db, events) -> pd.DataFrame:
    """Each response with its likes, dislikes, copies and dwell, from the raw rows."""
    out = _frame(db, "select response_id, created_at from raw.everreach__responses")
    out = out.set_index("response_id")
    out["day"] = out["created_at"].map(_day)
    fb = events[events["response_id"].isin(out.index)]
    for name in FEEDBACK_EVENTS:
        out[name] = fb[fb["event_name"] == name].groupby("response_id").size()
    out[list(FEEDBACK_EVENTS)] = out[list(FEEDBACK_EVENTS)].fillna(0).astype(int)
    rendered = fb[fb["event_name"] == "response_rendered"].groupby("response_id")["occurred_at"]
    acted = fb[fb["event_name"].isin(FEEDBACK_EVENTS)].groupby("response_id")["occurred_at"]
    dwell = (acted.min() - rendered.min()).reindex(out.index)
    out["dwell_ms"] = [
        round(d.total_seconds() * 1000) if pd.notna(d) and d >= timedelta(0) else None
        for d in dwell
    ]
    return out


def test_helpful(db, responses):
    for period in PERIODS:
        r = responses[_in(responses["day"], period)]
        likes, dislikes = int(r["response_liked"].sum()), int(r["response_disliked"].sum())
        got = _run(db, "everreach_helpful", **{"from": period[0], "to": period[1]}).iloc[0]
        counts = (got["responses"], got["likes"], got["dislikes"], got["helpful"])
        assert tuple(map(_n, counts)) == (len(r), likes, dislikes, likes - dislikes), period
        assert got["avg_helpful"] == _rate(likes - dislikes, len(r), "0.0001", 1), period
    assert responses["response_liked"].sum() > responses["response_disliked"].sum() > 0


def test_copy_rate(db, responses):
    for period in PERIODS:
        r = responses[_in(responses["day"], period)]
        copied = int((r["response_copied"] > 0).sum())
        got = _run(db, "everreach_copy_rate", **{"from": period[0], "to": period[1]}).iloc[0]
        assert (_n(got["responses"]), _n(got["copied_responses"])) == (len(r), copied)
        assert got["copy_rate"] == _rate(copied, len(r)), period
    assert 0 < (responses["response_copied"] > 0).sum() < len(responses)


def test_dwell_ms_from_response_rendered(db, events, responses):
    assert (events["event_name"] == "response_rendered").sum() > 0.9 * len(responses)
    for period in PERIODS:
        dwell = responses.loc[_in(responses["day"], period), "dwell_ms"].dropna().astype(int)
        got = _run(db, "everreach_dwell_ms", **{"from": period[0], "to": period[1]}).iloc[0]
        assert got["responses_with_dwell"] == len(dwell)
        if dwell.empty:
            assert got["avg_dwell_ms"] is None and got["median_dwell_ms"] is None
            continue
        assert got["avg_dwell_ms"] == _rate(dwell.sum(), len(dwell), "1", 1), period
        assert abs(got["median_dwell_ms"] - dwell.median()) < 1e-6, period
    assert responses["dwell_ms"].notna().sum() > 100


def test_ctr_paywall(db, events):
    views = events[events["event_name"] == "paywall_shown"].copy()
    views["placement"] = views["placement"].fillna("unknown")
    buys = events[events["event_name"] == "purchase_succeeded"][["user_key", "occurred_at"]]
    pairs = views[["id", "occurred_at", "user_key"]].merge(
        buys, on="user_key", suffixes=("", "_buy")
    )
    delay = pairs["occurred_at_buy"] - pairs["occurred_at"]
    hits = pairs[(delay >= timedelta(0)) & (delay < timedelta(hours=24))]
    converted = set(zip(hits["id"], hits["occurred_at"], strict=True))
    views["converted"] = [
        k in converted for k in zip(views["id"], views["occurred_at"], strict=True)
    ]
    for period in PERIODS:
        v = views[_in(views["day"], period)]
        want = [(None, len(v), int(v["converted"].sum()))] if len(v) else [(None, None, None)]
        for placement, mine in sorted(v.groupby("placement")):
            want.append((placement, len(mine), int(mine["converted"].sum())))
        got = _run(db, "everreach_ctr_paywall", **{"from": period[0], "to": period[1]})
        rows = [(p, _n(i), _n(c)) for p, i, c, _ in got.itertuples(index=False)]
        assert rows == want, period
        assert list(got["ctr_paywall"]) == [_rate(c, i) if i else None for _, i, c in want]
    assert views["converted"].sum() > 0 and views["placement"].nunique() >= 5


def test_trial_conversion_rate(db, events):
    trials = events[events["event_name"] == "trial_started"].groupby("user_key")["occurred_at"]
    started = trials.min().rename("started_at")
    buys = events[events["event_name"] == "purchase_succeeded"][["user_key", "occurred_at"]]
    after = buys.merge(started, left_on="user_key", right_index=True)
    converted = set(after.loc[after["occurred_at"] > after["started_at"], "user_key"])
    people = pd.DataFrame({"day": started.map(_day), "converted": started.index.isin(converted)})
    for period in PERIODS:
        mine = people[_in(people["day"], period)]
        got = _run(
            db, "everreach_trial_conversion_rate", **{"from": period[0], "to": period[1]}
        ).iloc[0]
        counts = (_n(got["trials_started"]), _n(got["trials_converted"]))
        assert counts == (len(mine), mine["converted"].sum()), period
        assert got["trial_conversion_rate"] == _rate(mine["converted"].sum(), len(mine))
    assert 0 < people["converted"].sum() < len(people)


def test_onboarding_completion_rate(db, events):
    funnel = expected_funnel(events, timedelta(days=14))
    for period in PERIODS:
        mine = funnel[_in(pd.Series(funnel.index, index=funnel.index), period)]
        started = mine["signup_started_users"].sum()
        onboarded = mine["onboarding_completed_users"].sum()
        got = _run(
            db, "everreach_onboarding_completion_rate", **{"from": period[0], "to": period[1]}
        ).iloc[0]
        counts = [
            _n(got[c]) for c in ("signups_started", "signups_completed", "onboarding_completed")
        ]
        assert counts == [started, mine["signup_completed_users"].sum(), onboarded], period
        assert got["onboarding_completion_rate"] == _rate(onboarded, started), period
    assert 0 < funnel["onboarding_completed_users"].sum() < funnel["signup_started_users"].sum()
