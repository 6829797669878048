"""Deterministic Wallet API simulator: fills `users`, `wallet_ledger`, `purchases`,
`referrals` and `authorizations` of the wallet app database.

Tables and ledger semantics as in the contract (docs/SOURCES.md, wallet).
The Wallet API sells tokens that pay for AI story features. The app launches on the first
day of the window (a quarter of all users sign up that day, the rest over the window, with
slow growth); every user's whole history is in the tables, so balances start at 0 with the
user's first entry, the `registration_bonus` (promo tokens that expire after a week if
unspent: a `promo_expiry` debit). Activity is Zipf-like (a few heavy users do most of the
spending), peaks in the Indian evening (around 14–17 UTC) and comes in sessions of a few
spends each. Every spend is an authorization: `created`, `held` (the tokens are reserved)
and `captured` (one or two debits: promo first, then regular; reason = the feature,
reference_id = the authorization id), `voided` or `expired` (no debit). A spend the
balance cannot cover is refused (no authorization); often the user then buys a pack
(500 tokens = ₹149, 1200 = ₹299, 3000 = ₹699, via razorpay or stripe): the purchase goes
`created` → `pending` → `paid` (a regular `purchase` credit, reference_id = the purchase id,
and the refused session goes on) or `failed`, a few stay `created` (abandoned), and a few
paid ones are `refunded` days later (a `refund` debit when the balance allows it).
A new user was often invited: a `referrals` row of a campaign (`launch`, `invite-friends`, a
seasonal one such as `diwali-2026`) that becomes `credited` shortly after the invited
user's first captured spend, with a `referral_bonus` promo credit for the referrer (and, in
some campaigns, the invited user), expiring after two weeks. Support staff now and then
credit a few goodwill tokens (`admin_adjustment`).

Ledger ids and authorization ids are ULIDs made of the entry time in ms and a per-run
monotonic counter (plus a few bits of the seed), so per user `(occurred_at, id)` sorts in
ledger order. Rows of the mutable tables carry their status as of the end of the window (or
now), `updated_at` being the time of the last change.

The mess, a small share (`bad_share`, ~1 ledger entry in 5,000 by default, split between
the kinds, and at least one of each kind in any run that covers more than a few minutes),
each counted in the summary exactly as SQL finds it:

- ``negative_amount``, ``unknown_direction`` (``credt`` …), ``unknown_token_type``
  (``bonus`` …): back-office `admin_adjustment` rows that are NOT applied: their balance
  columns repeat the balances before them. Exactly one defect per row.
- ``overdraft``: a debit larger than the balance of its type (two devices spending at
  once: a capture the hold did not cover). It IS applied: the balance goes negative and
  later entries continue from it. The summary counts every applied debit that leaves its
  balance below 0.

``bad_kinds`` limits the kinds simulated (the MySQL target, simulate/wallet_mysql.py,
leaves out those its column types refuse).

Nothing happens after now nor after the end of ``end``; the same seed and a past ``end``
give the same rows. ``reset=True`` empties the five tables first. Without it, a run adds
what is missing: existing ids are kept (users and ledger entries as they are; purchases,
referrals and authorizations take the newer status), so re-running the same seed is safe.
"""

from __future__ import annotations

import heapq
import math
import queue
import random
import threading
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate, count
from statistics import NormalDist

import psycopg
from psycopg import sql

from dagster_project.simulate.clock import DAY, EPOCH, HOUR, MIN, SEC, window
from dagster_project.simulate.copy_rows import copy_rows

TABLES = ("users", "wallet_ledger", "purchases", "referrals", "authorizations")
FEATURES = ("chapter_generation", "image_generation", "story_export")
BAD_KINDS = ("negative_amount", "unknown_direction", "unknown_token_type", "overdraft")
PACKS = ((500, "149.00"), (1200, "299.00"), (3000, "699.00"))  # tokens, ₹

USER_COLUMNS = ("id", "username", "email", "role", "created_at")
LEDGER_COLUMNS = (
    "id",
    "user_id",
    "token_type",
    "direction",
    "reason",
    "amount",
    "balance_after_regular",
    "balance_after_promo",
    "reference_id",
    "metadata",
    "occurred_at",
)
PURCHASE_COLUMNS = (
    "id",
    "user_id",
    "provider",
    "status",
    "tokens",
    "amount_inr",
    "created_at",
    "updated_at",
)
REFERRAL_COLUMNS = (
    "id",
    "campaign_id",
    "referrer_user_id",
    "referred_user_id",
    "status",
    "bonus_tokens",
    "created_at",
    "updated_at",
)
AUTHORIZATION_COLUMNS = ("id", "user_id", "feature", "amount", "status", "created_at", "updated_at")

