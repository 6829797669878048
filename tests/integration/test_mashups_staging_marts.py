"""Mashups: simulated app database → extract-load → staging, quarantine, marts (real dbt).

Every model is checked against an independent recomputation in pandas/Python from the raw
rows (duplicates, late arrivals, malformed rows and PII included)."""

from __future__ import annotations

import csv
import os
import re
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import psycopg
import pytest

from dagster_project.settings import REPO_ROOT
from dagster_project.simulate.mashups import EVENT_TYPES
from tests.conftest import run_dbt
from tests.dashboards_doc import QUERIES as DASHBOARDS
from tests.mashups_fixture import drop_project_schemas, land

END = date(2026, 3, 31)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"\+?[0-9][0-9 ().-]{7,}[0-9]")
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d(:\d\d)?|Z)?")
PLAY_ENDS = ("mashup_play_completed", "mashup_skipped")


@pytest.fixture(scope="module")
def landed():
    url = os.environ["WAREHOUSE_URL"]
    drop_project_schemas(url)
    summary = land(
        url, days=16, events_per_day=900, seed=11, end=END, duplicate_share=0.05,
        late_share=0.05, pii_share=0.05, malformed_share=0.03,
    )  # fmt: skip
    run_dbt(
        "build",
        "--quiet",
        "--select",
        "source:mashups+",
        "mashups_event_types",
        "--exclude",
        "int_user_days_unioned+",
    )  # cross-app: test_active_users
    yield summary
    drop_project_schemas(url)


@pytest.fixture(scope="module")
def db(landed):
    with psycopg.connect(os.environ["WAREHOUSE_URL"]) as conn:
        yield conn


def _frame(conn, query: str) -> pd.DataFrame:
    cur = conn.execute(query)
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description], dtype=object)


