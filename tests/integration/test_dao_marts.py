"""CryptoGift DAO: app tables → extract-load → staging, quarantine, marts/dao (real dbt).

Hand-built fixtures (a referral tree A→B→C→D with siblings, a dozen tasks) against numbers
computed by hand, and a simulated network against a pandas recomputation of every mart
from the app tables themselves."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pandas as pd
import psycopg
import pytest
import redis

from dagster_project.ingest.redis_gifts import GiftKeys, sync_gifts
from dagster_project.simulate.copy_rows import copy_rows
from dagster_project.simulate.cryptogift import (
    CODE_COLUMNS,
    REFERRAL_COLUMNS,
    REWARD_COLUMNS,
    TASK_COLUMNS,
    create_tables,
    simulate_cryptogift,
)
from tests import gift_fixture
from tests.conftest import PROJECT_SCHEMAS
from tests.dao_fixture import app_url, build_dao, drop_app_schema, extract_load_dao

HAND = "test_dao_hand"
SIM = "test_dao_sim"
END = date(2026, 3, 31)
D = Decimal
TASK_STATUSES = {"available", "claimed", "in_progress", "completed"}
REFERRAL_STATUSES = {"pending", "active", "inactive"}


def _drop_project_schemas() -> None:
    with psycopg.connect(os.environ["WAREHOUSE_URL"], autocommit=True) as conn:
        for schema in PROJECT_SCHEMAS:
            conn.execute(f"drop schema if exists {schema} cascade")


def _rows(conn, query: str) -> list[tuple]:
    return [tuple(r) for r in conn.execute(query)]


def _frame(conn, query: str) -> pd.DataFrame:
    cur = conn.execute(query)
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description], dtype=object)


def _t(day: date, hhmm: str, offset: str = "+00:00") -> datetime:
    return datetime.fromisoformat(f"{day.isoformat()}T{hhmm}:00{offset}")


# --- hand fixtures -------------------------------------------------------------------------

D1, D2, D3, D4 = (date(2026, 3, 2) + timedelta(days=i) for i in range(4))
WA, WB, WC, WD, WE, WF, WG, WH, WI, WJ = (f"0x{c * 40}" for c in "abcdef0123")
# codes: A, B, C (used), E's (never used: no mart row), H (a second tree)
CODES = [
    (1, WA, "CG-A", _t(D1 - timedelta(days=5), "09:00")),
    (2, WB, "CG-B", _t(D1, "10:00")),
    (3, WC, "CG-C", _t(D1, "23:30")),
    (4, WE, "CG-E", _t(D2, "23:00")),
    (5, WH, "CG-H", _t(D1 - timedelta(days=2), "09:00")),
]
# B joins through A; C through B; D through C (crossing midnight); E through A (sent with
# a +09:00 offset: still D2 in UTC); F through B; G through C (a checksummed address);
# I and J through H. Rows per the level semantics; two rows with bad levels.
REFERRALS = [
    (1, 1, WB, 1, "active", _t(D1, "10:00"), _t(D1, "12:00")),
    (2, 2, WC, 1, "active", _t(D1, "23:30"), _t(D2, "01:00")),
    (3, 1, WC, 2, "active", _t(D1, "23:30"), _t(D2, "01:00")),
    (4, 3, WD, 1, "pending", _t(D2, "00:30"), _t(D2, "00:30")),
    (5, 2, WD, 2, "pending", _t(D2, "00:30"), _t(D2, "00:30")),
    (6, 1, WD, 3, "pending", _t(D2, "00:30"), _t(D2, "00:30")),
    (7, 1, WE, 1, "inactive", _t(D3, "08:00", "+09:00"), _t(D3, "20:00")),
    (8, 2, WF, 1, "active", _t(D3, "12:00"), _t(D3, "13:00")),
    (9, 1, WF, 2, "active", _t(D3, "12:00"), _t(D3, "13:00")),
    (10, 3, "0x" + "3" * 38 + "AB", 1, "active", _t(D3, "19:00"), _t(D3, "20:00")),
    (11, 2, "0x" + "3" * 38 + "AB", 2, "active", _t(D3, "19:00"), _t(D3, "20:00")),
    (12, 1, "0x" + "3" * 38 + "AB", 3, "active", _t(D3, "19:00"), _t(D3, "20:00")),
    (13, 1, WD, 4, "pending", _t(D2, "00:30"), _t(D2, "00:30")),  # one level too far
    (14, 3, WC, 0, "active", _t(D2, "02:00"), _t(D2, "02:00")),  # a self-credit
    (15, 5, WI, 1, "active", _t(D4, "08:00"), _t(D4, "09:00")),
    (16, 5, WJ, 1, "active", _t(D4, "10:00"), _t(D4, "11:00")),
]
REWARDS = [
    (1, 1, D("50.00"), "completed", _t(D1, "12:00")),
    (2, 1, D("25.00"), "completed", _t(D4, "12:00")),  # the referral's second reward
    (3, 2, D("40.00"), "completed", _t(D2, "01:00")),
    (4, 3, D("10.00"), "completed", _t(D2, "01:00")),
    (5, 4, D("30.00"), "pending", _t(D2, "00:30")),
    (6, 8, D("60.00"), "completed", _t(D3, "13:00")),
    (7, 9, D("15.00"), "completed", _t(D3, "13:00")),
    (8, 10, D("45.00"), "completed", _t(D3, "20:00")),
    (9, 12, D("5.00"), "completed", _t(D4, "01:00")),
    (10, 13, D("99.00"), "completed", _t(D2, "01:00")),  # of a quarantined referral
    (11, 7, D("20.00"), "completed", _t(D2, "23:30")),
    (12, 15, D("10.00"), "completed", _t(D4, "09:00")),
]
# date, wallet, total, active, level 1/2/3, rewards, pending, inactive, pending rewards
NETWORK_DAILY = [
    (D1, WA, 2, 2, 1, 1, 0, D("85.00"), 0, 0, D("0")),
    (D1, WB, 1, 1, 1, 0, 0, D("40.00"), 0, 0, D("0")),
    (D2, WA, 2, 0, 1, 0, 1, D("20.00"), 1, 1, D("0")),
    (D2, WB, 1, 0, 0, 1, 0, D("0"), 1, 0, D("0")),
    (D2, WC, 1, 0, 1, 0, 0, D("0"), 1, 0, D("30.00")),
    (D3, WA, 2, 2, 0, 1, 1, D("20.00"), 0, 0, D("0")),
    (D3, WB, 2, 2, 1, 1, 0, D("60.00"), 0, 0, D("0")),
    (D3, WC, 1, 1, 1, 0, 0, D("45.00"), 0, 0, D("0")),
    (D4, WH, 2, 2, 2, 0, 0, D("10.00"), 0, 0, D("0")),
]
# gifts whose referrer_address is a referrer (one sent checksummed): A 1 of 2 claimed,
# B 2 of 2, C none, and one gift of a wallet that referred nobody
_GIFT_TIMES = {"created_at": gift_fixture.ts(0, "10:00:00")}
_CLAIMED = _GIFT_TIMES | {"claimed_at": gift_fixture.ts(0, "12:00:00")}
GIFTS = {
    "dao1": gift_fixture._gift("c", "1", **_CLAIMED) | {"referrer_address": "0x" + "A" * 40},
    "dao2": gift_fixture._gift("c", "1", **_GIFT_TIMES) | {"referrer_address": WA},
    "dao3": gift_fixture._gift("c", "1", **_CLAIMED) | {"referrer_address": WB},
    "dao4": gift_fixture._gift("c", "1", **_CLAIMED) | {"referrer_address": WB},
    "dao5": gift_fixture._gift("c", "1", **_CLAIMED) | {"referrer_address": WD},
    "dao6": gift_fixture._gift("c", "1", **_CLAIMED),
}
# wallet, total, active, l1, l2, l3, rewards, pending rewards, first, last, days,
# gifts referred, gifts claimed, claimed per level-1 referral, rank
LEADERBOARD = [
    (WA, 6, 4, 2, 2, 2, D("125.00"), D("0"), D1, D3, 3, 2, 1, D("0.50"), 1),
    (WB, 4, 3, 2, 2, 0, D("100.00"), D("0"), D1, D3, 3, 2, 2, D("1.00"), 2),
    (WC, 2, 1, 2, 0, 0, D("45.00"), D("30.00"), D2, D3, 2, 0, 0, D("0.00"), 3),
    (WH, 2, 2, 2, 0, 0, D("10.00"), D("0"), D4, D4, 1, 0, 0, D("0.00"), 4),
]
# date, new referrers, new referrals, l1, l2, l3, rewards completed (by the reward's own
# day; the quarantined referral's 99 never), count, cumulative referrers/referrals/rewards
GROWTH = [
    (D1, 2, 3, 2, 1, 0, D("50.00"), 1, 2, 3, D("50.00")),
    (D2, 1, 4, 2, 1, 1, D("70.00"), 3, 3, 7, D("120.00")),
    (D3, 0, 5, 2, 2, 1, D("120.00"), 3, 3, 12, D("240.00")),
    (D4, 1, 2, 2, 0, 0, D("40.00"), 3, 4, 14, D("280.00")),
]


def _task(id_, domain, task_type, status, reward, created, claimed=None, completed=None):
    updated = completed or claimed or created
    assignee = None if claimed is None else WB
    return (id_, domain, task_type, f"task {id_}", status, D(reward), assignee, created,
            claimed, completed, updated)  # fmt: skip


T1, T2 = D1, D2
TASKS = [
    _task(
        1, "dev", "bug_fix", "completed", "100", _t(T1, "09:00"), _t(T1, "10:00"), _t(T1, "16:00")
    ),  # 6 h  # fmt: skip
    _task(
        2, "dev", "bug_fix", "completed", "50", _t(T1, "11:00"), _t(T1, "12:00"), _t(T2, "15:00")
    ),  # 27 h, completed the next day  # fmt: skip
    _task(3, "dev", "bug_fix", "in_progress", "70", _t(T1, "13:00"), _t(T1, "14:00")),
    _task(4, "dev", "bug_fix", "claimed", "70", _t(T1, "15:00"), _t(T1, "15:30")),
    _task(5, "dev", "bug_fix", "available", "70", _t(T1, "16:00")),
    _task(6, None, "review", "available", "20", _t(T1, "07:00")),
    _task(
        7, "", "review", "completed", "10", _t(T1, "08:00"), _t(T1, "08:30"), _t(T1, "09:00")
    ),  # blank domain = none  # fmt: skip
    _task(8, "Design ", "mockup", "claimed", "300", _t(T1, "23:30"), _t(T2, "08:00")),
    _task(9, "dev", "bug_fix", "done", "70", _t(T1, "10:00")),  # an unknown status
    _task(10, "dev", "bug_fix", "available", "70", _t(T2, "01:00", "+02:00")),  # T1 UTC
]
# date, domain, task_type, total, completed, in_progress, available, claimed, rewards paid,
# avg completion hours, tasks completed that day, rewards paid that day, completion rate
TASK_DAILY = [
    (T1, "design", "mockup", 1, 0, 0, 0, 1, D("0"), None, 0, D("0"), D("0.00")),
    (
        T1,
        "dev",
        "bug_fix",
        6,
        2,
        1,
        2,
        1,
        D("150.00"),
        D("16.50"),
        1,
        D("100.00"),
        D("50.00"),
    ),  # fmt: skip
    (T1, None, "review", 2, 1, 0, 1, 0, D("10.00"), D("0.50"), 1, D("10.00"), D("100.00")),
    (T2, "dev", "bug_fix", 0, 0, 0, 0, 0, D("0"), None, 1, D("50.00"), None),
]


def _copy(app, table: str, columns, rows: Iterable[tuple]) -> None:
    copy_rows(app, psycopg.sql.Identifier(HAND, table), columns, rows)


@pytest.fixture(scope="class")
def built():
    _drop_project_schemas()
    drop_app_schema(HAND)
    with psycopg.connect(app_url()) as app:
        create_tables(app, schema=HAND)
        _copy(app, "tasks", TASK_COLUMNS, TASKS)
        _copy(app, "referral_codes", CODE_COLUMNS, CODES)
        _copy(app, "referrals", REFERRAL_COLUMNS, REFERRALS)
        _copy(app, "referral_rewards", REWARD_COLUMNS, REWARDS)
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    prefix = f"test:{uuid.uuid4().hex[:8]}:gift:analytics:"
    gift_fixture.load(client, prefix, GIFTS)
    with psycopg.connect(os.environ["WAREHOUSE_URL"]) as conn:
        extract_load_dao(conn, HAND)
        sync_gifts(conn, client, keys=GiftKeys(prefix))
        build_dao()
        yield conn
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.unlink(*keys)
    drop_app_schema(HAND)


class TestHandFixtures:
    def test_referral_network_daily_counts_each_referral_once(self, built):
        rows = _rows(
            built,
            "select date, referrer_wallet, total_referrals, active_referrals, level_1, "
            "level_2, level_3, total_rewards, pending_referrals, inactive_referrals, "
            "pending_rewards from marts.fct_referral_network_daily order by 1, 2",
        )
        assert rows == NETWORK_DAILY

    def test_leaderboard_ranks_and_conversion_quality(self, built):
        rows = _rows(
            built,
            "select referrer_wallet, total_referrals, active_referrals, level_1, level_2, "
            "level_3, total_rewards, pending_rewards, first_referral_date, "
            "last_referral_date, active_days, gifts_referred, gifts_claimed, "
            "claimed_gifts_per_referral, rank from marts.fct_referrer_leaderboard order by rank",
        )
        assert rows == LEADERBOARD

    def test_network_growth_daily(self, built):
        rows = _rows(
            built,
            "select date, new_referrers, new_referrals, level_1, level_2, level_3, "
            "rewards_completed, rewards_completed_count, cumulative_referrers, "
            "cumulative_referrals, cumulative_rewards_completed "
            "from marts.fct_referral_network_growth_daily order by date",
        )
        assert rows == GROWTH

    def test_task_operations_daily(self, built):
        rows = _rows(
            built,
            "select date, domain, task_type, total_tasks, completed, in_progress, available, "
            "claimed, total_rewards_paid, avg_completion_hours, tasks_completed_that_day, "
            "rewards_paid_that_day, completion_rate from marts.fct_task_operations_daily "
            "order by date, domain nulls last, task_type",
        )
        assert rows == TASK_DAILY

    def test_bad_rows_are_in_quarantine_with_their_reason_and_nowhere_else(self, built):
        assert _rows(built, "select task_id, reject_reason from quarantine.cryptogift__tasks") == [
            (9, "status 'done' is not one of available, claimed, in_progress, completed")
        ]
        assert _rows(
            built,
            "select referral_id, reject_reason from quarantine.cryptogift__referrals order by 1",
        ) == [(13, "level 4 is not 1, 2 or 3"), (14, "level 0 is not 1, 2 or 3")]
        assert not _rows(built, "select 1 from staging.stg_cryptogift__tasks where task_id = 9")
        assert not _rows(
            built,
            "select 1 from staging.stg_cryptogift__referrals where referral_id in (13, 14)",
        )

    def test_wallets_are_lowercased_in_staging(self, built):
        query = "select referred_wallet from staging.stg_cryptogift__referrals"
        wallets = {r[0] for r in _rows(built, query)}
        assert "0x" + "3" * 38 + "ab" in wallets
        assert all(w == w.lower() for w in wallets)


# --- the simulated network, recomputed in pandas --------------------------------------------


def _round(value, places: str = "0.01") -> Decimal:
    return Decimal(value).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _utc_day(ts) -> date:
    return pd.Timestamp(ts).tz_convert("UTC").date()


def _hours(delta: timedelta) -> Decimal:
    micro = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micro) / Decimal(3_600_000_000)


def _mean(values: list[Decimal]) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 50
        return sum(values, Decimal(0)) / len(values)


@pytest.fixture(scope="class")
def simulated():
    _drop_project_schemas()
    drop_app_schema(SIM)
    with psycopg.connect(app_url()) as app:
        summary = simulate_cryptogift(
            app, days=20, events_per_day=3_000, seed=7, end=END, schema=SIM, bad_share=0.01
        )
    with psycopg.connect(os.environ["WAREHOUSE_URL"]) as conn:
        extract_load_dao(conn, SIM)
        build_dao()
    with psycopg.connect(app_url()) as app:
        tables = {
            t: _frame(app, f"select * from {SIM}.{t}")
            for t in ("tasks", "referral_codes", "referrals", "referral_rewards")
        }
    with psycopg.connect(os.environ["WAREHOUSE_URL"]) as conn:
        yield summary, tables, conn
    drop_app_schema(SIM)


def _clean(text):
    if text is None:
        return None
    return text.strip().lower() or None


@pytest.fixture(scope="class")
def tasks(simulated):
    _, tables, _ = simulated
    tasks = tables["tasks"]
    tasks = tasks[tasks["status"].isin(TASK_STATUSES)].copy()
    tasks["domain"] = tasks["domain"].map(_clean)
    tasks["task_type"] = tasks["task_type"].map(_clean)
    tasks["date"] = tasks["created_at"].map(_utc_day)
    return tasks


@pytest.fixture(scope="class")
def referrals(simulated):
    """Usable referral rows with their referrer wallet and summed rewards."""
    _, tables, _ = simulated
    refs = tables["referrals"]
    refs = refs[refs["level"].isin([1, 2, 3]) & refs["status"].isin(REFERRAL_STATUSES)]
    codes = tables["referral_codes"].set_index("id")["wallet_address"].str.lower()
    refs = refs.assign(
        wallet=refs["referral_code_id"].map(codes),
        date=refs["created_at"].map(_utc_day),
    )
    rewards = tables["referral_rewards"]
    paid = rewards[rewards["status"] == "completed"].groupby("referral_id")["amount"].sum()
    pending = rewards[rewards["status"] == "pending"].groupby("referral_id")["amount"].sum()
    refs["paid"] = refs["id"].map(lambda i: paid.get(i, D(0)))
    refs["pending"] = refs["id"].map(lambda i: pending.get(i, D(0)))
    return refs


class TestSimulatedNetwork:
    def test_the_network_is_big_enough_to_mean_something(self, simulated, referrals):
        summary, tables, _ = simulated
        assert len(tables["tasks"]) == summary.tasks > 400
        assert referrals["wallet"].nunique() > 50 and len(referrals) > 500
        assert set(referrals["level"]) == {1, 2, 3}
        assert (tables["referral_rewards"].groupby("referral_id").size() == 2).any()

    def test_task_operations_daily_matches_pandas(self, simulated, tasks):
        _, _, conn = simulated
        expected = {}
        for key, g in tasks.groupby(["date", "domain", "task_type"], dropna=False):
            key = tuple(None if pd.isna(k) else k for k in key)
            status = g["status"]
            done = g[status == "completed"]
            n = {s: int((status == s).sum()) for s in TASK_STATUSES}
            hours = [
                _hours(c - s)
                for c, s in zip(done["completed_at"], done["claimed_at"], strict=True)
                if c is not None and s is not None
            ]
            picked = n["claimed"] + n["in_progress"] + n["completed"]
            expected[key] = [
                len(g), n["completed"], n["in_progress"], n["available"], n["claimed"],
                sum(done["reward_cgc"], D(0)), _round(_mean(hours)) if hours else None,
                0, D(0),
                _round(D(n["completed"] * 100) / picked) if picked else None,
            ]  # fmt: skip
        done = tasks[tasks["status"] == "completed"]
        for _, row in done.iterrows():
            key = (_utc_day(row["completed_at"]), row["domain"], row["task_type"])
            entry = expected.setdefault(key, [0, 0, 0, 0, 0, D(0), None, 0, D(0), None])
            entry[7] += 1
            entry[8] += row["reward_cgc"]
        mart = {
            r[:3]: list(r[3:])
            for r in _rows(
                conn,
                "select date, domain, task_type, total_tasks, completed, in_progress, "
                "available, claimed, total_rewards_paid, avg_completion_hours, "
                "tasks_completed_that_day, rewards_paid_that_day, completion_rate "
                "from marts.fct_task_operations_daily",
            )
        }
        assert mart == expected
        assert any(k[1] is None for k in mart)  # tasks without a domain have their own rows

    def test_referral_network_daily_matches_pandas(self, simulated, referrals):
        _, _, conn = simulated
        expected = {}
        for key, g in referrals.groupby(["date", "wallet"]):
            s = g["status"]
            expected[key] = (
                len(g), int((s == "active").sum()), int((g["level"] == 1).sum()),
                int((g["level"] == 2).sum()), int((g["level"] == 3).sum()),
                sum(g["paid"], D(0)), int((s == "pending").sum()), int((s == "inactive").sum()),
                sum(g["pending"], D(0)),
            )  # fmt: skip
        mart = {
            r[:2]: r[2:]
            for r in _rows(
                conn,
                "select date, referrer_wallet, total_referrals, active_referrals, level_1, "
                "level_2, level_3, total_rewards, pending_referrals, inactive_referrals, "
                "pending_rewards from marts.fct_referral_network_daily",
            )
        }
        assert mart == expected

    def test_leaderboard_matches_pandas(self, simulated, referrals):
        _, _, conn = simulated
        per = referrals.groupby("wallet").agg(
            total=("id", "size"),
            active=("status", lambda s: int((s == "active").sum())),
            l1=("level", lambda s: int((s == 1).sum())),
            l2=("level", lambda s: int((s == 2).sum())),
            l3=("level", lambda s: int((s == 3).sum())),
            paid=("paid", lambda s: sum(s, D(0))),
            pending=("pending", lambda s: sum(s, D(0))),
            first=("date", "min"),
            last=("date", "max"),
            days=("date", "nunique"),
        )
        # rank(): 1 + the wallets strictly ahead by (referrals, rewards)
        keys = list(zip(per["total"], per["paid"], strict=True))
        ranks = [1 + sum(1 for o in keys if o > k) for k in keys]
        expected = {
            w: (*(int(r[c]) for c in ("total", "active", "l1", "l2", "l3")), r["paid"],
                r["pending"], r["first"], r["last"], int(r["days"]), 0, 0,
                D("0.00") if r["l1"] else None, rank)
            for (w, r), rank in zip(per.iterrows(), ranks, strict=True)
        }  # fmt: skip
        mart = {
            r[0]: r[1:]
            for r in _rows(
                conn,
                "select referrer_wallet, total_referrals, active_referrals, level_1, level_2, "
                "level_3, total_rewards, pending_rewards, first_referral_date, "
                "last_referral_date, active_days, gifts_referred, gifts_claimed, "
                "claimed_gifts_per_referral, rank from marts.fct_referrer_leaderboard",
            )
        }
        assert mart == expected
        assert min(ranks) == 1

    def test_network_growth_matches_pandas(self, simulated, referrals):
        _, tables, conn = simulated
        rewards = tables["referral_rewards"]
        usable = set(referrals["id"])
        paid = rewards[(rewards["status"] == "completed") & rewards["referral_id"].isin(usable)]
        paid = paid.assign(date=paid["created_at"].map(_utc_day))
        first = referrals.groupby("wallet")["date"].min()
        days = sorted(set(referrals["date"]) | set(paid["date"]))
        expected, referrers, total, cash = [], 0, 0, D(0)
        day = days[0]
        while day <= days[-1]:
            r = referrals[referrals["date"] == day]
            p = paid[paid["date"] == day]
            new = int((first == day).sum())
            amount = sum(p["amount"], D(0))
            referrers, total, cash = referrers + new, total + len(r), cash + amount
            expected.append((
                day, new, len(r), int((r["level"] == 1).sum()), int((r["level"] == 2).sum()),
                int((r["level"] == 3).sum()), amount, len(p), referrers, total, cash,
            ))  # fmt: skip
            day += timedelta(days=1)
        rows = _rows(
            conn,
            "select date, new_referrers, new_referrals, level_1, level_2, level_3, "
            "rewards_completed, rewards_completed_count, cumulative_referrers, "
            "cumulative_referrals, cumulative_rewards_completed "
            "from marts.fct_referral_network_growth_daily order by date",
        )
        assert rows == expected

    def test_bad_rows_land_in_quarantine_only(self, simulated):
        summary, tables, conn = simulated
        tasks, refs = tables["tasks"], tables["referrals"]
        bad_tasks = tasks[~tasks["status"].isin(TASK_STATUSES)]
        bad_refs = refs[~refs["level"].isin([1, 2, 3])]
        assert len(bad_tasks) == summary.bad_tasks >= 1
        assert len(bad_refs) == summary.bad_referrals >= 1
        query = "select task_id, reject_reason from quarantine.cryptogift__tasks"
        quarantined = dict(_rows(conn, query))
        assert set(quarantined) == set(bad_tasks["id"])
        for task_id, status in zip(bad_tasks["id"], bad_tasks["status"], strict=True):
            assert quarantined[task_id] == (
                f"status '{status}' is not one of available, claimed, in_progress, completed"
            )
        quarantined = dict(
            _rows(conn, "select referral_id, reject_reason from quarantine.cryptogift__referrals")
        )
        assert set(quarantined) == set(bad_refs["id"])
        for ref_id, level in zip(bad_refs["id"], bad_refs["level"], strict=True):
            assert quarantined[ref_id] == f"level {level} is not 1, 2 or 3"
        staged = {r[0] for r in _rows(conn, "select task_id from staging.stg_cryptogift__tasks")}
        assert staged == set(tasks["id"]) - set(bad_tasks["id"])
        staged = {
            r[0] for r in _rows(conn, "select referral_id from staging.stg_cryptogift__referrals")
        }
        assert staged == set(refs["id"]) - set(bad_refs["id"])


def test_simulator_is_deterministic_and_reruns_upsert():
    schema = "test_dao_rerun"
    drop_app_schema(schema)
    counts = "select (select count(*) from {s}.tasks), (select count(*) from {s}.referrals)"
    try:
        with psycopg.connect(app_url()) as app:
            first = simulate_cryptogift(app, days=3, events_per_day=2_000, end=END, schema=schema)
            dump = _rows(app, f"select * from {schema}.referrals order by id")
            again = simulate_cryptogift(app, days=3, events_per_day=2_000, end=END, schema=schema)
            assert again == first
            assert _rows(app, f"select * from {schema}.referrals order by id") == dump
            simulate_cryptogift(app, days=3, events_per_day=2_000, end=END, schema=schema, seed=9)
            other = _rows(app, counts.format(s=schema))[0]
            assert other[0] >= first.tasks  # other ids upserted, nothing failed on a key
            simulate_cryptogift(
                app, days=3, events_per_day=2_000, end=END, schema=schema, reset=True
            )
            assert _rows(app, counts.format(s=schema))[0] == (first.tasks, first.referrals)
            assert _rows(app, f"select * from {schema}.referrals order by id") == dump
    finally:
        drop_app_schema(schema)


def test_simulation_stops_at_now():
    schema = "test_dao_now"
    drop_app_schema(schema)
    try:
        with psycopg.connect(app_url()) as app:
            simulate_cryptogift(app, days=2, events_per_day=5_000, schema=schema)
            newest = _rows(
                app,
                f"select max(t) from (select updated_at as t from {schema}.tasks union all "
                f"select updated_at from {schema}.referrals union all "
                f"select created_at from {schema}.referral_rewards) as x",
            )[0][0]
            assert newest <= datetime.now(UTC)
    finally:
        drop_app_schema(schema)
