"""YesGoddess: simulated app database → extract-load → staging and quarantine (real dbt)."""

from __future__ import annotations

import csv
import re
from datetime import date, timedelta

import pandas as pd
import psycopg
import pytest

from dagster_project.ingest.extract_load import extract_load_system
from dagster_project.settings import REPO_ROOT
from dagster_project.simulate.yesgoddess import EVENT_TYPES, create_tables, simulate_yesgoddess
from tests.conftest import run_dbt

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"\+?[0-9][0-9 ().-]{7,}[0-9]")


@pytest.fixture
def landed(conn, warehouse_url):
    """Simulate into schema yg_src of the test database, land it, build staging."""
    with psycopg.connect(warehouse_url) as app:
        app.execute("drop schema if exists yg_src cascade")
        create_tables(app, schema="yg_src")
        summary = simulate_yesgoddess(
            app, days=3, events_per_day=1500, seed=11, end=date(2026, 3, 31), schema="yg_src",
            duplicate_share=0.05, late_share=0.05, pii_share=0.05, malformed_share=0.03,
        )  # fmt: skip
    extract_load_system(conn, warehouse_url, "yesgoddess", schema="yg_src")
    run_dbt("build", "--quiet", "--select", "+stg_yesgoddess__events", "+yesgoddess__events")
    yield summary
    with psycopg.connect(warehouse_url, autocommit=True) as app:
        app.execute("drop schema if exists yg_src cascade")


def _frame(conn, query: str) -> pd.DataFrame:
    cur = conn.execute(query)
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def _expected_reason(row) -> str | None:
    """The staging rules, recomputed in Python for one raw arrival."""
    props = row.props_json
    if pd.isna(row.occurred_at):
        return "occurred_at is missing"
    if row.occurred_at > row.created_at + timedelta(days=1):
        return "in the future"
    if row.event_type not in EVENT_TYPES:
        return "is not in the taxonomy"
    if not isinstance(props, dict):
        return "props_json is not a JSON object"
    for key, names in PROP_NAMES.items():
        value = first_prop(props, names)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"props_json.{key} is not a number"
    return None


# seed 001's camelCase first, snake_case accepted (docs/SOURCES.md)
PROP_NAMES = {
    "revenue_cents": ("revenueCents", "revenue_cents"),
    "engagement_ms": ("engagementMs", "engagement_ms"),
}


def first_prop(props: dict, names):
    """The first non-null value of `names` in props (a JSON null counts as absent)."""
    return next((props[name] for name in names if props.get(name) is not None), None)


def test_arrivals_are_split_into_staging_and_quarantine_by_the_rules(landed, conn):
    raw = _frame(conn, "select * from raw.yesgoddess__events")
    raw["reason"] = raw.apply(_expected_reason, axis=1)
    usable = raw[raw["reason"].isna()].sort_values("ingest_seq")
    first = usable.drop_duplicates(["occurred_at", "id"], keep="first")

    staged = _frame(conn, "select event_id, ingest_seq from staging.stg_yesgoddess__events")
    rejected = _frame(conn, "select ingest_seq, reject_reason from quarantine.yesgoddess__events")

    assert len(raw) - raw["id"].nunique() == landed.duplicates > 0
    assert first["id"].is_unique  # a redelivery repeats occurred_at, so one row per id
    assert dict(zip(staged["event_id"], staged["ingest_seq"], strict=True)) == dict(
        zip(first["id"], first["ingest_seq"], strict=True)
    )  # the first usable arrival wins
    expected_bad = raw[raw["reason"].notna()].set_index("ingest_seq")["reason"]
    assert len(expected_bad) > 0
    assert set(rejected["ingest_seq"]) == set(expected_bad.index)  # every bad delivery
    for seq, reason in zip(rejected["ingest_seq"], rejected["reject_reason"], strict=True):
        assert expected_bad[seq] in reason, (seq, reason)


def test_no_email_or_phone_survives_into_staging_or_quarantine(landed, conn):
    assert landed.pii > 0
    for table in ("staging.stg_yesgoddess__events", "quarantine.yesgoddess__events"):
        texts = [  # every text value of the props; hashes are the one allowed form
            value
            for (props,) in conn.execute(f"select props from {table}")
            for value in props.values()
            if isinstance(value, str) and not value.startswith("sha256:")
        ]
        leaks = [t for t in texts if EMAIL.search(t) or PHONE.search(t)]
        assert texts and leaks == [], (table, leaks[:3])
    hashed = conn.execute(
        "select count(*) from staging.stg_yesgoddess__events "
        "where props ->> 'contact_email' like 'sha256:%'"
    ).fetchone()[0]
    assert hashed > 0


def test_the_taxonomy_seed_is_the_simulators_event_list():
    with open(REPO_ROOT / "seeds" / "yesgoddess_event_types.csv") as fh:
        assert sorted(r["event_type"] for r in csv.DictReader(fh)) == sorted(EVENT_TYPES)
