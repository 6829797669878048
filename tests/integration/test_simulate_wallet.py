"""The Wallet simulator fills the five wallet tables reproducibly, keeping the ledger's
contract (docs/SOURCES.md): every count and balance is recomputed here in
SQL from the rows themselves."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest

from dagster_project.settings import libpq_url
from dagster_project.simulate.wallet import (
    BAD_KINDS,
    FEATURES,
    TABLES,
    create_tables,
    simulate_wallet,
    ulid_ms,
)

SCHEMA = "test_sim_wallet"
END = date(2026, 3, 31)  # safely in the past
CUTOFF = datetime.combine(END + timedelta(days=1), time(), UTC)
OPTIONS = {"days": 3, "events_per_day": 2_000, "end": END, "schema": SCHEMA}
# what the contract calls an applied entry
APPLIED = "(token_type in ('regular', 'promo') and direction in ('credit', 'debit') and amount>0)"


@pytest.fixture
def app():
    # the wallet app database; the test warehouse when the embedded sources are not in use
    url = os.environ.get("SOURCE_WALLET_URL") or os.environ["WAREHOUSE_URL"]
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(f"drop schema if exists {SCHEMA} cascade")
        conn.commit()
        yield conn
        conn.rollback()
        conn.execute(f"drop schema if exists {SCHEMA} cascade")
        conn.commit()


def _simulate(conn, seed: int = 11, reset: bool = True, **kwargs):
    return simulate_wallet(conn, **(OPTIONS | {"seed": seed, "reset": reset} | kwargs))


def _fingerprint(conn) -> dict[str, tuple[int, str]]:
    return {
        table: conn.execute(
            f"select count(*), md5(string_agg(t::text, '|' order by t.id)) from {SCHEMA}.{table} t"
        ).fetchone()
        for table in TABLES
    }


def test_same_seed_and_end_give_the_same_rows(app):
    calls = []
    first = _simulate(app, progress=lambda done, total: calls.append((done, total)))
    before = _fingerprint(app)
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert before["users"][0] == first.users and before["wallet_ledger"][0] == first.ledger_entries
    assert before["purchases"][0] == sum(first.purchases.values())
    assert before["referrals"][0] == sum(first.referrals.values())
    assert before["authorizations"][0] == sum(first.authorizations.values())
    assert 4_500 < first.ledger_entries < 7_000 and first.start == END - timedelta(days=2)
    assert _simulate(app) == first
    assert _fingerprint(app) == before
    other = _simulate(app, seed=12)
    assert other != first and _fingerprint(app) != before
    line = first.describe()
    assert "\n" not in line and f"{first.ledger_entries:,} Wallet ledger entries" in line


def test_a_rerun_without_reset_keeps_the_rows(app):
    first = _simulate(app)
    before = _fingerprint(app)
    create_tables(app, SCHEMA)  # idempotent
    again = _simulate(app, reset=False)
    assert again == first
    assert _fingerprint(app) == before


def test_balances_replay_entry_by_entry(app):
    _simulate(app)
    checked = app.execute(
        f"""
        with e as (
            select *, {APPLIED} as applied,
                   case when direction = 'credit' then amount else -amount end as delta
            from {SCHEMA}.wallet_ledger
        ), replay as (
            select *,
                sum(case when applied and token_type = 'regular' then delta else 0 end)
                    over running as regular,
                sum(case when applied and token_type = 'promo' then delta else 0 end)
                    over running as promo,
                coalesce(lag(balance_after_regular) over ordered, 0) as before_regular,
                coalesce(lag(balance_after_promo) over ordered, 0) as before_promo,
                row_number() over ordered as n
            from e
            window ordered as (partition by user_id order by occurred_at, id),
                   running as (partition by user_id order by occurred_at, id
                               rows between unbounded preceding and current row)
        )
        select
            count(*),
            count(*) filter (where balance_after_regular <> regular
                                or balance_after_promo <> promo),
            count(*) filter (where not applied),
            count(*) filter (where not applied
                               and (balance_after_regular <> before_regular
                                    or balance_after_promo <> before_promo)),
            count(*) filter (where n = 1),
            count(*) filter (where n = 1 and reason = 'registration_bonus'
                               and token_type = 'promo' and direction = 'credit'),
            count(*) filter (where reason = 'registration_bonus'),
            count(*) filter (where user_id is null or occurred_at is null)
        from replay
        """
    ).fetchone()
    entries, wrong, unapplied, moved, users, bonus_first, bonuses, nulls = checked
    assert entries > 4_000 and wrong == 0 and nulls == 0
    assert unapplied > 0 and moved == 0
    assert users == bonus_first == bonuses  # every history starts at its registration bonus
    assert users == app.execute(f"select count(*) from {SCHEMA}.users").fetchone()[0]


def test_bad_rows_match_the_summary(app):
    summary = _simulate(app, bad_share=0.004)
    found = app.execute(
        f"""
        select
            count(*) filter (where amount < 0),
            count(*) filter (where direction not in ('credit', 'debit')),
            count(*) filter (where token_type not in ('regular', 'promo')),
            count(*) filter (where direction = 'debit' and amount > 0
                               and ((token_type = 'regular' and balance_after_regular < 0)
                                 or (token_type = 'promo' and balance_after_promo < 0))),
            count(*) filter (where not {APPLIED}),
            count(*) filter (where amount is null or direction is null or token_type is null)
        from {SCHEMA}.wallet_ledger
        """
    ).fetchone()
    assert dict(zip(BAD_KINDS, found[:4], strict=True)) == summary.bad_rows
    assert all(n > 1 for n in found[:4]), found
    assert found[4] == sum(found[:3]) and found[5] == 0  # one defect per unapplied row
    # the default share still gives at least one of each kind in a small run
    assert all(n >= 1 for n in _simulate(app, days=1).bad_rows.values())


def test_purchases_credit_their_tokens_once_paid(app):
    summary = _simulate(app)
    by_status = app.execute(
        f"""
        with credits as (
            select reference_id, count(*) as n, sum(amount) as tokens, min(occurred_at) as at,
                   bool_and(token_type = 'regular' and direction = 'credit') as regular
            from {SCHEMA}.wallet_ledger where reason = 'purchase' group by 1
        ), refunds as (
            select reference_id, count(*) as n, sum(amount) as tokens, min(occurred_at) as at
            from {SCHEMA}.wallet_ledger where reason = 'refund' group by 1
        )
        select p.status, count(*),
               count(*) filter (where c.n = 1 and c.tokens = p.tokens and c.regular
                                  and c.at >= p.created_at and c.at <= p.updated_at),
               count(*) filter (where c.at = p.updated_at),
               count(*) filter (where r.n is not null),
               count(*) filter (where r.n = 1 and r.tokens = p.tokens and r.at = p.updated_at)
        from {SCHEMA}.purchases p
        left join credits c on c.reference_id = p.id::text
        left join refunds r on r.reference_id = p.id::text
        group by 1
        """
    ).fetchall()
    rows = {status: rest for status, *rest in by_status}
    assert {s: rest[0] for s, rest in rows.items()} == summary.purchases
    n, credited, at_paid_time, refunded, refund_ok = rows["paid"]
    assert n > 50 and credited == at_paid_time == n and refunded == 0
    for status in ("created", "failed"):
        assert rows[status][1:] == [0, 0, 0, 0], status
    if "pending" in rows:
        assert rows["pending"][1:] == [0, 0, 0, 0]
    if "refunded" in rows:  # paid first, then refunded: one credit, a debit if it could
        n, credited, _, refunded, refund_ok = rows["refunded"]
        assert credited == n and refunded == refund_ok
    orphans = app.execute(
        f"""
        select count(*) from {SCHEMA}.wallet_ledger l
        where reason in ('purchase', 'refund')
          and not exists (select from {SCHEMA}.purchases p where p.id::text = l.reference_id)
        """
    ).fetchone()[0]
    assert orphans == 0
    providers = app.execute(f"select distinct provider from {SCHEMA}.purchases").fetchall()
    packs = app.execute(f"select distinct tokens, amount_inr from {SCHEMA}.purchases").fetchall()
    assert {p for (p,) in providers} == {"razorpay", "stripe"}
    assert {(t, float(inr)) for t, inr in packs} == {(500, 149), (1200, 299), (3000, 699)}


def test_captured_authorizations_debit_their_amount(app):
    summary = _simulate(app)
    rows = app.execute(
        f"""
        with debits as (
            select reference_id, count(*) as n, sum(amount) as amount, min(reason) as reason,
                   max(reason) as reason2, min(occurred_at) as at, max(occurred_at) as at2,
                   bool_and(direction = 'debit') as all_debits,
                   string_agg(token_type, ',' order by id) as types
            from {SCHEMA}.wallet_ledger where reason = any(%(features)s) group by 1
        )
        select a.status, count(*),
               count(*) filter (where d.amount = a.amount and d.all_debits
                                  and d.reason = a.feature and d.reason2 = a.feature
                                  and d.at = a.updated_at and d.at2 = a.updated_at
                                  and d.types in ('promo', 'regular', 'promo,regular')),
               count(*) filter (where d.n is not null),
               count(*) filter (where a.created_at > a.updated_at)
        from {SCHEMA}.authorizations a left join debits d on d.reference_id = a.id
        group by 1
        """,
        {"features": list(FEATURES)},
    ).fetchall()
    by_status = {status: rest for status, *rest in rows}
    assert {s: rest[0] for s, rest in by_status.items()} == summary.authorizations
    n, matching, debited, backwards = by_status["captured"]
    assert n > 1_000 and matching == debited == n and backwards == 0
    for status in ("voided", "expired", "created"):
        assert by_status[status][2:] == [0, 0], status
    orphans = app.execute(
        f"""
        select count(*) from {SCHEMA}.wallet_ledger l
        where reason = any(%(features)s)
          and not exists (select from {SCHEMA}.authorizations a where a.id = l.reference_id)
        """,
        {"features": list(FEATURES)},
    ).fetchone()[0]
    assert orphans == 0


def test_credited_referrals_pay_their_bonus(app):
    summary = _simulate(app, days=5)
    rows = app.execute(
        f"""
        with bonuses as (
            select reference_id, count(*) as n, min(amount) as low, max(amount) as high,
                   bool_and(token_type = 'promo' and direction = 'credit') as promo,
                   min(occurred_at) as at, array_agg(user_id) as users
            from {SCHEMA}.wallet_ledger where reason = 'referral_bonus' group by 1
        )
        select r.status, count(*),
               count(*) filter (where b.promo and b.low = r.bonus_tokens
                                  and b.high = r.bonus_tokens and b.at = r.updated_at
                                  and r.referrer_user_id = any(b.users)),
               count(*) filter (where b.n is not null),
               count(*) filter (where u.created_at = r.created_at
                                  and v.created_at < r.created_at),
               count(distinct r.campaign_id)
        from {SCHEMA}.referrals r
        left join bonuses b on b.reference_id = r.id::text
        join {SCHEMA}.users u on u.id = r.referred_user_id
        join {SCHEMA}.users v on v.id = r.referrer_user_id
        group by 1
        """
    ).fetchall()
    by_status = {status: rest for status, *rest in rows}
    assert {s: rest[0] for s, rest in by_status.items()} == summary.referrals
    n, paid, with_bonus, signup_time, _ = by_status["credited"]
    assert n > 10 and paid == with_bonus == signup_time == n
    n, _, with_bonus, signup_time, _ = by_status["pending"]
    assert n > 0 and with_bonus == 0 and signup_time == n


def test_ids_times_and_nothing_after_now(app):
    summary = _simulate(app)
    start = datetime.combine(summary.start, time(), UTC)
    for table, first, last in (
        ("users", "created_at", "created_at"),
        ("wallet_ledger", "occurred_at", "occurred_at"),
        ("purchases", "created_at", "updated_at"),
        ("referrals", "created_at", "updated_at"),
        ("authorizations", "created_at", "updated_at"),
    ):
        lo, hi, backwards = app.execute(
            f"select min({first}), max({last}), count(*) filter (where {first} > {last}) "
            f"from {SCHEMA}.{table}"
        ).fetchone()
        assert start <= lo and hi < CUTOFF and backwards == 0, table
    entries = app.execute(f"select id, occurred_at from {SCHEMA}.wallet_ledger").fetchall()
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert all(len(i) == 26 for i, _ in entries)
    assert all(ulid_ms(i) == (at - epoch) // timedelta(milliseconds=1) for i, at in entries)
    admins, emails = app.execute(
        f"select count(*) filter (where role = 'admin'), count(email) from {SCHEMA}.users"
    ).fetchone()
    assert 0 < admins < summary.users / 10 and emails > summary.users / 2
    # today: up to now, never after
    simulate_wallet(app, days=1, events_per_day=2_000, schema=SCHEMA, reset=True)
    latest = app.execute(
        f"""
        select greatest((select max(occurred_at) from {SCHEMA}.wallet_ledger),
                        (select max(updated_at) from {SCHEMA}.purchases),
                        (select max(updated_at) from {SCHEMA}.authorizations),
                        (select max(created_at) from {SCHEMA}.users))
        """
    ).fetchone()[0]
    assert latest is None or latest <= datetime.now(UTC)


def test_activity_looks_like_a_wallet(app):
    _simulate(app, days=5)
    evening, night, top_share, reasons = app.execute(
        f"""
        with per_user as (select user_id, count(*) as n from {SCHEMA}.wallet_ledger group by 1)
        select
            (select count(*) from {SCHEMA}.wallet_ledger
             where extract(hour from occurred_at at time zone 'utc') between 13 and 17),
            (select count(*) from {SCHEMA}.wallet_ledger
             where extract(hour from occurred_at at time zone 'utc') between 19 and 23),
            (select sum(n) from (select n from per_user order by n desc
                                 limit (select count(*) / 10 from per_user)) t) * 1.0
                / (select sum(n) from per_user),
            (select array_agg(distinct reason) from {SCHEMA}.wallet_ledger)
        """
    ).fetchone()
    assert evening > 3 * night  # the Indian evening
    assert top_share > 0.4  # a tenth of the users make most of the entries
    assert set(FEATURES) | {"purchase", "registration_bonus", "referral_bonus"} <= set(reasons)
    signup_days = app.execute(
        f"select count(distinct created_at::date) from {SCHEMA}.users"
    ).fetchone()[0]
    assert signup_days == 5