def _expected_reason(row) -> str | None:
    """The staging rules, recomputed in Python from a raw arrival."""
    stamp, received = row["timestamp"], row["received_at"]
    if stamp is None or pd.isna(stamp):
        return "timestamp is missing"
    arrived = row["_loaded_at"] if received is None or pd.isna(received) else received
    if stamp > arrived + timedelta(days=1):
        return "is in the future"
    if row["event_type"] not in EVENT_TYPES:
        return "is not in the taxonomy"
    props = row["properties"]
    if not isinstance(props, dict):
        return "properties is not a JSON object"
    for key, ok in (
        ("mashup_id", lambda v: isinstance(v, str)),
        ("creator_id", lambda v: isinstance(v, str)),
        ("position", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
        ("duration", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
        ("autoPlay", lambda v: isinstance(v, bool)),
    ):
        if props.get(key) is not None and not ok(props[key]):
            return f"properties.{key} is not a"
    return None


@pytest.fixture(scope="module")
def raw(db) -> pd.DataFrame:
    frame = _frame(db, "select * from raw.mashups__analytics_events")
    frame["reason"] = frame.apply(_expected_reason, axis=1)
    return frame


@pytest.fixture(scope="module")
def events(raw) -> pd.DataFrame:
    """What staging should hold: usable arrivals, first arrival of each (timestamp, id)."""
    ok = raw[raw["reason"].isna()].sort_values("ingest_seq")
    ev = ok.drop_duplicates(["timestamp", "id"], keep="first").copy()
    props = ev["properties"]
    ev["date"] = [pd.Timestamp(t).tz_convert("UTC").date() for t in ev["timestamp"]]
    ev["hour"] = [pd.Timestamp(t).tz_convert("UTC").hour for t in ev["timestamp"]]
    ev["user_key"] = [
        u if u is not None else f"session:{s}"
        for u, s in zip(ev["user_id"], ev["session_id"], strict=True)
    ]
    for column, key in (("mashup_id", "mashup_id"), ("source", "source"), ("country", "country"),
                        ("device", "device"), ("position", "position"),
                        ("followed", "creator_id")):  # fmt: skip
        ev[column] = pd.Series([p.get(key) for p in props], index=ev.index, dtype=object)
    return ev


def _round(numerator, denominator, places: str) -> Decimal:
    value = Decimal(int(numerator)) / Decimal(int(denominator))
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _mart(conn, table: str, order: str) -> list[tuple]:
    return [tuple(r) for r in conn.execute(f"select * from marts.{table} order by {order}")]


# --- staging and quarantine -----------------------------------------------------------------


def test_arrivals_are_split_into_staging_and_quarantine_by_the_rules(landed, db, raw, events):
    assert len(raw) == landed.events and len(raw) - raw["id"].nunique() == landed.duplicates
    staged = _frame(db, "select event_id, ingest_seq from staging.stg_mashups__analytics_events")
    assert len(staged) == len(events) == staged["ingest_seq"].nunique()
    assert set(staged["ingest_seq"]) == set(events["ingest_seq"])  # the first arrival wins
    assert len(events) < (raw["reason"].isna()).sum()  # redeliveries of usable events dropped

    rejected = _frame(
        db, "select ingest_seq, reject_reason from quarantine.mashups__analytics_events"
    )
    expected_bad = raw[raw["reason"].notna()].set_index("ingest_seq")["reason"]
    assert set(rejected["ingest_seq"]) == set(expected_bad.index)
    assert len(expected_bad) > 0 and expected_bad.nunique() >= 5  # every kind of mess
    for seq, reason in zip(rejected["ingest_seq"], rejected["reject_reason"], strict=True):
        assert expected_bad[seq] in reason, (seq, reason)


def test_staging_types_the_properties_the_marts_use(db, events):
    stg = _frame(
        db,
        "select ingest_seq, occurred_at, event_date, user_key, mashup_id, traffic_source,"
        " country, device, position_seconds, followed_creator_id"
        " from staging.stg_mashups__analytics_events",
    ).set_index("ingest_seq")
    ev = events.set_index("ingest_seq").loc[stg.index]
    assert list(stg["occurred_at"]) == list(ev["timestamp"])
    assert list(stg["event_date"]) == list(ev["date"])
    assert list(stg["user_key"]) == list(ev["user_key"])
    for column, expected in (("mashup_id", "mashup_id"), ("traffic_source", "source"),
                             ("country", "country"), ("device", "device"),
                             ("followed_creator_id", "followed")):  # fmt: skip
        assert list(stg[column]) == list(ev[expected]), column
    positions = [None if p is None else Decimal(p) for p in ev["position"]]
    assert list(stg["position_seconds"]) == positions


def _texts(value) -> list[str]:
    """The text values of a column value: a string, or the string values of a JSON object."""
    if isinstance(value, dict):
        return [v for v in value.values() if isinstance(v, str)]
    return [value] if isinstance(value, str) else []


def test_no_email_or_phone_survives_into_staging_quarantine_or_marts(landed, db):
    assert landed.pii > 0
    columns = db.execute(
        """
        select table_schema, table_name, column_name
        from information_schema.columns
        where table_schema in ('staging', 'quarantine', 'marts')
          and table_name like '%%mashup%%'
          and data_type in ('text', 'jsonb', 'character varying')
        """
    ).fetchall()
    assert len({(s, t) for s, t, _ in columns}) >= 10
    checked = 0
    for schema, table, column in columns:
        for (value,) in db.execute(f'select "{column}" from {schema}.{table}'):
            for text in _texts(value):
                if text.startswith("sha256:"):
                    continue  # the one allowed form of an email
                text = ISO_TIME.sub("", text)  # timestamps in reject reasons are no phones
                checked += 1
                assert not EMAIL.search(text), (schema, table, column, text)
                assert not PHONE.search(text), (schema, table, column, text)
    assert checked > 10_000
    hashed = db.execute(
        "select count(*) from staging.stg_mashups__analytics_events "
        "where props ->> 'email' like 'sha256:%'"
    ).fetchone()[0]
    assert hashed > 0


def test_the_taxonomy_seed_is_the_simulators_event_list():
    with open(REPO_ROOT / "seeds" / "mashups_event_types.csv") as fh:
        assert {r["event_type"]: r["category"] for r in csv.DictReader(fh)} == EVENT_TYPES


# --- marts ------------------------------------------------------------------------------------


def expected_mashup_daily_stats(events: pd.DataFrame) -> list[tuple]:
    kinds = ("mashup_viewed", "mashup_played", *PLAY_ENDS, "mashup_liked", "mashup_shared",
             "comment_posted", "mashup_downloaded")  # fmt: skip
    rows = []
    scoped = events[events["mashup_id"].notna() & events["event_type"].isin(kinds)]
    for (mashup_id, day), group in scoped.groupby(["mashup_id", "date"]):
        n = group["event_type"].value_counts()
        plays = group[group["event_type"] == "mashup_played"]
        ends = group[group["event_type"].isin(PLAY_ENDS)]
        avg = _round(int(ends["position"].sum()), len(ends), "0.1") if len(ends) else None
        rows.append((mashup_id, day, n.get("mashup_played", 0), plays["user_key"].nunique(),
                     n.get("mashup_liked", 0), n.get("mashup_shared", 0),
                     n.get("comment_posted", 0), n.get("mashup_downloaded", 0), avg,
                     n.get("mashup_viewed", 0), n.get("mashup_play_completed", 0),
                     n.get("mashup_skipped", 0)))  # fmt: skip
    return sorted(rows)


def test_fct_mashup_daily_stats(db, events):
    actual = _mart(db, "fct_mashup_daily_stats", "mashup_id, date")
    assert actual == expected_mashup_daily_stats(events)
    assert len({r[1] for r in actual}) == 16


def test_fct_user_daily_stats(db, events):
    creators = dict(db.execute("select id, creator_id from raw.mashups__mashups").fetchall())
    created = (
        events[(events["event_type"] == "mashup_created") & events["user_id"].notna()]
        .groupby(["user_id", "date"])
        .size()
    )
    plays = events[events["event_type"] == "mashup_played"].copy()
    plays["creator"] = plays["mashup_id"].map(creators)
    received = plays[plays["creator"].notna()].groupby(["creator", "date"]).size()
    follows = events[(events["event_type"] == "user_followed") & events["followed"].notna()]
    followed = follows.groupby(["followed", "date"])["user_key"].nunique()
    keys = set(created.index) | set(received.index) | set(followed.index)
    expected = sorted(
        (user, day, int(created.get((user, day), 0)), int(received.get((user, day), 0)),
         int(followed.get((user, day), 0)))
        for user, day in keys
    )  # fmt: skip
    assert _mart(db, "fct_user_daily_stats", "user_id, date") == expected
    assert all(sum(r[2:]) > 0 for r in expected) and any(r[4] > 0 for r in expected)


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("fct_mashup_traffic_sources_daily", "source"),
        ("fct_mashup_countries_daily", "country"),
        ("fct_mashup_devices_daily", "device"),
    ],
)
def test_plays_by_dimension(db, events, table, column):
    plays = events[events["event_type"] == "mashup_played"].copy()
    plays[column] = plays[column].fillna("unknown")
    totals = plays.groupby("date").size()
    expected = sorted(
        (day, value, len(g), g["session_id"].nunique(), g["user_key"].nunique(),
         _round(len(g) * 100, totals[day], "0.01"))
        for (day, value), g in plays.groupby(["date", column])
    )  # fmt: skip
    actual = _mart(db, table, f"date, {column}")
    assert actual == expected
    for day in totals.index:  # the day's shares add up to 100 (up to rounding)
        share = sum(r[5] for r in actual if r[0] == day)
        assert abs(share - 100) <= Decimal("0.01") * len(actual)