_DDL = """
create table if not exists {users} (
    id bigint primary key,
    username text not null,
    email text,
    role text not null,
    created_at timestamptz not null
);
create table if not exists {ledger} (
    id text primary key,
    user_id bigint,
    token_type text,
    direction text,
    reason text,
    amount bigint,
    balance_after_regular bigint,
    balance_after_promo bigint,
    reference_id text,
    metadata jsonb,
    occurred_at timestamptz
);
create index if not exists wallet_ledger_occurred_at_idx on {ledger} (occurred_at);
create table if not exists {purchases} (
    id bigint primary key,
    user_id bigint not null,
    provider text not null,
    status text not null,
    tokens bigint not null,
    amount_inr numeric(12,2) not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create table if not exists {referrals} (
    id bigint primary key,
    campaign_id text not null,
    referrer_user_id bigint not null,
    referred_user_id bigint not null,
    status text not null,
    bonus_tokens bigint not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create table if not exists {authorizations} (
    id text primary key,
    user_id bigint not null,
    feature text not null,
    amount bigint not null,
    status text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);
"""

# --- ULID -------------------------------------------------------------------------------
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [_CROCKFORD[i >> 5] + _CROCKFORD[i & 31] for i in range(1024)]  # 10 bits → 2 chars


def ulid(ms: int, counter: int, salt: int = 0) -> str:
    """A 26-character ULID: 48 bits of `ms`, then 20 bits of `salt` and 60 of `counter`
    (so ids of one run and millisecond sort in counter order)."""
    p = _PAIRS
    return "".join(
        (p[ms >> 40], p[(ms >> 30) & 1023], p[(ms >> 20) & 1023], p[(ms >> 10) & 1023],
         p[ms & 1023], p[salt >> 10 & 1023], p[salt & 1023], p[counter >> 50 & 1023],
         p[counter >> 40 & 1023], p[counter >> 30 & 1023], p[counter >> 20 & 1023],
         p[counter >> 10 & 1023], p[counter & 1023])
    )  # fmt: skip


def ulid_ms(value: str) -> int:
    """The millisecond time of a ULID."""
    n = 0
    for ch in value[:10]:
        n = n * 32 + _CROCKFORD.index(ch)
    return n


# --- the shape of activity --------------------------------------------------------------
# UTC hour weights: an Indian audience (IST = UTC+5:30), busiest in its evening.
_HOURS = [3, 4, 5, 6, 7, 7, 7, 7, 8, 8, 9, 10, 11, 13, 15, 17, 17, 15, 11, 7, 4, 2, 1, 2]
_WEEKDAY_LEVEL = (0.95, 0.93, 0.95, 0.97, 1.02, 1.12, 1.1)  # Monday … Sunday
_LAUNCH_SHARE = 0.25  # of all users sign up on the first day
_ENTRIES_PER_USER = 45  # over the window: sets how many users sign up
_ENTRIES_PER_SESSION = 2.6  # ledger entries a budgeted session brings (measured)
# (feature, tokens), weight: chapters are the bulk, exports rare and dear
_SPENDS = tuple(
    ((feature, cost), share / len(costs))
    for feature, share, costs in (
        ("chapter_generation", 55, (10, 15, 20, 25, 30)),
        ("image_generation", 35, (5, 8, 10, 12)),
        ("story_export", 10, (40, 50, 60)),
    )
    for cost in costs
)
_PACKS = ((PACKS[0], 60), (PACKS[1], 30), (PACKS[2], 10))
_PROVIDERS = (("razorpay", 72), ("stripe", 28))
_REGISTRATION_BONUS = 100
_PROMO_DAYS = {"registration_bonus": 7, "referral_bonus": 14}
_SEASONS = {1: "new-year", 2: "valentines", 3: "holi", 4: "summer", 5: "summer", 6: "monsoon",
            7: "monsoon", 8: "independence-day", 9: "onam", 10: "dussehra", 11: "diwali",
            12: "christmas"}  # fmt: skip
_BAD_DIRECTIONS = ("credt", "debitt", "crdit", "refund")
_BAD_TOKEN_TYPES = ("bonus", "gems", "coins")
_FIRST = ("aarav", "priya", "rohan", "ananya", "vikram", "sneha", "arjun", "kavya", "rahul",
          "isha", "karan", "meera", "aditya", "pooja", "nikhil", "divya", "sameer", "tanvi",
          "farhan", "zoya", "joseph", "anjali", "manoj", "riya")  # fmt: skip
_LAST = ("sharma", "patel", "iyer", "reddy", "gupta", "nair", "singh", "das", "khan", "mehta",
         "joshi", "menon", "verma", "bose", "pillai", "rao", "kapoor", "thomas")  # fmt: skip
_MAIL_DOMAINS = (("gmail.com", 70), ("yahoo.in", 8), ("outlook.com", 8), ("icloud.com", 6),
                 ("rediffmail.com", 4), ("proton.me", 4))  # fmt: skip

