"""EverReach: simulated app database (dups, late, malformed, PII) → extract-load → staging,
quarantine and marts (real dbt), each checked against an independent pandas recomputation
from the raw rows; and a partition re-run replaces exactly what it built."""

from __future__ import annotations

import os
import re
from datetime import date, timedelta

import pandas as pd
import psycopg
import pytest

from dagster_project.ingest.extract_load import extract_load_system
from dagster_project.settings import REPO_ROOT
from dagster_project.simulate.everreach import (
    EVENT_NAMES,
    EVENT_TAXONOMY,
    FEEDBACK_EVENTS,
    FUNNEL_STEPS,
    create_tables,
    simulate_everreach,
)
from tests.conftest import PROJECT_SCHEMAS, run_dbt

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"\+?[0-9][0-9 ().-]{7,}[0-9]")
END = date(2026, 3, 31)
SRC = "er_src"
DAILY_MARTS = ("ml_response_samples", "fct_paywall_conversion_daily",
               "fct_ai_response_quality_daily")  # fmt: skip


def _frame(conn, query: str) -> pd.DataFrame:
    cur = conn.execute(query)
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def land(warehouse_url: str, conn: psycopg.Connection) -> None:
    extract_load_system(conn, warehouse_url, "everreach", schema=SRC)


@pytest.fixture(scope="module")
def landed():
    """Twenty days simulated into schema er_src, landed, the EverReach lineage built once."""
    warehouse_url = os.environ["WAREHOUSE_URL"]
    with psycopg.connect(warehouse_url, autocommit=True) as admin:
        for schema in (*PROJECT_SCHEMAS, SRC):
            admin.execute(f"drop schema if exists {schema} cascade")
    with psycopg.connect(warehouse_url) as app:
        create_tables(app, schema=SRC)
        summary = simulate_everreach(
            app, days=20, events_per_day=1_200, seed=13, end=END, schema=SRC,
            duplicate_share=0.04, late_share=0.04, pii_share=0.04, malformed_share=0.03,
        )  # fmt: skip
    with psycopg.connect(warehouse_url) as conn:
        land(warehouse_url, conn)
    run_dbt(
        "build",
        "--quiet",
        "--select",
        "everreach_event_types",
        "source:everreach+",
        "--exclude",
        "int_user_days_unioned+",
    )  # cross-app: test_active_users
    with psycopg.connect(warehouse_url) as conn:
        yield summary, conn
    with psycopg.connect(warehouse_url, autocommit=True) as admin:
        admin.execute(f"drop schema if exists {SRC} cascade")


# --- the staging rules, recomputed ----------------------------------------------------
def _reason(row) -> str | None:
    props, context = row.properties, row.context
    if pd.isna(row.occurred_at):
        return "occurred_at is missing"
    if row.occurred_at > row.created_at + timedelta(days=1):
        return "is in the future"
    if row.event_name not in EVENT_NAMES:
        return "is not in the taxonomy"
    if row.user_id is None and row.anonymous_id is None:
        return "neither user_id nor anonymous_id"
    if not isinstance(props, dict):
        return "properties is not a JSON object"
    if not isinstance(context, dict):
        return "context is not a JSON object"
    for key in ("placement", "response_id"):
        if props.get(key) is not None and not isinstance(props[key], str):
            return f"properties.{key} is not a string"
    return None


@pytest.fixture(scope="module")
def expected(landed):
    """Raw rows with the reason recomputed, and the staged events pandas expects."""
    _, conn = landed
    raw = _frame(conn, "select * from raw.everreach__app_events")
    raw["reason"] = raw.apply(_reason, axis=1)
    ok = raw[raw["reason"].isna()].sort_values("ingest_seq")
    events = ok.drop_duplicates(["occurred_at", "id"], keep="first").copy()
    events["user_key"] = events["user_id"].where(
        events["user_id"].notna(), "anon:" + events["anonymous_id"].astype(str)
    )
    events["placement"] = events["properties"].map(lambda p: p.get("placement"))
    events["response_id"] = events["properties"].map(lambda p: p.get("response_id"))
    events["event_date"] = events["occurred_at"].map(lambda t: t.date())
    return raw, events