def test_fct_mashup_plays_hourly(db, events):
    plays = events[events["event_type"] == "mashup_played"]
    expected = sorted(
        (day, hour, len(g), g["user_key"].nunique())
        for (day, hour), g in plays.groupby(["date", "hour"])
    )
    actual = _mart(db, "fct_mashup_plays_hourly", "date, hour_of_day")
    assert actual == expected
    by_hour = plays.groupby("hour").size()
    assert by_hour.idxmax() in range(17, 24)  # the evening peak


def test_fct_mashup_top_content(db, events):
    daily = expected_mashup_daily_stats(events)
    end = max(r[1] for r in daily)
    current = {}
    for mashup_id, day, plays, _, likes, *_ in daily:
        if day > end - timedelta(days=14):
            period = "current" if day > end - timedelta(days=7) else "previous"
            totals = current.setdefault(mashup_id, {"current": 0, "likes": 0, "previous": 0})
            totals[period] += plays
            totals["likes"] += likes if period == "current" else 0
    titles = dict(db.execute("select id, title from raw.mashups__mashups").fetchall())
    expected = {
        m: (titles[m], end - timedelta(days=6), end, t["current"], t["likes"], t["previous"],
            _round((t["current"] - t["previous"]) * 100, t["previous"], "0.1")
            if t["previous"] else None)
        for m, t in current.items()
        if t["current"] or t["previous"]
    }  # fmt: skip
    actual = db.execute(
        "select mashup_id, title, period_start, period_end, plays, likes, previous_plays,"
        " growth_pct, rank from marts.fct_mashup_top_content order by rank"
    ).fetchall()
    assert {r[0]: tuple(r[1:8]) for r in actual} == expected
    assert [r[8] for r in actual] == list(range(1, len(actual) + 1))
    assert [r[4] for r in actual] == sorted((r[4] for r in actual), reverse=True)
    assert any(r[7] is None for r in actual) and any(r[7] is not None for r in actual)