# event kinds of the simulation's queue
(_SIGNUP, _SESSION, _SPEND, _FINAL, _PURCHASE, _REFUND, _EXPIRE, _REFERRAL, _BAD,
 _RACE) = range(10)  # fmt: skip
# authorization record fields
_A_ID, _A_USER, _A_FEATURE, _A_AMOUNT, _A_STATUS, _A_CREATED, _A_UPDATED = range(7)
_A_OUTCOME, _A_RESERVED, _A_RACE = 7, 8, 9
# purchase record fields (the first eight are the row)
_P_ID, _P_USER, _P_PROVIDER, _P_STATUS, _P_TOKENS, _P_INR, _P_CREATED, _P_UPDATED = range(8)
_P_SESSION = 8
# referral record fields (the first eight are the row)
_R_ID, _R_CAMPAIGN, _R_REFERRER, _R_REFERRED, _R_STATUS, _R_BONUS = range(6)
_R_CREATED, _R_UPDATED, _R_BOTH = 6, 7, 8
_USER_BASE = 100_000  # user ids are 100001, 100002, … in signup order
_PURCHASE_BASE = 5_000_000
_REFERRAL_BASE = 70_000


@dataclass(frozen=True)
class WalletSimulation:
    """What was written. Status counts are over the rows written by this run; `bad_rows`
    counts ledger rows by kind (see the module docstring)."""

    users: int
    ledger_entries: int
    purchases: dict[str, int]  # status → rows
    referrals: dict[str, int]  # status → rows
    authorizations: dict[str, int]  # status → rows
    bad_rows: dict[str, int]  # negative_amount, unknown_direction, unknown_token_type, overdraft
    days: int
    start: date
    end: date

    def describe(self) -> str:
        def counts(d: dict[str, int]) -> str:
            return ", ".join(f"{n:,} {k}" for k, n in d.items() if n)

        return (
            f"simulated {self.ledger_entries:,} Wallet ledger entries of {self.users:,} users "
            f"in {self.start} … {self.end}: {sum(self.purchases.values()):,} purchases "
            f"({counts(self.purchases)}), {sum(self.authorizations.values()):,} "
            f"authorizations ({counts(self.authorizations)}), "
            f"{sum(self.referrals.values()):,} referrals ({counts(self.referrals)}); "
            f"bad rows: {counts(self.bad_rows) or 'none'}"
        )


class _Picker:
    """Weighted choice via cumulative weights (much cheaper than rng.choices)."""

    def __init__(self, items: Sequence[tuple]):
        self.values = [item[0] for item in items]
        self.cum = list(accumulate(item[1] for item in items))

    def __call__(self, rng: random.Random):
        return self.values[bisect_right(self.cum, rng.random() * self.cum[-1])]


_pick_hour = _Picker(list(enumerate(_HOURS)))
_pick_spend = _Picker(_SPENDS)
_pick_pack = _Picker(_PACKS)
_pick_provider = _Picker(_PROVIDERS)
_pick_domain = _Picker(_MAIL_DOMAINS)


_MINUTES: dict[int, str] = {}
_IN_MINUTE = [f":{ms // 1000:02d}.{ms % 1000:03d}Z" for ms in range(MIN)]


def _iso(ms: int) -> str:
    """ISO 8601 UTC with milliseconds, from a per-minute cache (datetime would dominate)."""
    minute, rem = divmod(ms, MIN)
    head = _MINUTES.get(minute)
    if head is None:
        head = _MINUTES[minute] = (EPOCH + timedelta(minutes=minute)).isoformat("T", "minutes")
    return head + _IN_MINUTE[rem]


# standard normal quantiles: a lognormal draw is one table look-up (rng.gauss is slow)
_Z = [NormalDist().inv_cdf((i + 0.5) / 4096) for i in range(4096)]


def _lognormal(rng: random.Random, median: float, sigma: float, lo: int, hi: int) -> int:
    return min(hi, max(lo, int(median * math.exp(sigma * _Z[int(rng.random() * 4096)]))))


def _between(rng: random.Random, lo: int, hi: int) -> int:
    """Like rng.randrange(lo, hi), several times cheaper (hi - lo is far below 2**53)."""
    return lo + int(rng.random() * (hi - lo))