def test_arrivals_are_split_into_staging_and_quarantine_by_the_rules(landed, expected):
    summary, conn = landed
    raw, events = expected
    staged = _frame(conn, "select ingest_seq, event_id from staging.stg_everreach__app_events")
    rejected = _frame(
        conn, "select ingest_seq, reject_reason from quarantine.everreach__app_events"
    )

    assert len(raw) - raw["id"].nunique() == summary.duplicates > 0
    assert set(staged["ingest_seq"]) == set(events["ingest_seq"])  # first arrival wins
    assert len(staged) == staged["event_id"].nunique() < len(raw[raw["reason"].isna()])
    bad = raw[raw["reason"].notna()].set_index("ingest_seq")["reason"]
    assert set(rejected["ingest_seq"]) == set(bad.index)
    for seq, reason in zip(rejected["ingest_seq"], rejected["reject_reason"], strict=True):
        assert bad[seq] in reason, (seq, reason)
    assert {"occurred_at is missing", "is in the future", "is not in the taxonomy",
            "properties is not a JSON object", "context is not a JSON object",
            "properties.placement is not a string"} <= set(bad)  # fmt: skip
    assert bad.index.nunique() > 0 and raw.loc[raw["reason"].notna(), "id"].duplicated().any()


def _texts(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _texts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _texts(v)


def test_no_email_or_phone_survives_and_texts_are_cut(landed):
    _, conn = landed
    relations = conn.execute(
        """
        select c.table_schema, c.table_name, c.column_name, c.data_type
        from information_schema.columns c
        where c.table_schema in ('staging', 'quarantine', 'marts')
          and (c.table_name like '%%everreach%%' or c.table_name in (
               'ml_response_samples', 'fct_onboarding_funnel', 'fct_paywall_conversion_daily',
               'fct_trial_conversion', 'fct_ai_response_quality_daily'))
          and c.table_name not like 'base_%%'
          and c.data_type in ('text', 'jsonb', 'ARRAY')
          and c.column_name <> 'reject_reason'
        """
    ).fetchall()
    assert len({(s, t) for s, t, _, _ in relations}) >= 6
    checked = 0
    for schema, table, column, _ in relations:
        for (value,) in conn.execute(f'select "{column}" from {schema}.{table}'):
            for text in _texts(value):
                if text.startswith("sha256:"):
                    continue
                checked += 1
                assert not EMAIL.search(text) and not PHONE.search(text), (table, column, text)
                assert len(text) <= 5000, (table, column, len(text))
    assert checked > 10_000
    hashed, redacted, truncated = conn.execute(
        """
        select
            (select count(*) from staging.stg_everreach__app_events
             where properties ->> 'email' like 'sha256:%%'),
            (select count(*) from staging.stg_everreach__prompts
             where prompt_text like '%%[email]%%' or prompt_text like '%%[phone]%%'),
            (select count(*) from marts.ml_response_samples where length(response_text) = 5000)
        """
    ).fetchone()
    assert hashed > 0 and redacted > 0 and truncated > 0


def test_the_taxonomy_seed_is_the_simulators():
    seed = pd.read_csv(REPO_ROOT / "seeds" / "everreach_event_types.csv")
    assert list(seed.itertuples(index=False, name=None)) == list(EVENT_TAXONOMY)
    assert len(seed) >= 50


# --- marts -----------------------------------------------------------------------------
def _expected_samples(conn, events: pd.DataFrame) -> pd.DataFrame:
    responses = _frame(conn, "select * from raw.everreach__responses")
    prompts = set(_frame(conn, "select prompt_id from raw.everreach__prompts")["prompt_id"])
    fb = events[events["event_name"].isin((*FEEDBACK_EVENTS, "response_rendered"))]
    counts = fb.pivot_table(index="response_id", columns="event_name", values="id",
                            aggfunc="count", fill_value=0)  # fmt: skip
    rendered = fb[fb["event_name"] == "response_rendered"].groupby("response_id")["occurred_at"]
    first = fb[fb["event_name"] != "response_rendered"].groupby("response_id")["occurred_at"]
    out = responses.set_index("response_id")
    for name, column in (("response_copied", "copied_count"), ("response_liked", "liked_count"),
                         ("response_disliked", "disliked_count")):  # fmt: skip
        out[column] = counts[name].reindex(out.index).fillna(0).astype(int)
    dwell = (first.min() - rendered.min()).reindex(out.index)
    out["dwell_ms"] = dwell.map(
        lambda d: round(d.total_seconds() * 1000) if pd.notna(d) and d >= timedelta(0) else None
    )
    out["helpful_score"] = out["liked_count"] - out["disliked_count"]
    out["was_copied"] = out["copied_count"] > 0
    out["date"] = out["created_at"].map(lambda t: t.date())
    out["has_prompt"] = out["prompt_id"].isin(prompts)
    return out


def test_ml_response_samples(landed, expected):
    _, conn = landed
    _, events = expected
    want = _expected_samples(conn, events)
    got = _frame(conn, "select * from marts.ml_response_samples").set_index("response_id")
    assert set(got.index) == set(want.index) and len(got) > 1000
    got["has_prompt"] = got["prompt_text"].notna()
    got = got.loc[want.index]
    for column in ("date", "model", "tokens_out", "latency_ms", "copied_count", "liked_count",
                   "disliked_count", "helpful_score", "was_copied", "has_prompt"):  # fmt: skip
        assert (got[column] == want[column]).all(), column
    assert (got["cost_usd"].astype(float) - want["cost_usd"].astype(float)).abs().max() < 1e-9
    assert got["dwell_ms"].isna().equals(want["dwell_ms"].isna())
    both = want["dwell_ms"].notna()
    assert (got.loc[both, "dwell_ms"].astype(int) == want.loc[both, "dwell_ms"]).all()
    assert want["liked_count"].sum() > 0 and want["disliked_count"].sum() > 0


def test_ai_response_quality_daily(landed, expected):
    _, conn = landed
    s = _expected_samples(conn, expected[1]).reset_index()
    s["liked"], s["disliked"] = s["liked_count"] > 0, s["disliked_count"] > 0
    g = s.groupby(["date", "model"])
    want = pd.DataFrame({
        "responses": g.size(), "likes": g["liked_count"].sum(),
        "dislikes": g["disliked_count"].sum(), "copies": g["copied_count"].sum(),
        "liked_responses": g["liked"].sum(), "disliked_responses": g["disliked"].sum(),
        "copied_responses": g["was_copied"].sum(), "tokens_out": g["tokens_out"].sum(),
        "avg_latency_ms": g["latency_ms"].mean(),
        "cost_usd": g["cost_usd"].apply(lambda c: float(sum(c))),
    })  # fmt: skip
    want["like_rate"] = 100 * want["liked_responses"] / want["responses"]
    want["copy_rate"] = 100 * want["copied_responses"] / want["responses"]
    got = _frame(conn, "select * from marts.fct_ai_response_quality_daily")
    got = got.set_index(["date", "model"]).sort_index()
    want = want.sort_index()
    assert list(got.index) == list(want.index)
    for column in ("responses", "likes", "dislikes", "copies", "liked_responses",
                   "disliked_responses", "copied_responses", "tokens_out"):  # fmt: skip
        assert (got[column].astype(int) == want[column].astype(int)).all(), column
    for column, tolerance in (("like_rate", 0.006), ("copy_rate", 0.006),
                              ("avg_latency_ms", 0.006), ("cost_usd", 1e-6)):  # fmt: skip
        diff = (got[column].astype(float) - want[column].astype(float)).abs().max()
        assert diff < tolerance, column


def test_paywall_conversion_daily(landed, expected):
    _, conn = landed
    _, events = expected
    views = events[events["event_name"] == "paywall_shown"][
        ["id", "occurred_at", "user_key", "placement", "event_date"]
    ].copy()
    views["placement"] = views["placement"].fillna("unknown")
    buys = events[events["event_name"] == "purchase_succeeded"][["user_key", "occurred_at"]]
    pairs = views.merge(buys, on="user_key", suffixes=("", "_buy"))
    delay = pairs["occurred_at_buy"] - pairs["occurred_at"]
    hit = pairs[(delay >= timedelta(0)) & (delay < timedelta(hours=24))]
    views["converted"] = list(zip(views["id"], views["occurred_at"], strict=True))
    converted = set(zip(hit["id"], hit["occurred_at"], strict=True))
    views["converted"] = views["converted"].isin(converted)
    g = views.groupby(["event_date", "placement"])
    want = pd.DataFrame({
        "paywall_impressions": g.size(), "paywall_users": g["user_key"].nunique(),
        "converted_impressions": g["converted"].sum(),
        "converted_users": views[views["converted"]].groupby(["event_date", "placement"])[
            "user_key"].nunique(),
    }).fillna(0).astype(int)  # fmt: skip
    got = _frame(conn, "select * from marts.fct_paywall_conversion_daily")
    got = got.set_index(["date", "placement"]).sort_index()
    want = want.sort_index()
    assert list(got.index) == list(want.index)
    for column in want.columns:
        assert (got[column].astype(int) == want[column]).all(), column
    rate = 100 * want["converted_users"] / want["paywall_users"]
    assert (got["conversion_rate"].astype(float) - rate).abs().max() < 0.006
    assert want["converted_users"].sum() > 0 and len(want.index.levels[1]) >= 5


def test_trial_conversion(landed, expected):
    _, conn = landed
    _, events = expected
    starts = (
        events[events["event_name"] == "trial_started"].groupby("user_key")["occurred_at"].min()
    )
    rows = []
    for user, started in starts.items():
        after = events[(events["user_key"] == user) & (events["occurred_at"] > started)]
        names = set(after["event_name"])
        rows.append((started.date(), "purchase_succeeded" in names, "trial_expired" in names))
    t = pd.DataFrame(rows, columns=["cohort_date", "converted", "expired"])
    g = t.groupby("cohort_date")
    want = pd.DataFrame({"trials_started": g.size(), "trials_converted": g["converted"].sum(),
                         "trials_expired": g["expired"].sum()})  # fmt: skip
    got = _frame(conn, "select * from marts.fct_trial_conversion").set_index("cohort_date")
    got = got.sort_index()
    assert list(got.index) == list(want.index)
    for column in want.columns:
        assert (got[column].astype(int) == want[column].astype(int)).all(), column
    assert want["trials_converted"].sum() > 0 and want["trials_expired"].sum() > 0


def expected_funnel(events: pd.DataFrame, window: timedelta) -> pd.DataFrame:
    """The strict-order funnel, person by person, in plain Python."""
    f = events[events["event_name"].isin(FUNNEL_STEPS)].sort_values(["occurred_at", "id"])
    links: dict[str, str] = {}
    for anon, user in zip(f["anonymous_id"], f["user_id"], strict=True):
        if anon is not None and user is not None and anon not in links:
            links[anon] = user
    f = f.assign(person=[
        user if user is not None else links.get(anon, f"anon:{anon}")
        for user, anon in zip(f["user_id"], f["anonymous_id"], strict=True)
    ])  # fmt: skip
    rows = []
    for _, mine in f.groupby("person"):
        started = mine.loc[mine["event_name"] == "signup_started", "occurred_at"]
        if started.empty:
            continue
        t0 = at = started.min()
        reached = [True]
        for step in FUNNEL_STEPS[1:]:
            later = mine[(mine["event_name"] == step) & (mine["occurred_at"] > at)
                         & (mine["occurred_at"] < t0 + window)]["occurred_at"]  # fmt: skip
            if later.empty:
                break
            at = later.min()
            reached.append(True)
        rows.append((t0.date(), *(reached + [False] * (6 - len(reached)))))
    t = pd.DataFrame(rows, columns=["cohort_date", *FUNNEL_STEPS])
    return t.groupby("cohort_date").sum().rename(columns=lambda s: f"{s}_users").astype(int)


def test_onboarding_funnel(landed, expected):
    _, conn = landed
    want = expected_funnel(expected[1], timedelta(days=14))
    got = _frame(conn, "select * from marts.fct_onboarding_funnel").set_index("cohort_date")
    got = got.sort_index()
    assert list(got.index) == list(want.index)
    for column in want.columns:
        assert (got[column].astype(int) == want[column]).all(), column
    assert (got["window_days"] == 14).all()
    assert want["purchase_succeeded_users"].sum() > 0
    rate = 100 * want["aha_reached_users"] / want["signup_started_users"]
    assert (got["aha_reached_rate"].astype(float) - rate).abs().max() < 0.006


def test_a_partition_rerun_replaces_exactly_its_days(landed):
    _, conn = landed

    def snapshot():
        conn.commit()
        return {
            m: _frame(conn, f"select * from marts.{m}")
            .sort_values(
                ["date", *(["response_id"] if m == "ml_response_samples" else [])]
                + (["model"] if "quality" in m else ["placement"] if "paywall" in m else [])
            )
            .reset_index(drop=True)
            for m in DAILY_MARTS
        }

    before = snapshot()
    day = END - timedelta(days=6)
    for m in DAILY_MARTS:  # lose the partition, then rebuild it alone
        conn.execute(f"delete from marts.{m} where date = %s", [day])
    conn.commit()
    window = f"{{min_date: '{day}', max_date: '{day + timedelta(days=1)}'}}"
    for _ in range(2):
        run_dbt("build", "--quiet", "--select", *DAILY_MARTS, "--vars", window)
        after = snapshot()
        for m in DAILY_MARTS:
            pd.testing.assert_frame_equal(after[m], before[m], check_dtype=False, obj=m)
    assert (before["ml_response_samples"]["date"] == day).sum() > 0
