"""docs/DASHBOARDS.md, CryptoGift: every query block run as written on simulated gifts
(Redis hashes as the app writes them, plus the hand fixture's blank value and malformed
gifts) and a simulated DAO network (app tables → extract-load), each result compared
with a computation of its own from those source rows: the hashes read back from Redis
and the app tables, never the marts."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import psycopg
import pytest
import redis

from dagster_project.ingest.redis_gifts import GiftKeys, sync_gifts
from dagster_project.simulate.cryptogift import simulate_cryptogift
from dagster_project.simulate.gifts import simulate_gifts
from tests import gift_fixture
from tests.conftest import PROJECT_SCHEMAS, run_dbt
from tests.dao_fixture import app_url, drop_app_schema, extract_load_dao
from tests.dashboards_doc import QUERIES as DASHBOARDS

APP_SCHEMA = "test_dash_cg"
END = gift_fixture.d(3)  # the hand gifts' days are d(-110) and d(0)..d(3)
TIMES = (
    "created_at",
    "viewed_at",
    "preclaim_at",
    "education_completed_at",
    "claimed_at",
    "expired_at",
    "returned_at",
)
STEPS = (
    ("created", "created_at"),
    ("viewed", "viewed_at"),
    ("preclaim", "preclaim_at"),
    ("education", "education_completed_at"),
    ("claimed", "claimed_at"),
)
# the histogram's buckets as the doc states them: [low, high), then blank values
BUCKETS = (
    ("0-5", Decimal(0), Decimal(5)),
    ("5-10", Decimal(5), Decimal(10)),
    ("10-20", Decimal(10), Decimal(20)),
    ("20-50", Decimal(20), Decimal(50)),
    ("50-100", Decimal(50), Decimal(100)),
    ("100+", Decimal(100), None),
    ("not set", None, None),
)
TASK_STATUSES = {"available", "claimed", "in_progress", "completed"}
PICKED_UP = {"claimed", "in_progress", "completed"}
PERIODS = {
    "three days": (gift_fixture.d(0), gift_fixture.d(2)),
    "everything": (gift_fixture.d(-200), gift_fixture.d(10)),
    "one day": (gift_fixture.d(1), gift_fixture.d(1)),
    "nothing yet": (gift_fixture.d(20), gift_fixture.d(22)),
}


def _drop_project_schemas() -> None:
    with psycopg.connect(os.environ["WAREHOUSE_URL"], autocommit=True) as conn:
        for schema in PROJECT_SCHEMAS:
            conn.execute(f"drop schema if exists {schema} cascade")


@pytest.fixture(scope="module")
def built():
    _drop_project_schemas()
    drop_app_schema(APP_SCHEMA)
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    prefix = f"test:{uuid.uuid4().hex[:8]}:gift:analytics:"
    simulate_gifts(
        client, days=6, gifts_per_day=250, seed=5, end=END, prefix=prefix,
        counter_prefix=f"{prefix}campaign:", malformed_share=0.02,
    )  # fmt: skip
    gift_fixture.load(client, prefix)  # a blank value_usd and two malformed gifts
    with psycopg.connect(app_url()) as app:
        simulate_cryptogift(
            app, days=8, events_per_day=3_000, seed=3, end=END, schema=APP_SCHEMA, bad_share=0.01
        )
    with psycopg.connect(os.environ["WAREHOUSE_URL"]) as conn:
        extract_load_dao(conn, APP_SCHEMA)
        sync_gifts(conn, client, keys=GiftKeys(prefix))
        run_dbt(
            "build", "--quiet", "--select",
            "+fct_gift_funnel_daily", "+fct_gift_value_distribution_daily",
            "+fct_task_operations_daily", "+fct_referral_network_growth_daily",
            "+fct_referrer_leaderboard", "cryptogift__tasks", "cryptogift__referrals",
        )  # fmt: skip
        yield conn, client, prefix
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.unlink(*keys)
    drop_app_schema(APP_SCHEMA)


# --- the source rows, read back and checked by rules of our own ------------------------------


def _instant(text: str) -> datetime | None:
    """An ISO-8601 time as UTC (no offset = UTC); raises ValueError when it is none."""
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _gift(fields: dict[str, str]) -> dict | None:
    """A hash as the sync may land it, or None when it breaks a rule (quarantined)."""
    gift: dict = {"gift_id": fields["gift_id"]}
    try:
        for name in TIMES:
            text = fields.get(name, "").strip()
            gift[name] = _instant(text) if text else None
        value = fields.get("value_usd", "").strip()
        gift["value_usd"] = Decimal(value) if value else None
    except (ValueError, InvalidOperation):
        return None
    if gift["value_usd"] is not None and not (
        gift["value_usd"].is_finite() and gift["value_usd"] >= 0
    ):
        return None
    created = gift["created_at"]
    if created and any(gift[n] and gift[n] < created for n in TIMES):
        return None
    if not fields.get("creator_address", "").strip():
        return None
    gift["campaign_id"] = fields.get("campaign_id", "").strip() or None
    gift["referrer"] = fields.get("referrer_address", "").strip().lower() or None
    gift["date"] = created.date() if created else None
    return gift


@pytest.fixture(scope="module")
def gifts(built) -> list[dict]:
    """Every gift hash straight from Redis (ids start with g: `gft_…` and the hand `g01`…;
    the dirty set and counters sit under other names), the malformed ones left out."""
    conn, client, prefix = built
    keys = list(client.scan_iter(match=f"{prefix}g*", count=1000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.hgetall(key)
    hashes = [{k.decode(): v.decode() for k, v in h.items()} for h in pipe.execute()]
    parsed = {h["gift_id"]: _gift(h) for h in hashes}
    rejected = {gift_id for gift_id, g in parsed.items() if g is None}
    quarantined = {r[0] for r in conn.execute("select gift_id from quarantine.gift_analytics")}
    assert rejected == quarantined and len(rejected) > 2  # our rules are the sync's
    return [g for g in parsed.values() if g is not None]


@pytest.fixture(scope="module")
def app_tables(built) -> dict[str, list[dict]]:
    with psycopg.connect(app_url(), row_factory=psycopg.rows.dict_row) as app:
        return {
            t: app.execute(f"select * from {APP_SCHEMA}.{t}").fetchall()
            for t in ("tasks", "referral_codes", "referrals", "referral_rewards")
        }


def _utc_day(ts: datetime) -> date:
    return ts.astimezone(UTC).date()


def _pct(part, whole) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _run(conn, name: str, **params) -> list[tuple]:
    return [tuple(r) for r in conn.execute(DASHBOARDS[name], params)]


def _in(gifts: list[dict], period: tuple[date, date], campaign: str | None) -> list[dict]:
    start, end = period
    return [
        g
        for g in gifts
        if g["date"] is not None
        and start <= g["date"] <= end
        and (campaign is None or g["campaign_id"] == campaign)
    ]


def _busiest_campaign(gifts: list[dict]) -> str:
    counts: dict[str, int] = {}
    for g in _in(gifts, PERIODS["three days"], None):
        if g["campaign_id"]:
            counts[g["campaign_id"]] = counts.get(g["campaign_id"], 0) + 1
    return max(sorted(counts), key=counts.get)


CASES = [(p, False) for p in PERIODS] + [("three days", True), ("everything", True)]


# --- Gift Funnel ------------------------------------------------------------------------------


@pytest.mark.parametrize(("period", "by_campaign"), CASES)
def test_funnel_step_rates(built, gifts, period, by_campaign):
    conn, _, _ = built
    campaign = _busiest_campaign(gifts) if by_campaign else None
    cohort = _in(gifts, PERIODS[period], campaign)
    counts = [sum(1 for g in cohort if g[field]) for _, field in STEPS]
    expected = [
        (step, n, _pct(n, counts[0]), None if i == 0 else _pct(n, counts[i - 1]))
        for i, ((step, _), n) in enumerate(zip(STEPS, counts, strict=True))
    ]
    start, end = PERIODS[period]
    rows = _run(
        conn, "cryptogift_funnel_step_rates", campaign_id=campaign, **{"from": start, "to": end}
    )
    assert rows == expected
    if period == "three days":
        assert counts[0] > 50 and 0 < counts[-1] < counts[0]


def _bucket(value: Decimal | None) -> str:
    for label, low, high in BUCKETS:
        if value is None and low is None:
            return label
        if (
            value is not None
            and low is not None
            and value >= low
            and (high is None or value < high)
        ):
            return label
    raise AssertionError(value)


@pytest.mark.parametrize(("period", "by_campaign"), CASES)
def test_value_histogram(built, gifts, period, by_campaign):
    conn, _, _ = built
    campaign = _busiest_campaign(gifts) if by_campaign else None
    cohort = _in(gifts, PERIODS[period], campaign)
    expected = []
    if cohort:  # every bucket, empty ones as 0
        for label, low, high in BUCKETS:
            inside = [g for g in cohort if _bucket(g["value_usd"]) == label]
            expected.append((
                label, low, high, len(inside), sum(1 for g in inside if g["claimed_at"]),
                sum((g["value_usd"] for g in inside if g["value_usd"] is not None), Decimal(0)),
            ))  # fmt: skip
    start, end = PERIODS[period]
    rows = _run(
        conn, "cryptogift_value_histogram", campaign_id=campaign, **{"from": start, "to": end}
    )
    assert rows == expected
    if period == "everything" and not by_campaign:
        # the simulated prices sit on the edges (5, 10, 20, 50, 100): each opens a bucket
        assert all(r[3] > 0 for r in rows)
        edges = [g for g in cohort if g["value_usd"] in {Decimal(5), Decimal(10), Decimal(100)}]
        assert edges


# --- Task Operations ----------------------------------------------------------------------


def _tasks(app_tables, period) -> list[dict]:
    start, end = PERIODS[period]
    return [
        t
        for t in app_tables["tasks"]
        if t["status"] in TASK_STATUSES
        and t["reward_cgc"] is not None
        and t["reward_cgc"] >= 0
        and start <= _utc_day(t["created_at"]) <= end
    ]


@pytest.mark.parametrize("period", PERIODS)
def test_task_completion_rate(built, app_tables, period):
    conn, _, _ = built
    tasks = _tasks(app_tables, period)
    picked = sum(1 for t in tasks if t["status"] in PICKED_UP)
    done = sum(1 for t in tasks if t["status"] == "completed")
    start, end = PERIODS[period]
    rows = _run(conn, "cryptogift_task_completion_rate", **{"from": start, "to": end})
    assert rows == [(picked, done, _pct(done, picked))]
    if period == "everything":
        assert 0 < done < picked


def _type(text: str | None) -> str | None:
    return (text or "").strip().lower() or None


@pytest.mark.parametrize("period", PERIODS)
def test_task_duration_by_type(built, app_tables, period):
    conn, _, _ = built
    seconds: dict[str | None, list[Decimal]] = {}
    for t in _tasks(app_tables, period):
        if t["completed_at"] is not None and t["claimed_at"] is not None:
            delta = t["completed_at"] - t["claimed_at"]
            micro = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
            seconds.setdefault(_type(t["task_type"]), []).append(Decimal(micro) / 1_000_000)
    expected = [
        (kind, len(s), (sum(s) / len(s) / 3600).quantize(Decimal("0.01"), ROUND_HALF_UP))
        for kind, s in sorted(seconds.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
    ]
    start, end = PERIODS[period]
    rows = _run(conn, "cryptogift_task_duration_by_type", **{"from": start, "to": end})
    assert rows == expected
    if period == "everything":
        assert len(rows) > 5


# --- Referral Network -----------------------------------------------------------------------


def _usable_referrals(app_tables) -> list[dict]:
    codes = {c["id"]: c["wallet_address"].strip().lower() for c in app_tables["referral_codes"]}
    return [
        r | {"wallet": codes[r["referral_code_id"]]}
        for r in app_tables["referrals"]
        if r["level"] in (1, 2, 3) and r["status"] in ("pending", "active", "inactive")
    ]


@pytest.mark.parametrize("period", PERIODS)
def test_new_referrers_daily(built, app_tables, period):
    conn, _, _ = built
    first: dict[str, date] = {}
    for r in _usable_referrals(app_tables):
        day = _utc_day(r["created_at"])
        first[r["wallet"]] = min(day, first.get(r["wallet"], day))
    start, end = PERIODS[period]
    expected = [
        (
            start + timedelta(days=i),
            sum(1 for d in first.values() if d == start + timedelta(days=i)),
        )
        for i in range((end - start).days + 1)
    ]
    rows = _run(conn, "cryptogift_new_referrers_daily", **{"from": start, "to": end})
    assert rows == expected
    if period == "everything":
        assert sum(n for _, n in rows) == len(first) > 20


def test_claimed_gifts_per_referral(built, gifts, app_tables):
    conn, _, _ = built
    referrals = _usable_referrals(app_tables)
    referrers = {r["wallet"] for r in referrals}
    direct = sum(1 for r in referrals if r["level"] == 1)
    referred = [g for g in gifts if g["referrer"] in referrers]
    claimed = sum(1 for g in referred if g["claimed_at"])
    ratio = (Decimal(claimed) / direct).quantize(Decimal("0.01"), ROUND_HALF_UP)
    rows = _run(conn, "cryptogift_claimed_gifts_per_referral")
    assert rows == [(len(referrers), direct, len(referred), claimed, ratio)]
    assert claimed > 0  # the two simulators share the community's wallets
