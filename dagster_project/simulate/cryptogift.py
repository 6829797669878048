"""Deterministic CryptoGift DAO simulator: fills `tasks`, `referral_codes`, `referrals` and
`referral_rewards` (tables and referral semantics as in docs/SOURCES.md).

Tasks: about ``events_per_day / 100`` a day, in six domains (a few without one), posted
mostly in working hours. A task is claimed after hours to days (some are never claimed),
work starts soon after, and it is completed after a duration that depends on its type;
the reward is in CGC. Each table row holds the task's state as of the end of the window
(or now): ``updated_at`` is its last change.

Referral network: a few founder wallets hold codes before the window; about
``events_per_day / 200`` wallets join a day, each through the code of a wallet already in
(chosen with preferential attachment, so a few referrers dominate the leaderboard). The
join writes the level-1 row for that wallet's code and, up its chain, level-2 and level-3
rows for the referrer's referrer (and theirs), all with the join's created_at. Some new
wallets create a code of their own. A referral is ``pending``, becomes ``active`` after
hours to days (or ``inactive`` later); 0–2 rewards per referral (level 1 pays more),
``completed`` once active, ``pending`` while the referral is.

The mess (a small share, at least one of each in any run that writes a few hundred rows):
tasks with a status outside the four (``done``, ``complete``, ``Completed``, ``cancelled``)
and referrals with a level outside 1–3 (a level 0 self-credit, or a level 4 row from a
client that walked one ancestor too far). Some clients send checksummed (mixed-case)
wallet addresses for assignees and referred wallets.

The same seed and a past ``end`` give the same rows. ``reset=True`` empties the four tables
first; without it, rows are upserted by id (tasks and referrals take the new state, codes
and rewards already present are kept), so a re-run never fails on a key.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg import sql

from dagster_project.simulate.clock import DAY, EPOCH, HOUR, MIN, window
from dagster_project.simulate.community import community_wallet
from dagster_project.simulate.copy_rows import copy_rows

TASK_STATUSES = ("available", "claimed", "in_progress", "completed")
REFERRAL_STATUSES = ("pending", "active", "inactive")
BAD_TASK_STATUSES = ("done", "complete", "Completed", "cancelled")

DOMAINS = ("dev", "design", "content", "marketing", "research", "community")
# task type → (domains it appears in, median hours of work, reward range in CGC)
TASK_TYPES = {
    "bug_fix": (("dev",), 6, (50, 300)),
    "feature": (("dev",), 30, (300, 2000)),
    "review": (("dev", "design", "research"), 3, (20, 120)),
    "mockup": (("design",), 12, (100, 600)),
    "article": (("content", "research", "marketing"), 10, (80, 400)),
    "video": (("content", "marketing"), 20, (150, 900)),
    "translation": (("content", "community"), 5, (40, 200)),
    "campaign": (("marketing",), 16, (100, 700)),
    "research_report": (("research",), 24, (200, 1000)),
    "moderation": (("community",), 4, (20, 100)),
    "onboarding": (("community",), 3, (30, 150)),
}
_DOMAIN_WEIGHTS = (("dev", 35), ("design", 12), ("content", 18), ("marketing", 12),
                   ("research", 10), ("community", 13))  # fmt: skip
_TYPES_BY_DOMAIN = {d: [t for t, spec in TASK_TYPES.items() if d in spec[0]] for d in DOMAINS}
_LEVEL_REWARDS = {1: (20, 100), 2: (5, 30), 3: (2, 12)}  # CGC per reward, by level
_TITLE_VERBS = ("Fix", "Build", "Review", "Write", "Design", "Translate", "Research", "Improve")
_TITLE_THINGS = ("claim flow", "gift page", "wallet connect", "education module", "docs",
                 "landing page", "Discord onboarding", "referral banner")  # fmt: skip

TASK_COLUMNS = ("id", "domain", "task_type", "title", "status", "reward_cgc", "assignee_wallet",
                "created_at", "claimed_at", "completed_at", "updated_at")  # fmt: skip
CODE_COLUMNS = ("id", "wallet_address", "code", "created_at")
REFERRAL_COLUMNS = ("id", "referral_code_id", "referred_wallet", "level", "status",
                    "created_at", "updated_at")  # fmt: skip
REWARD_COLUMNS = ("id", "referral_id", "amount", "status", "created_at")

_DDL = """
create table if not exists {tasks} (
    id bigint primary key,
    domain text,
    task_type text,
    title text not null,
    status text not null,
    reward_cgc numeric(18,2) not null,
    assignee_wallet text,
    created_at timestamptz not null,
    claimed_at timestamptz,
    completed_at timestamptz,
    updated_at timestamptz not null
);
create table if not exists {codes} (
    id bigint primary key,
    wallet_address text not null,
    code text not null unique,
    created_at timestamptz not null
);
create table if not exists {referrals} (
    id bigint primary key,
    referral_code_id bigint not null,
    referred_wallet text not null,
    level smallint not null,
    status text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create table if not exists {rewards} (
    id bigint primary key,
    referral_id bigint not null,
    amount numeric(18,2) not null,
    status text not null,
    created_at timestamptz not null
);
"""
_TABLES = ("tasks", "referral_codes", "referrals", "referral_rewards")
# what an upsert of an existing id does: mutable tables take the new state
_MUTABLE = {"tasks": TASK_COLUMNS, "referrals": REFERRAL_COLUMNS}


@dataclass(frozen=True)
class CryptogiftSimulation:
    """What was written (rows generated; a re-run may keep rows already present)."""

    tasks: int
    bad_tasks: int  # status outside available/claimed/in_progress/completed
    referral_codes: int
    referrals: int  # rows, all levels
    joins: int  # wallets that joined through a code (= level-1 rows)
    bad_referrals: int  # level outside 1–3
    rewards: int
    days: int
    start: date
    end: date

    def describe(self) -> str:
        return (
            f"simulated {self.tasks:,} CryptoGift DAO tasks ({self.bad_tasks} with an unknown "
            f"status), {self.joins:,} wallets joining through {self.referral_codes:,} "
            f"referral codes ({self.referrals:,} referral rows at levels 1–3, "
            f"{self.bad_referrals} with a bad level) and {self.rewards:,} rewards in "
            f"{self.start} … {self.end}"
        )


def _ts(ms: int) -> datetime:
    return (EPOCH + timedelta(milliseconds=ms)).replace(tzinfo=UTC)


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(sigma * rng.gauss())


def _weighted(rng: random.Random, items: Sequence[tuple[str, int]]) -> str:
    return rng.choices([i[0] for i in items], weights=[i[1] for i in items])[0]


def _address(rng: random.Random) -> str:
    return f"0x{rng.getrandbits(160):040x}"


def _as_sent(rng: random.Random, address: str) -> str:
    """Some clients send a checksummed (mixed-case) address: staging lowercases it."""
    if rng.random() < 0.05:
        return "0x" + "".join(c.upper() if rng.random() < 0.5 else c for c in address[2:])
    return address


def _work_time(rng: random.Random, day_ms: int) -> int:
    """A moment of the day, mostly in (UTC) working hours."""
    hour = min(23, max(0, int(rng.gauss(14, 4.5))))
    return day_ms + hour * HOUR + rng.randrange(HOUR)


class _Tasks:
    def __init__(self, rng: random.Random, cutoff: int, bad_share: float):
        self.rng, self.cutoff, self.bad_share = rng, cutoff, bad_share
        self.rows: list[tuple] = []
        self.bad = 0
        self.workers = [_address(rng) for _ in range(200)]

    def add(self, created: int) -> None:
        rng, cutoff = self.rng, self.cutoff
        domain = _weighted(rng, _DOMAIN_WEIGHTS)
        task_type = rng.choice(_TYPES_BY_DOMAIN[domain])
        _, median_hours, (lo, hi) = TASK_TYPES[task_type]
        if rng.random() < 0.02:
            domain = None  # posted without a domain
        reward = round(rng.uniform(lo, hi) / 5) * 5
        title = f"{rng.choice(_TITLE_VERBS)} {rng.choice(_TITLE_THINGS)}"
        claimed = started = completed = None
        if rng.random() < 0.85:  # the rest are never picked up
            claimed = created + int(_lognormal(rng, 10, 1.0) * HOUR)
            started = claimed + int(_lognormal(rng, 8, 1.2) * HOUR)
            if rng.random() < 0.9:  # a few are abandoned in progress
                completed = started + int(_lognormal(rng, median_hours, 0.7) * HOUR)
        status, updated = "available", created
        claimed_at = completed_at = assignee = None
        if claimed is not None and claimed < cutoff:
            status, updated, claimed_at = "claimed", claimed, _ts(claimed)
            assignee = _as_sent(rng, rng.choice(self.workers))
            if started < cutoff:
                status, updated = "in_progress", started
                if completed is not None and completed < cutoff:
                    status, updated, completed_at = "completed", completed, _ts(completed)
        if rng.random() < self.bad_share:
            status = rng.choice(BAD_TASK_STATUSES)
            self.bad += 1
        task_id = len(self.rows) + 1
        self.rows.append((task_id, domain, task_type, title, status, reward, assignee,
                          _ts(created), claimed_at, completed_at, _ts(updated)))  # fmt: skip

    def ensure_bad(self) -> None:
        """At least one unknown status in any run with tasks: the middle task's."""
        if self.bad == 0 and self.rows:
            i = len(self.rows) // 2
            self.rows[i] = (*self.rows[i][:4], BAD_TASK_STATUSES[0], *self.rows[i][5:])
            self.bad = 1


class _Wallet:
    __slots__ = ("address", "parent", "code_id", "referred")

    def __init__(self, address: str, parent: _Wallet | None):
        self.address, self.parent = address, parent
        self.code_id: int | None = None
        self.referred = 0


class _Network:
    def __init__(self, rng: random.Random, cutoff: int, bad_share: float):
        self.rng, self.cutoff, self.bad_share = rng, cutoff, bad_share
        self.codes: list[tuple] = []
        self.referrals: list[tuple] = []
        self.rewards: list[tuple] = []
        self.holders: list[_Wallet] = []  # wallets with a code, in code order
        self.joins = self.bad = 0
        self.used_codes: set[str] = set()
        self.wallets = 0  # community wallets handed out (founders, then joiners)

    def new_wallet(self, parent: _Wallet | None) -> _Wallet:
        """The next community wallet: the gift simulator names the earliest as referrers."""
        self.wallets += 1
        return _Wallet(community_wallet(self.wallets - 1), parent)

    def give_code(self, wallet: _Wallet, at: int) -> None:
        code_id = len(self.codes) + 1
        while True:
            code = "CG-" + "".join(self.rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=6))
            if code not in self.used_codes:
                break
        self.used_codes.add(code)
        wallet.code_id = code_id
        self.holders.append(wallet)
        self.codes.append((code_id, wallet.address, code, _ts(at)))

    def pick_referrer(self) -> _Wallet:
        """Preferential attachment: a wallet that referred many is likelier to refer again."""
        rng = self.rng
        if rng.random() < 0.5:  # someone recently active shares their link
            return self.holders[int(len(self.holders) * (1 - rng.random() ** 3))]
        while True:
            w = rng.choice(self.holders)
            if rng.random() < (1 + w.referred) / (4 + w.referred):
                return w

    def join(self, at: int) -> None:
        rng, cutoff = self.rng, self.cutoff
        parent = self.pick_referrer()
        wallet = self.new_wallet(parent)
        parent.referred += 1
        self.joins += 1
        sent = _as_sent(rng, wallet.address)
        # the referral's life, shared by its rows at every level
        activated = at + int(_lognormal(rng, 18, 1.1) * HOUR) if rng.random() < 0.8 else None
        lapsed = None
        if activated is not None and rng.random() < 0.12:
            lapsed = activated + int(_lognormal(rng, 6, 0.8) * DAY)
        status, updated = "pending", at
        if activated is not None and activated < cutoff:
            status, updated = "active", activated
            if lapsed is not None and lapsed < cutoff:
                status, updated = "inactive", lapsed
        ancestor, level = parent, 1
        while ancestor is not None and level <= 3:
            self.referral(ancestor.code_id, sent, level, status, at, updated, activated)
            ancestor, level = ancestor.parent, level + 1
        if rng.random() < self.bad_share:
            self.bad_row(wallet, sent, ancestor, at)
        if rng.random() < 0.4:  # the new wallet gets a code of its own as it joins
            self.give_code(wallet, at)

    def bad_row(self, wallet: _Wallet, sent: str, fourth: _Wallet | None, at: int) -> None:
        """A client bug: a level-4 row for the ancestor past level 3, else a self-credit."""
        if fourth is not None:
            code_id, level = fourth.code_id, 4
        else:
            code_id, level = wallet.parent.code_id, 0
        self.bad += 1
        self.referrals.append((len(self.referrals) + 1, code_id, sent, level, "pending", _ts(at),
                               _ts(at)))  # fmt: skip

    def referral(self, code_id, wallet, level, status, at, updated, activated) -> None:
        rng, cutoff = self.rng, self.cutoff
        referral_id = len(self.referrals) + 1
        self.referrals.append((referral_id, code_id, wallet, level, status, _ts(at), _ts(updated)))
        lo, hi = _LEVEL_REWARDS[level]
        n = rng.choices((0, 1, 2), weights=(15, 60, 25))[0]
        for k in range(n):
            if status == "pending":
                paid_at, reward_status = at, "pending"
            else:  # paid when it became active; a second (bonus) one days later
                paid_at = activated + k * int(_lognormal(rng, 3, 0.6) * DAY)
                reward_status = "completed"
            if paid_at >= cutoff or (status == "pending" and k > 0):
                continue
            amount = round(rng.uniform(lo, hi), 2)
            self.rewards.append(
                (len(self.rewards) + 1, referral_id, amount, reward_status, _ts(paid_at))
            )

    def ensure_bad(self, at: int) -> None:
        if self.bad == 0 and self.referrals:
            last = self.holders[-1]
            self.bad_row(_Wallet(_address(self.rng), last), last.address, None, at)