# --- docs/DASHBOARDS.md: the Mashups section's queries, as written ----------------------------

PERIOD = {"from": END - timedelta(days=6), "to": END}  # the seed's period, both inclusive
PREVIOUS = (END - timedelta(days=13), END - timedelta(days=7))


def _dashboard(db, name: str, **params) -> list[tuple]:
    return [tuple(r) for r in db.execute(DASHBOARDS[name], {**PERIOD, **params})]


@pytest.fixture(scope="module")
def creators(db) -> dict[str, str]:
    return dict(db.execute("select id, creator_id from raw.mashups__mashups").fetchall())


@pytest.fixture(scope="module")
def plays(events, creators) -> pd.DataFrame:
    """Plays of a known mashup, with the mashup's creator."""
    played = events[(events["event_type"] == "mashup_played") & events["mashup_id"].notna()]
    return played.assign(creator=played["mashup_id"].map(creators))


def _in(frame: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    return frame[(frame["date"] >= start) & (frame["date"] <= end)]


def _busiest_creator(plays: pd.DataFrame) -> str:
    return _in(plays, PERIOD["from"], PERIOD["to"])["creator"].value_counts().idxmax()


@pytest.mark.parametrize("whose", ["platform", "creator"])
def test_dashboard_summary_and_trends(db, events, plays, creators, whose):
    creator = _busiest_creator(plays) if whose == "creator" else None

    def kind(name: str) -> pd.DataFrame:
        rows = events[(events["event_type"] == name) & events["mashup_id"].notna()]
        if creator:
            rows = rows[rows["mashup_id"].map(creators) == creator]
        return _in(rows, PERIOD["from"], PERIOD["to"])

    expected = (len(kind("mashup_played")), len(kind("mashup_liked")), len(kind("mashup_shared")))
    assert _dashboard(db, "mashups_summary", creator_id=creator) == [expected]
    assert expected[0] > 0

    days = [PERIOD["from"] + timedelta(days=i) for i in range(7)]
    per_day = [
        (
            day,
            int((kind("mashup_played")["date"] == day).sum()),
            int((kind("mashup_liked")["date"] == day).sum()),
        )
        for day in days
    ]
    assert _dashboard(db, "mashups_over_time", creator_id=creator) == per_day


@pytest.fixture(scope="module")
def first_follows(events) -> pd.Series:
    """(follower, creator) → the UTC day of the follower's first user_followed of them."""
    follows = events[
        (events["event_type"] == "user_followed")
        & events["user_id"].notna()
        & events["followed"].notna()
    ]
    return follows.groupby(["user_id", "followed"])["date"].min()


def _middle(days) -> date:
    ordered = sorted(set(days))
    return ordered[len(ordered) // 2]


def test_dashboard_followers_and_following(db, events, creators, first_follows):
    follows = events[events["event_type"] == "user_followed"]
    assert follows["user_id"].notna().all()  # anonymous sessions never follow
    pairs = first_follows.reset_index()
    pairs.columns = ["follower", "creator", "first"]
    assert len(pairs) >= 10
    # the creator followed on the most days, the user following on the most days
    followed = pairs.groupby("creator")["first"].nunique().idxmax()
    follower = pairs.groupby("follower")["first"].nunique().idxmax()
    nobody = min(set(creators.values()) - set(pairs["creator"]) - set(pairs["follower"]))
    # `to` (and `from`) on a day the followed creator gained a follower, not its first one;
    # `to` on a day the follower first followed someone: an off-by-one day changes them
    on_day = _middle(pairs.loc[pairs["creator"] == followed, "first"])
    follower_day = _middle(pairs.loc[pairs["follower"] == follower, "first"])
    periods = [
        (PERIOD["from"], PERIOD["to"]),
        (on_day, on_day),
        (END - timedelta(days=15), follower_day),
    ]

    def expected(who: str | None, start: date, end: date) -> tuple[int, int, int]:
        by_end = pairs[pairs["first"] <= end]
        fans = by_end if who is None else by_end[by_end["creator"] == who]
        idols = by_end if who is None else by_end[by_end["follower"] == who]
        return len(fans), len(idols), int((fans["first"] >= start).sum())

    for who in (followed, follower, nobody, None):
        for start, end in periods:
            actual = _dashboard(
                db, "mashups_followers", creator_id=who, **{"from": start, "to": end}
            )
            assert actual == [expected(who, start, end)], (who, start, end)
    that_day = expected(followed, on_day, on_day)
    assert 0 < that_day[2] < that_day[0]  # gained on `to` itself, and followed before it
    following = expected(follower, *periods[2])[1]
    assert following > expected(follower, periods[2][0], follower_day - timedelta(days=1))[1]


@pytest.mark.parametrize("whose", ["platform", "creator"])
def test_dashboard_top_content_grows_against_the_period_before(db, events, plays, whose):
    creator = _busiest_creator(plays) if whose == "creator" else None
    mine = plays if creator is None else plays[plays["creator"] == creator]
    now = _in(mine, PERIOD["from"], PERIOD["to"]).groupby("mashup_id").size()
    before = _in(mine, *PREVIOUS).groupby("mashup_id").size()
    liked = events[events["event_type"] == "mashup_liked"]
    likes = _in(liked, PERIOD["from"], PERIOD["to"]).groupby("mashup_id").size()
    ranked = sorted(now.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    expected = [
        (
            m,
            n,
            int(likes.get(m, 0)),
            _round((n - before[m]) * 100, before[m], "0.1") if before.get(m, 0) else None,
        )
        for m, n in ranked
    ]
    actual = _dashboard(db, "mashups_top_content", creator_id=creator)
    assert [(r[0], r[2], r[3], r[4]) for r in actual] == expected
    assert any(r[4] is not None for r in actual)


@pytest.mark.parametrize(
    ("query", "column"),
    [
        ("mashups_sources", "source"),
        ("mashups_countries", "country"),
        ("mashups_devices", "device"),
    ],
)
@pytest.mark.parametrize("whose", ["platform", "creator"])
def test_dashboard_breakdowns_share_the_periods_plays(
    db, events, plays, creators, query, column, whose
):
    played = _in(events[events["event_type"] == "mashup_played"], PERIOD["from"], PERIOD["to"])
    creator = _busiest_creator(plays) if whose == "creator" else None
    if creator:
        played = played[played["mashup_id"].map(creators) == creator]
    counts = played[column].fillna("unknown").value_counts()
    expected = sorted(
        ((value, int(n), _round(n * 100, len(played), "0.01")) for value, n in counts.items()),
        key=lambda r: (-r[1], r[0]),
    )
    assert _dashboard(db, query, creator_id=creator) == expected
    assert len(expected) >= 3


def _most_played(plays: pd.DataFrame) -> str:
    return plays["mashup_id"].value_counts().idxmax()


def test_mashup_lifetime_counts_each_listener_once(db, events, plays):
    mashup = _most_played(plays)
    own = events[events["mashup_id"] == mashup]
    n = own["event_type"].value_counts()
    mine = plays[plays["mashup_id"] == mashup]
    created = db.execute("select created_at from raw.mashups__mashups where id = %s", [mashup])
    expected = (
        mashup,
        created.fetchone()[0],
        len(mine),
        mine["user_key"].nunique(),
        n.get("mashup_liked", 0),
        n.get("mashup_shared", 0),
        n.get("comment_posted", 0),
    )
    (row,) = _dashboard(db, "mashup_lifetime", mashup_id=mashup)
    assert (row[0], *row[2:]) == expected
    daily_distincts = mine.groupby("date")["user_key"].nunique().sum()
    assert expected[3] < daily_distincts  # returning listeners: not a sum of daily counts


def test_mashup_retention_from_the_play_ends(db, events, plays):
    mashup = _most_played(plays)
    own = events[events["mashup_id"] == mashup]
    ends = own[own["event_type"].isin(PLAY_ENDS)]
    skips = ends[ends["event_type"] == "mashup_skipped"]
    completions = int((ends["event_type"] == "mashup_play_completed").sum())
    watch = _round(int(ends["position"].sum()), len(ends), "0.1")
    rate = _round(completions * 100, int((own["event_type"] == "mashup_played").sum()), "0.1")
    expected = [
        (watch, rate, t, _round(int((skips["position"] <= t).sum()) * 100, len(ends), "0.1"))
        for t in (30, 60, 120)
    ]
    assert _dashboard(db, "mashup_retention", mashup_id=mashup) == expected
    assert expected[0][3] < expected[2][3]  # more plays have stopped by 120 s than by 30 s


def test_mashup_daily(db, events, plays):
    mashup = _most_played(plays)
    expected = [
        (r[1], r[2], r[4])
        for r in expected_mashup_daily_stats(events[events["mashup_id"] == mashup])
        if PERIOD["from"] <= r[1] <= PERIOD["to"]
    ]
    assert _dashboard(db, "mashup_daily", mashup_id=mashup) == expected
    assert len(expected) == 7


def test_upgrades_by_tier_change(db, events):
    upgrades = events[events["event_type"] == "subscription_upgraded"]
    props = upgrades["properties"]
    frame = upgrades.assign(
        frm=[p.get("from") or "unknown" for p in props],
        to=[p.get("to") or "unknown" for p in props],
    )
    start = END - timedelta(days=15)
    expected = sorted(
        (day, frm, to, len(g), g["user_key"].nunique())
        for (day, frm, to), g in frame.groupby(["date", "frm", "to"])
    )
    assert _dashboard(db, "mashups_upgrades", **{"from": start}) == expected
    assert len({(r[1], r[2]) for r in expected}) >= 2
