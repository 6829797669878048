"""YesGoddess's dashboard queries (docs/DASHBOARDS.md, "YesGoddess"), run as written on a
simulated app database (duplicates, late, malformed events) plus hand-written events in
the app's shape (a re-upload, a duplicate delivery, a rejected upload, a budget that is no
number), landed and built with real dbt; every figure is compared with a pandas
computation from the raw rows (the staging rules recomputed, not read from the marts)."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import psycopg
import pytest

from dagster_project.ingest.extract_load import extract_load_system
from dagster_project.simulate.yesgoddess import create_tables, simulate_yesgoddess
from tests.conftest import PROJECT_SCHEMAS, drop_schemas, run_dbt
from tests.dashboards_doc import QUERIES as DASHBOARDS
from tests.integration.test_yesgoddess_marts import _usable_events

SRC = "yg_dash"
END = date(2026, 3, 31)
DAYS = 8
START = END - timedelta(days=DAYS - 1)
# the whole simulated range, a sub-period (its previous period inside the data), a period
# before any data
PERIODS = (
    (START, END),
    (END - timedelta(days=2), END),
    (date(2025, 1, 1), date(2025, 1, 31)),
)
# (id, occurred_at, event_type, actor_type, actor_id, project, asset, license, props):
# the hand creator's asset, uploaded twice (the first upload owns it) into the hand brand's
# project; one upload whose time is missing (rejected: that asset has no owner)
HAND = [
    ("h1", "2026-03-27 09:00", "project_created", "brand", "b-hand", "p-hand", None, None,
     {"budget_cents": 250_000}),
    ("h2", "2026-03-27 09:30", "project_created", "brand", "b-hand", "p-words", None, None,
     {"budget_cents": "two thousand"}),
    ("h3", "2026-03-27 10:00", "asset_uploaded", "creator", "c-hand", "p-hand", "a-hand", None,
     {"media_type": "video", "size_bytes": 90_000_000}),
    ("h3", "2026-03-27 10:00", "asset_uploaded", "creator", "c-hand", "p-hand", "a-hand", None,
     {"media_type": "video", "size_bytes": 90_000_000}),  # delivered twice
    ("h4", "2026-03-29 08:00", "asset_uploaded", "creator", "c-other", None, "a-hand", None,
     {"media_type": "image"}),  # a later upload of the same asset owns nothing
    ("h5", None, "asset_uploaded", "creator", "c-hand", "p-hand", "a-orphan", None, {}),
    ("h6", "2026-03-28 12:00", "asset_viewed", "brand", "b-hand", "p-hand", "a-hand", None,
     {"engagementMs": 4_000}),
    ("h7", "2026-03-28 12:01", "license_clicked", "brand", "b-hand", "p-hand", "a-hand", None,
     {"license_type": "exclusive"}),
    ("h8", "2026-03-28 12:02", "license_created", "brand", "b-hand", "p-hand", "a-hand", "l-hand",
     {"revenueCents": 120_000, "currency": "USD", "license_type": "exclusive"}),
    ("h9", "2026-03-30 15:00", "asset_viewed", None, None, None, "a-orphan", None,
     {"engagementMs": 900}),
    ("h10", "2026-03-30 16:00", "signup_completed", "creator", "c-new", None, None, None,
     {"role": "creator", "method": "email"}),
]  # fmt: skip  # a table of events, one per line


@pytest.fixture(scope="module")
def db():
    warehouse_url = os.environ["WAREHOUSE_URL"]
    drop_schemas(warehouse_url, *PROJECT_SCHEMAS, SRC)
    with psycopg.connect(warehouse_url) as app:
        create_tables(app, schema=SRC)
        simulate_yesgoddess(
            app,
            days=DAYS,
            events_per_day=1_500,
            seed=23,
            end=END,
            schema=SRC,
            duplicate_share=0.03,
            late_share=0.03,
            pii_share=0.01,
            malformed_share=0.02,
        )
        with app.cursor() as cur:
            cur.executemany(
                f"insert into {SRC}.events (id, occurred_at, source, event_type, actor_type, "
                "actor_id, project_id, ip_asset_id, license_id, props_json, session_id, "
                "created_at) values (%s, %s, 'web', %s, %s, %s, %s, %s, %s, %s, 's-hand', "
                "'2026-03-31 20:00+00')",
                [
                    (
                        i,
                        at and f"{at}+00",
                        kind,
                        actor_type,
                        actor,
                        project,
                        asset,
                        lic,
                        json.dumps(props),
                    )
                    for i, at, kind, actor_type, actor, project, asset, lic, props in HAND
                ],
            )
        app.commit()
    with psycopg.connect(warehouse_url) as conn:
        extract_load_system(conn, warehouse_url, "yesgoddess", schema=SRC)
    run_dbt(
        "build",
        "--quiet",
        "--select",
        "yesgoddess_event_types",
        "source:yesgoddess+",
        "--exclude",
        "int_user_days_unioned+",  # cross-app: test_active_users
        "stg_yesgoddess__attributions+",  # attribution: test_yesgoddess_marts
    )
    with psycopg.connect(warehouse_url) as conn:
        yield conn
    drop_schemas(warehouse_url, SRC)


@pytest.fixture(scope="module")
def events(db) -> pd.DataFrame:
    ev = _usable_events(db)
    assert {"a-hand", "p-hand"} <= set(ev["ip_asset_id"]) | set(ev["project_id"])
    assert "h5" not in set(ev["id"])  # the upload without a time is rejected
    return ev


def _firsts(ev: pd.DataFrame, event_type: str, key: str) -> pd.DataFrame:
    rows = ev[(ev["event_type"] == event_type) & ev[key].notna()]
    return rows.sort_values(["occurred_at", "id"]).drop_duplicates(key).set_index(key)


@pytest.fixture(scope="module")
def owners(events) -> dict[str, pd.DataFrame]:
    assets = _firsts(events, "asset_uploaded", "ip_asset_id")
    projects = _firsts(events, "project_created", "project_id")

    def budget(props):
        value = props.get("budget_cents")
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        return Decimal(str(value)) if is_number else None

    projects["budget"] = projects["props_json"].map(budget)
    assert assets.loc["a-hand", "actor_id"] == "c-hand"
    assert projects.loc["p-words", "budget"] is None
    # the simulated catalogue has owners too: most assets viewed belong to someone
    viewed = set(events.loc[events["event_type"] == "asset_viewed", "ip_asset_id"].dropna())
    assert len(viewed & set(assets.index)) > 0.9 * len(viewed) > 50
    return {"assets": assets, "projects": projects}


def _run(conn, name: str, **params) -> pd.DataFrame:
    values = {
        "from": None,
        "to": None,
        "creator_id": None,
        "brand_id": None,
        "ip_asset_id": None,
        **params,
    }
    cur = conn.execute(DASHBOARDS[name], values)
    frame = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description], dtype=object)
    conn.commit()
    return frame


def _in(ev: pd.DataFrame, period) -> pd.DataFrame:
    return ev[(ev["date"] >= period[0]) & (ev["date"] <= period[1])]


def _figures(ev: pd.DataFrame) -> dict[str, int]:
    kinds = ev["event_type"]
    return {
        "views": int((kinds == "asset_viewed").sum()),
        "clicks": int(kinds.isin(["asset_downloaded", "license_clicked"]).sum()),
        "conversions": int((kinds == "license_created").sum()),
        "revenue_cents": int(ev["revenue"].sum()),
    }


def _ints(row: pd.Series, names) -> dict[str, int]:
    return {name: int(row[name]) for name in names}


def _pct(numerator, denominator, places: str = "0.01") -> Decimal | None:
    if not denominator:
        return None
    value = Decimal(int(numerator) * 100) / Decimal(int(denominator))
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _top_creators(owners) -> list[str | None]:
    by_assets = owners["assets"]["actor_id"].value_counts()
    return [None, "c-hand", "c-other", by_assets.index[0]]


@pytest.mark.parametrize("period", PERIODS)
def test_asset_metrics(db, events, period):
    busiest = events["ip_asset_id"].value_counts().index[0]
    for asset in ("a-hand", "a-orphan", busiest, "no-such-asset"):
        got = _run(
            db,
            "yesgoddess_asset_metrics",
            ip_asset_id=asset,
            **{"from": period[0], "to": period[1]},
        ).iloc[0]
        mine = _in(events[events["ip_asset_id"] == asset], period)
        assert _ints(got, ("views", "clicks", "conversions", "revenue_cents")) == _figures(mine)
        seconds = Decimal(str(mine["engagement"].sum())) / 1000
        assert Decimal(got["engagement_time"]) == seconds.quantize(Decimal("0.001"))
    whole = _run(db, "yesgoddess_asset_metrics", ip_asset_id="a-hand", **{"from": START, "to": END})
    assert int(whole.iloc[0]["revenue_cents"]) == 120_000  # the hand license


@pytest.mark.parametrize("period", PERIODS)
def test_creator_portfolio(db, events, owners, period):
    assets = owners["assets"]
    for creator in _top_creators(owners):
        owned = assets if creator is None else assets[assets["actor_id"] == creator]
        owned = owned[owned["date"] <= period[1]]
        got = _run(
            db,
            "yesgoddess_creator_portfolio",
            creator_id=creator,
            **{"from": period[0], "to": period[1]},
        ).iloc[0]
        mine = _in(events[events["ip_asset_id"].isin(owned.index)], period)
        assert int(got["assets"]) == len(owned), creator
        assert int(got["assets_uploaded"]) == int((owned["date"] >= period[0]).sum())
        assert _ints(got, ("views", "clicks", "conversions", "revenue_cents")) == _figures(mine)
    # the re-upload gave c-other nothing; the rejected upload gave c-hand no a-orphan
    whole = {"from": START, "to": END}
    assert int(
        _run(db, "yesgoddess_creator_portfolio", creator_id="c-other", **whole).iloc[0]["assets"]
    ) == int((assets["actor_id"] == "c-other").sum())
    assert (
        int(
            _run(db, "yesgoddess_creator_portfolio", creator_id="c-hand", **whole).iloc[0]["assets"]
        )
        == 1
    )


def _per_asset(ev: pd.DataFrame) -> list[tuple]:
    rows = [(asset, *_figures(group).values()) for asset, group in ev.groupby("ip_asset_id")]
    # most revenue, then most views, then the id (the database's collation is C)
    return sorted(rows, key=lambda r: (-r[4], -r[1], r[0]))[:10]


@pytest.mark.parametrize("period", PERIODS)
def test_creator_top_assets(db, events, owners, period):
    assets = owners["assets"]
    for creator in _top_creators(owners):
        owned = assets if creator is None else assets[assets["actor_id"] == creator]
        got = _run(
            db,
            "yesgoddess_creator_top_assets",
            creator_id=creator,
            **{"from": period[0], "to": period[1]},
        )
        mine = _in(events[events["ip_asset_id"].isin(owned.index)], period)
        assert [tuple(r[:1]) + tuple(int(v) for v in r[1:]) for r in got.itertuples(False)] == (
            _per_asset(mine)
        ), creator


@pytest.mark.parametrize("period", PERIODS)
def test_creator_revenue_timeline(db, events, owners, period):
    assets = owners["assets"]
    for creator in _top_creators(owners):
        owned = assets if creator is None else assets[assets["actor_id"] == creator]
        got = _run(
            db,
            "yesgoddess_creator_revenue_timeline",
            creator_id=creator,
            **{"from": period[0], "to": period[1]},
        )
        mine = _in(events[events["ip_asset_id"].isin(owned.index)], period)
        days = pd.date_range(period[0], period[1]).date
        assert list(got["date"]) == list(days)
        for row in got.itertuples(False):
            day = _figures(mine[mine["date"] == row.date])
            assert (int(row.revenue_cents), int(row.conversions)) == (
                day["revenue_cents"],
                day["conversions"],
            ), (creator, row.date)


@pytest.mark.parametrize("period", PERIODS)
def test_brand_campaigns(db, events, owners, period):
    projects = owners["projects"]
    brands = [None, "b-hand", projects["actor_id"].value_counts().index[0]]
    for brand in brands:
        mine = projects if brand is None else projects[projects["actor_id"] == brand]
        mine = mine[mine["date"] <= period[1]]
        got = _run(
            db, "yesgoddess_brand_campaigns", brand_id=brand, **{"from": period[0], "to": period[1]}
        )
        expected = []
        for project, row in mine.iterrows():
            f = _figures(_in(events[events["project_id"] == project], period))
            budget = row["budget"]
            roi = None if budget is None else _pct(f["revenue_cents"] - budget, budget)
            expected.append(
                (
                    project,
                    row["actor_id"],
                    budget,
                    f["views"],
                    f["clicks"],
                    f["conversions"],
                    f["revenue_cents"],
                    _pct(f["clicks"], f["views"]),
                    _pct(f["conversions"], f["clicks"]),
                    roi,
                )
            )
        expected.sort(key=lambda r: (-r[6], r[0]))
        actual = [
            (
                r.project_id,
                r.brand_id,
                r.budget_cents,
                int(r.impressions),
                int(r.clicks),
                int(r.conversions),
                int(r.revenue_cents),
                r.ctr_pct,
                r.conversion_pct,
                r.roi_pct,
            )
            for r in got.itertuples(False)
        ]
        assert actual == expected, brand
    hand = _run(db, "yesgoddess_brand_campaigns", brand_id="b-hand", **{"from": START, "to": END})
    by_id = hand.set_index("project_id")
    assert by_id.loc["p-words", "budget_cents"] is None and by_id.loc["p-words", "roi_pct"] is None
    assert by_id.loc["p-hand", "revenue_cents"] >= 120_000


@pytest.mark.parametrize("period", PERIODS)
def test_platform_kpis(db, events, period):
    got = _run(db, "yesgoddess_platform_kpis", **{"from": period[0], "to": period[1]}).iloc[0]
    signed_in = _in(events[events["actor_id"].notna()], period)
    by_type = signed_in.groupby("actor_type")["actor_id"].nunique()
    assert int(got["users"]) == signed_in["actor_id"].nunique()
    assert int(got["creators"]) == by_type.get("creator", 0)
    assert int(got["brands"]) == by_type.get("brand", 0)
    signups = signed_in[signed_in["event_type"] == "signup_completed"]
    assert int(got["new_users"]) == signups["actor_id"].nunique()
    length = period[1] - period[0] + timedelta(days=1)
    before = (period[0] - length, period[0] - timedelta(days=1))
    revenue = _figures(_in(events, period))["revenue_cents"]
    previous = _figures(_in(events, before))["revenue_cents"]
    assert (int(got["revenue_cents"]), int(got["previous_revenue_cents"])) == (revenue, previous)
    assert got["revenue_growth_pct"] == _pct(revenue - previous, previous, "0.1")
    if period == PERIODS[0]:
        assert "c-new" in set(signups["actor_id"]) and revenue > 0