def _names(schema: str | None, table: str) -> sql.Identifier:
    return sql.Identifier(schema, table) if schema else sql.Identifier(table)


def create_tables(conn: psycopg.Connection, schema: str | None = None) -> None:
    """Create the four DAO tables if missing, in `schema` (created if needed) or the
    connection's default one. Does not commit."""
    if schema:
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    conn.execute(
        sql.SQL(_DDL).format(
            tasks=_names(schema, "tasks"),
            codes=_names(schema, "referral_codes"),
            referrals=_names(schema, "referrals"),
            rewards=_names(schema, "referral_rewards"),
        )
    )


def _write(conn, schema: str | None, table: str, columns: Sequence[str], rows) -> int:
    """COPY into a temporary table, then upsert by id (any other unique key: keep)."""
    target = _names(schema, table)
    staging = sql.Identifier(f"_new_{table}")
    conn.execute(
        sql.SQL("create temporary table {} (like {}) on commit drop").format(staging, target)
    )
    n = copy_rows(conn, staging, columns, rows)
    if table in _MUTABLE:
        updates = sql.SQL(", ").join(
            sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in columns if c != "id"
        )
        action = sql.SQL("on conflict (id) do update set {}").format(updates)
    else:
        action = sql.SQL("on conflict do nothing")
    conn.execute(
        sql.SQL("insert into {} ({cols}) select {cols} from {} {}").format(
            target, staging, action, cols=sql.SQL(", ").join(map(sql.Identifier, columns))
        )
    )
    return n