def _weekday(day_ms: int) -> int:
    return (day_ms // DAY + 3) % 7  # 1970-01-01 was a Thursday


def _campaigns(start: date, days: int) -> list[tuple[str, int, bool, int]]:
    """(campaign_id, bonus tokens, does the invited user get it too, first day index)."""
    mid = start + timedelta(days=days // 3)
    return [
        ("launch", 200, True, 0),
        ("invite-friends", 100, False, 0),
        (f"{_SEASONS[mid.month]}-{mid.year}", 150, True, days // 3),
    ]


class _Wallet:
    """The simulation: a time-ordered queue of events over per-user balances."""

    def __init__(self, seed, per_day, days, start, start_ms, cutoff, bad_share, bad_kinds):
        self.rng = random.Random(f"wallet:{seed}")
        self.salt = (seed * 2654435761) & 0xFFFFF
        self.start_ms, self.cutoff, self.days = start_ms, cutoff, days
        self.queue: list[tuple] = []
        self.seq = count()
        self.counter = 0  # ULIDs
        self.campaigns = _campaigns(start, days)
        self._users(random.Random(f"wallet-users:{seed}"), per_day, days)
        n = len(self.signups)
        self.registered = 0
        self.reg = [0] * n
        self.promo = [0] * n
        self.held = [0] * n
        self.buying = [0] * n  # until when a purchase is under way
        self.invite: list[list | None] = [None] * n  # pending referral of an invited user
        self.purchases: list[list] = []
        self.referrals: list[list] = []
        self.open_auths: dict[str, list] = {}
        self.ledger_out: list[tuple] = []
        self.users_out: list[tuple] = []
        self.auths_out: list[list] = []
        self.bad = dict.fromkeys(BAD_KINDS, 0)
        self.tickets = count(40_001)
        self.handlers = (self.signup, self.session, self.spend, self.final, self.purchase_step,
                         self.refund, self.expire, self.referral_credit, self.bad_row,
                         self.race)  # fmt: skip
        self._mess(random.Random(f"wallet-mess:{seed}"), per_day, bad_share, bad_kinds)

    # --- set-up -------------------------------------------------------------------------
    def _users(self, rng: random.Random, per_day: int, days: int) -> None:
        """Everyone who signs up in the window: sorted signup times and attributes."""
        total = max(20, round(per_day * days / _ENTRIES_PER_USER))
        weights = [
            _WEEKDAY_LEVEL[_weekday(self.start_ms + d * DAY)] * (1 + 0.02 * d)
            * rng.uniform(0.85, 1.15)
            for d in range(days)
        ]  # fmt: skip
        later = total * (1 - _LAUNCH_SHARE) if days > 1 else 0
        scale = later / sum(weights[1:]) if days > 1 else 0
        per = [round(total - later)] + [round(w * scale) for w in weights[1:]]
        times = sorted(
            self.start_ms + d * DAY + _pick_hour(rng) * HOUR + rng.randrange(HOUR)
            for d, n in enumerate(per)
            for _ in range(n)
        )
        self.signups = times
        self.weights = list(accumulate(min(400.0, rng.paretovariate(1.1)) for _ in times))
        self.profiles = []
        for i in range(len(times)):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            n = rng.randrange(1, 10_000)
            style = rng.random()
            username = f"{first}{n}" if style < 0.4 else f"{first}_{last}{n % 100}"
            if rng.random() < 0.003 or i == 7:
                role, email = "admin", f"{first}.{last}@storywallet.in"
            else:
                role = "user"
                email = (
                    None
                    if rng.random() < 0.07
                    else f"{first}.{last}{n % 1000}@{_pick_domain(rng)}"
                    if style < 0.7
                    else f"{first}{last[0]}{n}@{_pick_domain(rng)}"
                )
            self.profiles.append((username, email, role, rng.random() < 0.3))

    def _mess(self, rng: random.Random, per_day: int, share: float, kinds) -> None:
        """The bad rows: a quota per kind of `kinds` at random times between the first
        signup and just before the cutoff (so every run long enough has each kind). The
        times of every kind are drawn, so leaving a kind out moves no other one."""
        if not self.signups:
            return
        lo, hi = self.signups[0] + SEC, self.cutoff - 10 * SEC
        if hi <= lo:
            return
        expected = per_day * (self.cutoff - self.start_ms) / DAY
        quota = max(1, round(expected * share / len(BAD_KINDS)))
        for kind in BAD_KINDS:
            for _ in range(quota):
                t = rng.randrange(lo, hi)
                if kind not in kinds:
                    continue
                if kind == "overdraft":
                    self.push(t, _RACE, None)
                else:
                    self.push(t, _BAD, kind)

    def push(self, t: int, kind: int, data) -> None:
        heapq.heappush(self.queue, (t, next(self.seq), kind, data))

    # --- the day loop -------------------------------------------------------------------
    def schedule_day(self, d: int, sessions: int) -> None:
        rng, day_ms = self.rng, self.start_ms + d * DAY
        first = bisect_left(self.signups, day_ms)
        for i in range(first, bisect_left(self.signups, day_ms + DAY)):
            self.push(self.signups[i], _SIGNUP, i)
        for _ in range(sessions):
            t = day_ms + _pick_hour(rng) * HOUR + _between(rng, 0, HOUR)
            if t < self.cutoff:
                self.push(t, _SESSION, None)

    def run_until(self, bound: int) -> None:
        queue, handlers, pop = self.queue, self.handlers, heapq.heappop
        while queue and queue[0][0] < bound:
            t, _, kind, data = pop(queue)
            handlers[kind](t, data)

    # --- ledger -------------------------------------------------------------------------
    def entry(self, t, u, token, direction, reason, amount, ref, meta) -> None:
        c = self.counter
        self.counter = c + 1
        self.ledger_out.append(
            (ulid(t, c, self.salt), _USER_BASE + 1 + u, token, direction, reason, amount,
             self.reg[u], self.promo[u], ref, meta, _iso(t))
        )  # fmt: skip

    def credit(self, t, u, promo: bool, reason, amount, ref, meta=None) -> None:
        if promo:
            self.promo[u] += amount
        else:
            self.reg[u] += amount
        self.entry(t, u, "promo" if promo else "regular", "credit", reason, amount, ref, meta)

    def debit(self, t, u, promo: bool, reason, amount, ref, meta=None) -> None:
        if promo:
            self.promo[u] -= amount
            after = self.promo[u]
        else:
            self.reg[u] -= amount
            after = self.reg[u]
        if after < 0:
            self.bad["overdraft"] += 1
        self.entry(t, u, "promo" if promo else "regular", "debit", reason, amount, ref, meta)

    def available(self, u: int) -> int:
        return self.reg[u] + self.promo[u] - self.held[u]

    def pick_user(self) -> int:
        """An active user (signed up by now), heavy users far more often."""
        n = self.registered
        return bisect_right(self.weights, self.rng.random() * self.weights[n - 1], 0, n - 1)

    def pick_solvent_user(self) -> int:
        for _ in range(20):
            u = self.pick_user()
            if self.reg[u] >= 0 and self.promo[u] >= 0:
                return u
        return u

    # --- handlers -----------------------------------------------------------------------
    def signup(self, t: int, u: int) -> None:
        rng = self.rng
        username, email, role, invited = self.profiles[u]
        referrer = self.pick_user() if invited and self.registered else None
        self.registered = u + 1
        self.users_out.append((_USER_BASE + 1 + u, username, email, role, _iso(t)))
        self.credit(t, u, True, "registration_bonus", _REGISTRATION_BONUS, None,
                    '{"channel":"signup"}')  # fmt: skip
        self.push(t + _PROMO_DAYS["registration_bonus"] * DAY, _EXPIRE,
                  (u, _REGISTRATION_BONUS, "registration_bonus"))  # fmt: skip
        if referrer is not None:
            day = (t - self.start_ms) // DAY
            live = [c for c in self.campaigns if c[3] <= day and (c[0] != "launch" or day < 7)]
            name, bonus, both, _ = live[-1] if rng.random() < 0.6 else rng.choice(live)
            rec = [_REFERRAL_BASE + len(self.referrals) + 1, name, referrer, u, "pending",
                   bonus, t, t, both]  # fmt: skip
            self.referrals.append(rec)
            self.invite[u] = rec
        # the first session: trying out the features with the bonus
        self.push(t + _lognormal(rng, 2 * MIN, 1.0, 5 * SEC, 2 * HOUR), _SPEND,
                  (u, 1 + int(rng.expovariate(1 / 3))))  # fmt: skip

    def session(self, t: int, _) -> None:
        if not self.registered:
            return
        rng = self.rng
        u = self.pick_user()
        if rng.random() < 0.0004:  # support credits a few tokens for a bad generation
            ticket = f"ticket-{next(self.tickets)}"
            self.credit(t, u, False, "admin_adjustment", rng.choice((20, 50, 100, 250)), ticket,
                        '{"note":"goodwill"}')  # fmt: skip
        self.spend(t, (u, 1 + int(rng.expovariate(1 / 2.2))))

    def spend(self, t: int, data) -> None:
        u, left = data
        rng = self.rng
        feature, amount = _pick_spend(rng)
        if self.available(u) >= amount:
            self.authorize(t, u, feature, amount)
            if left > 1:
                gap = _lognormal(rng, 50 * SEC, 0.9, 3 * SEC, 20 * MIN)
                self.push(t + gap, _SPEND, (u, left - 1))
        elif self.buying[u] <= t and rng.random() < 0.55:
            self.start_purchase(t, u, left)

    def authorize(self, t: int, u: int, feature: str, amount: int, race: bool = False) -> None:
        rng = self.rng
        c = self.counter
        self.counter = c + 1
        aid = ulid(t, c, self.salt)
        hold = t + _between(rng, 40, 900)
        rec = [aid, u, feature, amount, "created", t, t, None, 0, race]
        if not race and rng.random() < 0.008:  # the client died before the hold
            self.auths_out.append(rec)
            return
        if hold < self.cutoff:
            rec[_A_STATUS], rec[_A_UPDATED] = "held", hold
        r = rng.random()
        if race:
            outcome, done = "captured", hold + rng.randrange(SEC, 4 * SEC)
        elif r < 0.9:
            outcome, done = "captured", hold + _lognormal(rng, 12 * SEC, 0.8, 2 * SEC, 5 * MIN)
        elif r < 0.975:
            outcome, done = "voided", hold + _lognormal(rng, 20 * SEC, 1.0, SEC, 10 * MIN)
        else:
            outcome, done = "expired", hold + 15 * MIN
        rec[_A_OUTCOME] = outcome
        if not race:
            rec[_A_RESERVED] = amount
            self.held[u] += amount
        self.open_auths[aid] = rec
        self.push(done, _FINAL, rec)

    def final(self, t: int, rec: list) -> None:
        u, amount, outcome = rec[_A_USER], rec[_A_AMOUNT], rec[_A_OUTCOME]
        self.held[u] -= rec[_A_RESERVED]
        if outcome == "captured":
            promo = max(0, self.promo[u])
            if rec[_A_RACE]:  # captured twice over: more than the balance
                amount = max(amount, promo + max(0, self.reg[u]) + self.rng.randrange(5, 60))
                rec[_A_AMOUNT] = amount
            from_promo = min(promo, amount)
            if rec[_A_RACE] or amount - from_promo <= self.reg[u]:
                aid, feature = rec[_A_ID], rec[_A_FEATURE]
                if from_promo:
                    self.debit(t, u, True, feature, from_promo, aid)
                if amount > from_promo:
                    self.debit(t, u, False, feature, amount - from_promo, aid)
            else:
                outcome = "voided"  # the balance went below the hold (an overdraft before)
        rec[_A_STATUS], rec[_A_UPDATED] = outcome, t
        del self.open_auths[rec[_A_ID]]
        self.auths_out.append(rec)

    def start_purchase(self, t: int, u: int, left: int) -> None:
        rng = self.rng
        tokens, inr = _pick_pack(rng)
        pid = _PURCHASE_BASE + len(self.purchases) + 1
        rec = [pid, u, _pick_provider(rng), "created", tokens, inr, t, t, left]
        self.purchases.append(rec)
        self.buying[u] = t + 30 * MIN
        if rng.random() >= 0.07:  # the rest abandon the checkout: they stay `created`
            self.push(t + _lognormal(rng, 20 * SEC, 0.8, 3 * SEC, 5 * MIN), _PURCHASE, rec)

    def purchase_step(self, t: int, rec: list) -> None:
        rng = self.rng
        if rec[_P_STATUS] == "created":
            rec[_P_STATUS], rec[_P_UPDATED] = "pending", t
            self.push(t + _lognormal(rng, 40 * SEC, 1.0, 4 * SEC, 15 * MIN), _PURCHASE, rec)
            return
        u = rec[_P_USER]
        fails = 0.16 if rec[_P_PROVIDER] == "razorpay" else 0.1
        rec[_P_UPDATED] = t
        self.buying[u] = t
        if rng.random() < fails:
            rec[_P_STATUS] = "failed"
            return
        rec[_P_STATUS] = "paid"
        meta = f'{{"provider":"{rec[_P_PROVIDER]}","pack":{rec[_P_TOKENS]}}}'
        self.credit(t, u, False, "purchase", rec[_P_TOKENS], str(rec[_P_ID]), meta)
        invite = self.invite[u]
        if invite is not None:  # the invited user's first payment: the referral pays out
            self.invite[u] = None
            delay = _lognormal(rng, 5 * MIN, 1.0, 30 * SEC, 2 * HOUR)
            self.push(t + delay, _REFERRAL, invite)
        self.push(t + _lognormal(rng, 30 * SEC, 0.8, 3 * SEC, 10 * MIN), _SPEND,
                  (u, rec[_P_SESSION]))  # fmt: skip
        if rng.random() < 0.025:
            self.push(t + rng.randrange(6 * HOUR, 5 * DAY), _REFUND, rec)

    def refund(self, t: int, rec: list) -> None:
        u, tokens = rec[_P_USER], rec[_P_TOKENS]
        rec[_P_STATUS], rec[_P_UPDATED] = "refunded", t
        if self.reg[u] >= tokens and self.available(u) >= tokens:
            self.debit(t, u, False, "refund", tokens, str(rec[_P_ID]),
                       f'{{"provider":"{rec[_P_PROVIDER]}"}}')  # fmt: skip

    def expire(self, t: int, data) -> None:
        u, granted, reason = data
        amount = min(granted, self.promo[u], self.available(u))
        if amount > 0:
            meta = f'{{"granted":"{reason}","days":{_PROMO_DAYS[reason]}}}'
            self.debit(t, u, True, "promo_expiry", amount, None, meta)

    def referral_credit(self, t: int, rec: list) -> None:
        rec[_R_STATUS], rec[_R_UPDATED] = "credited", t
        rid, bonus = str(rec[_R_ID]), rec[_R_BONUS]
        meta = f'{{"campaign_id":"{rec[_R_CAMPAIGN]}"}}'
        expires = t + _PROMO_DAYS["referral_bonus"] * DAY
        for u in (rec[_R_REFERRER], rec[_R_REFERRED]) if rec[_R_BOTH] else (rec[_R_REFERRER],):
            self.credit(t, u, True, "referral_bonus", bonus, rid, meta)
            self.push(expires, _EXPIRE, (u, bonus, "referral_bonus"))

    def bad_row(self, t: int, kind: str) -> None:
        if not self.registered:
            return
        rng = self.rng
        u = self.pick_solvent_user()
        token, direction = rng.choice(("regular", "promo")), rng.choice(("credit", "debit"))
        amount = rng.choice((10, 25, 50, 100, 200))
        if kind == "negative_amount":
            amount = -amount
        elif kind == "unknown_direction":
            direction = rng.choice(_BAD_DIRECTIONS)
        else:
            token = rng.choice(_BAD_TOKEN_TYPES)
        self.bad[kind] += 1
        ticket = f"ticket-{next(self.tickets)}"
        self.entry(t, u, token, direction, "admin_adjustment", amount, ticket,
                   '{"source":"backoffice"}')  # fmt: skip

    def race(self, t: int, _) -> None:
        if self.registered:
            self.authorize(t, self.pick_solvent_user(), _pick_spend(self.rng)[0], 10, race=True)

    # --- rows ---------------------------------------------------------------------------
    def take_ledger(self) -> list[tuple]:
        rows, self.ledger_out = self.ledger_out, []
        return rows

    def take_users(self) -> list[tuple]:
        rows, self.users_out = self.users_out, []
        return rows

    def take_auths(self, final: bool) -> list[tuple]:
        recs, self.auths_out = self.auths_out, []
        if final:
            recs += self.open_auths.values()
            self.open_auths = {}
        return [
            (r[_A_ID], _USER_BASE + 1 + r[_A_USER], r[_A_FEATURE], r[_A_AMOUNT], r[_A_STATUS],
             _iso(r[_A_CREATED]), _iso(r[_A_UPDATED]))
            for r in recs
        ]  # fmt: skip

    def purchase_rows(self) -> list[tuple]:
        return [
            (r[_P_ID], _USER_BASE + 1 + r[_P_USER], r[_P_PROVIDER], r[_P_STATUS], r[_P_TOKENS],
             r[_P_INR], _iso(r[_P_CREATED]), _iso(r[_P_UPDATED]))
            for r in self.purchases
        ]  # fmt: skip

    def referral_rows(self) -> list[tuple]:
        return [
            (r[_R_ID], r[_R_CAMPAIGN], _USER_BASE + 1 + r[_R_REFERRER],
             _USER_BASE + 1 + r[_R_REFERRED], r[_R_STATUS], r[_R_BONUS], _iso(r[_R_CREATED]),
             _iso(r[_R_UPDATED]))
            for r in self.referrals
        ]  # fmt: skip


def _table(schema: str | None, table: str) -> sql.Identifier:
    return sql.Identifier(schema, table) if schema else sql.Identifier(table)


def create_tables(conn: psycopg.Connection, schema: str | None = None) -> None:
    """Create the five wallet tables (and the ledger's occurred_at index) if missing, in
    `schema` (created if needed) or the connection's default one. Does not commit."""
    if schema:
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    conn.execute(
        sql.SQL(_DDL).format(
            users=_table(schema, "users"),
            ledger=_table(schema, "wallet_ledger"),
            purchases=_table(schema, "purchases"),
            referrals=_table(schema, "referrals"),
            authorizations=_table(schema, "authorizations"),
        )
    )


class _Writer:
    """COPY straight into empty tables; otherwise COPY into a temporary table and insert
    what is missing (a mutable row already there takes the newer status)."""

    def __init__(self, conn: psycopg.Connection, schema: str | None):
        self.conn, self.schema = conn, schema
        self.direct = {
            table: conn.execute(
                sql.SQL("select not exists (select from {})").format(_table(schema, table))
            ).fetchone()[0]
            for table in TABLES
        }

    def write(self, table: str, columns: Sequence[str], rows: list[tuple]) -> int:
        if not rows:
            return 0
        target = _table(self.schema, table)
        if self.direct[table]:
            return copy_rows(self.conn, target, columns, rows)
        temp = sql.Identifier(f"_wallet_new_{table}")
        self.conn.execute(
            sql.SQL("create temporary table if not exists {} (like {}) on commit drop").format(
                temp, target
            )
        )
        self.conn.execute(sql.SQL("truncate {}").format(temp))
        copy_rows(self.conn, temp, columns, rows)
        if "status" in columns:
            conflict = sql.SQL(
                "do update set status = excluded.status, updated_at = excluded.updated_at "
                "where t.updated_at < excluded.updated_at"
            )
        else:
            conflict = sql.SQL("do nothing")
        self.conn.execute(
            sql.SQL("insert into {} as t ({}) select {} from {} on conflict (id) {}").format(
                target,
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                temp,
                conflict,
            )
        )
        return len(rows)


class _Background:
    """Writes in a thread, so PostgreSQL stores one day (indexes, WAL) while the next one is
    simulated. Only this thread uses the connection until `close()`; a failure there is
    raised in the caller at the next `put` or at `close`."""

    def __init__(self, writer):  # _Writer, or any object with its write()
        self.writer = writer
        self.jobs: queue.Queue = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="wallet-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            if self.error is None:
                try:
                    self.writer.write(*job)
                except BaseException as exc:  # re-raised in the caller
                    self.error = exc

    def put(self, table: str, columns: Sequence[str], rows: list[tuple]) -> int:
        if self.error is not None:
            self.close()
        self.jobs.put((table, columns, rows))
        return len(rows)

    def close(self) -> None:
        if self.thread.is_alive():
            self.jobs.put(None)
            self.thread.join()
        if self.error is not None:
            raise self.error


def simulate_wallet(
    conn: psycopg.Connection,
    *,
    days: int = 30,
    events_per_day: int = 20_000,
    seed: int = 42,
    end: date | None = None,
    reset: bool = False,
    progress: Callable[[int, int], None] | None = None,
    schema: str | None = None,
    bad_share: float = 1 / 5_000,
    bad_kinds: Sequence[str] = BAD_KINDS,
) -> WalletSimulation:
    """Create the tables if needed, simulate ~`events_per_day` ledger entries per UTC day,
    commit. Deterministic for a given seed, `bad_kinds` and a past `end` (default: today
    UTC, up to now). `progress(days_done, days)` is called after each day is simulated (its
    rows are then written in the background; all of them before this returns)."""
    window(end, days)  # a bad window fails before anything is emptied
    # simulated data: no need to wait for the WAL flush of ~1M rows at commit
    conn.execute("set local synchronous_commit = off")
    create_tables(conn, schema)
    if reset:
        conn.execute(
            sql.SQL("truncate {}").format(
                sql.SQL(", ").join(_table(schema, table) for table in TABLES)
            )
        )
    options = {"days": days, "events_per_day": events_per_day, "seed": seed, "end": end}
    summary = simulate_into(
        _Writer(conn, schema),
        progress=progress,
        bad_share=bad_share,
        bad_kinds=bad_kinds,
        **options,
    )
    conn.commit()
    return summary


def simulate_into(
    writer,
    *,
    days: int,
    events_per_day: int,
    seed: int,
    end: date | None,
    progress: Callable[[int, int], None] | None,
    bad_share: float,
    bad_kinds: Sequence[str],
) -> WalletSimulation:
    """Simulate and hand the rows to `writer.write(table, columns, rows)` from a background
    thread (any database: PostgreSQL here, MySQL in wallet_mysql); does not commit."""
    start, end, start_ms, cutoff = window(end, days)
    sim = _Wallet(seed, events_per_day, days, start, start_ms, cutoff, bad_share, bad_kinds)
    level = [
        _WEEKDAY_LEVEL[_weekday(start_ms + d * DAY)] * sim.rng.uniform(0.92, 1.08)
        for d in range(days)
    ]
    # the launch day is quieter: the users arrive during it
    level[0] *= 0.6 if days > 1 else 1
    scale = events_per_day * days / _ENTRIES_PER_SESSION / sum(level)
    users = entries = 0
    auth_status: Counter[str] = Counter()
    out = _Background(writer)
    try:
        for d in range(days):
            sim.schedule_day(d, round(level[d] * scale))
            sim.run_until(min(start_ms + (d + 1) * DAY, cutoff))
            users += out.put("users", USER_COLUMNS, sim.take_users())
            entries += out.put("wallet_ledger", LEDGER_COLUMNS, sim.take_ledger())
            auths = sim.take_auths(final=d == days - 1)
            auth_status.update(row[4] for row in auths)
            out.put("authorizations", AUTHORIZATION_COLUMNS, auths)
            if progress:
                progress(d + 1, days)
        purchases, referrals = sim.purchase_rows(), sim.referral_rows()
        out.put("purchases", PURCHASE_COLUMNS, purchases)
        out.put("referrals", REFERRAL_COLUMNS, referrals)
    finally:
        out.close()
    return WalletSimulation(
        users=users,
        ledger_entries=entries,
        purchases=dict(sorted(Counter(r[3] for r in purchases).items())),
        referrals=dict(sorted(Counter(r[4] for r in referrals).items())),
        authorizations=dict(sorted(auth_status.items())),
        bad_rows=dict(sim.bad),
        days=days,
        start=start,
        end=end,
    )