def simulate_cryptogift(
    conn: psycopg.Connection,
    *,
    days: int = 30,
    events_per_day: int = 20_000,
    seed: int = 42,
    end: date | None = None,
    reset: bool = False,
    progress: Callable[[int, int], None] | None = None,
    schema: str | None = None,
    bad_share: float = 0.002,
) -> CryptogiftSimulation:
    """Create the tables if needed, simulate `days` UTC days up to `end` (default: today,
    up to now), write every table with COPY and commit. `progress(days_done, days)`."""
    start, end, start_ms, cutoff = window(end, days)
    rng = random.Random(seed)
    tasks = _Tasks(random.Random(rng.getrandbits(64)), cutoff, bad_share)
    net = _Network(random.Random(rng.getrandbits(64)), cutoff, bad_share)
    tasks_per_day = max(1, events_per_day // 100)
    joins_per_day = max(1, events_per_day // 200)
    for _ in range(max(5, joins_per_day // 4)):  # founders: codes from before the window
        net.give_code(net.new_wallet(None), start_ms - rng.randrange(1, 60) * DAY)
    for i in range(days):
        day_ms = start_ms + i * DAY
        growth = 0.6 + 0.8 * i / max(1, days - 1)  # the network grows over the window
        for _ in range(round(tasks_per_day * rng.uniform(0.85, 1.15))):
            t = _work_time(rng, day_ms)
            if t < cutoff:
                tasks.add(t)
        for _ in range(round(joins_per_day * growth * rng.uniform(0.85, 1.15))):
            t = day_ms + rng.randrange(DAY)
            if t < cutoff:
                net.join(t)
        if progress:
            progress(i + 1, days)
    tasks.ensure_bad()
    net.ensure_bad(min(cutoff, start_ms + days * DAY) - MIN)
    create_tables(conn, schema)
    if reset:
        conn.execute(
            sql.SQL("truncate {}").format(sql.SQL(", ").join(_names(schema, t) for t in _TABLES))
        )
    _write(conn, schema, "tasks", TASK_COLUMNS, tasks.rows)
    _write(conn, schema, "referral_codes", CODE_COLUMNS, net.codes)
    _write(conn, schema, "referrals", REFERRAL_COLUMNS, net.referrals)
    _write(conn, schema, "referral_rewards", REWARD_COLUMNS, net.rewards)
    conn.commit()
    return CryptogiftSimulation(
        tasks=len(tasks.rows), bad_tasks=tasks.bad, referral_codes=len(net.codes),
        referrals=len(net.referrals), joins=net.joins, bad_referrals=net.bad,
        rewards=len(net.rewards), days=days, start=start, end=end,
    )  # fmt: skip
