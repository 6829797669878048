"""Deterministic CryptoGift simulator: writes gift-lifecycle data into Redis as the app does.

Layout (seed 000, "Redis Structure (Corrected)"; DESIGN.md §4):
one hash per gift ``{prefix}{gift_id}``, the dirty set ``{prefix}dirty`` and per-campaign
counters ``{counter_prefix}{campaign_id}:counters`` (``created viewed claimed``, HINCRBY).
"""

from __future__ import annotations

import hashlib
import math
import random
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from itertools import accumulate

from dagster_project.simulate.clock import DAY as _DAY
from dagster_project.simulate.clock import EPOCH as _EPOCH
from dagster_project.simulate.clock import HOUR as _HOUR
from dagster_project.simulate.clock import MIN as _MIN
from dagster_project.simulate.clock import window as _window
from dagster_project.simulate.community import community_wallet

FIELDS = (
    "gift_id",
    "token_id",
    "campaign_id",
    "creator_address",
    "created_at",
    "viewed_at",
    "preclaim_at",
    "education_completed_at",
    "claimed_at",
    "expired_at",
    "returned_at",
    "claimer_address",
    "referrer_address",
    "value_usd",
    "email_hash",
    "device_type",
    "country",
    "source",
    "campaign",
)
COUNTED = {"created_at": "created", "viewed_at": "viewed", "claimed_at": "claimed"}


# UTC hour weights: the audience is mostly Americas + Europe, so evenings UTC peak.
_WEEKDAY_HOURS = [3, 2, 2, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10, 11, 13, 15, 16, 16, 13, 9, 5]
# Weekends start later and spread over the afternoon.
_WEEKEND_HOURS = [5, 4, 3, 2, 1, 1, 1, 2, 3, 5, 7, 9, 10, 11, 11, 11, 11, 11, 12, 12, 11, 10, 8, 6]

_DEVICES = (("mobile", 62), ("desktop", 33), ("tablet", 5))
_COUNTRIES = (
    ("US", 26),
    ("GB", 7),
    ("DE", 6),
    ("BR", 7),
    ("IN", 8),
    ("MX", 5),
    ("ES", 5),
    ("FR", 4),
    ("CA", 4),
    ("AR", 4),
    ("CO", 3),
    ("NG", 4),
    ("PH", 3),
    ("TR", 3),
    ("JP", 2),
    ("KR", 2),
    ("ID", 3),
    ("VN", 2),
    ("AU", 2),
    ("NL", 2),
)
_SOURCES = (
    ("twitter", 30),
    ("telegram", 20),
    ("direct", 22),
    ("discord", 12),
    ("email", 7),
    ("farcaster", 4),
    ("reddit", 3),
    ("whatsapp", 2),
)
_PRICES = (
    ("5.00", 12),
    ("10.00", 25),
    ("10.50", 8),
    ("20.00", 15),
    ("25.00", 10),
    ("50.00", 6),
    ("100.00", 2),
)
_EMAIL_DOMAINS = ("gmail.com", "proton.me", "outlook.com", "yahoo.com", "icloud.com")
_BAD_TIMES = ("not-a-date", "2026-13-45T99:00:00Z", "yesterday", "31/02/2026 25:61", "NaN")
_BAD_VALUES = ("ten dollars", "12,50", "N/A", "$", "1.2.3")
_EXPIRY_PERIODS = ((_DAY, 3), (3 * _DAY, 4), (7 * _DAY, 3))


@dataclass(frozen=True)
class _Campaign:
    campaign_id: str
    name: str  # UTM campaign name
    weight: float
    view_rate: float
    claim_rate: float
    source: str  # main channel; a campaign's gifts mostly come through it
    window: tuple[float, float]  # active share of the simulated range


# name, size, view rate, claim rate (given education), channel, active window
_CAMPAIGN_SPECS = (
    ("holiday2025", 30, 0.82, 0.93, "twitter", (0.0, 1.0)),
    ("genesis_drop", 18, 0.74, 0.88, "telegram", (0.0, 1.0)),
    ("creator_week", 12, 0.68, 0.85, "discord", (0.0, 1.0)),
    ("web3_summit", 10, 0.88, 0.96, "direct", (0.55, 0.75)),
    ("telegram_airdrop", 14, 0.55, 0.70, "telegram", (0.2, 0.6)),
    ("edu_onboarding", 6, 0.78, 0.97, "email", (0.4, 1.0)),
    ("referral_boost", 7, 0.72, 0.90, "twitter", (0.7, 1.0)),
    ("valentines", 3, 0.60, 0.80, "farcaster", (0.1, 0.25)),
)
_NO_CAMPAIGN = _Campaign("", "", 0, 0.70, 0.86, "", (0.0, 1.0))
_NO_CAMPAIGN_SHARE = 0.25


@dataclass
class GiftSimulation:
    """What was written; `campaigns` counts campaigns that received at least one gift."""

    gifts: int
    campaigns: int
    malformed: int
    days: int
    start: date
    end: date


class _Picker:
    """Weighted choice via precomputed cumulative weights: far cheaper than rng.choices."""

    def __init__(self, items: Sequence[tuple[object, float]]):
        self.values = [v for v, _ in items]
        self.cum = list(accumulate(w for _, w in items))

    def __call__(self, rng: random.Random) -> object:
        return self.values[bisect_right(self.cum, rng.random() * self.cum[-1])]


_pick_device = _Picker(_DEVICES)
_pick_country = _Picker(_COUNTRIES)
_pick_source = _Picker(_SOURCES)
_pick_price = _Picker(_PRICES)
_pick_expiry = _Picker(_EXPIRY_PERIODS)


@lru_cache(maxsize=4096)
def _day_str(day: int) -> str:
    return (_EPOCH + timedelta(days=day)).date().isoformat()


def _iso(ms: int) -> str:
    # hand-rolled: datetime.isoformat dominated the run time
    day, rem = divmod(ms, _DAY)
    hour, rem = divmod(rem, _HOUR)
    minute, rem = divmod(rem, _MIN)
    return f"{_day_str(day)}T{hour:02d}:{minute:02d}:{rem // 1000:02d}.{rem % 1000:03d}Z"


def _address(rng: random.Random) -> str:
    return f"0x{rng.getrandbits(160):040x}"


def _lognormal_ms(rng: random.Random, median_ms: float, sigma: float) -> int:
    return max(1_000, int(rng.lognormvariate(math.log(median_ms), sigma)))


def _creation_times(
    rng: random.Random, total: int, days: int, start_ms: int, cutoff: int
) -> list[int]:
    """Sorted creation times so token ids rise with time, as minting does."""
    day_weights = []
    for i in range(days):
        weekend = (_EPOCH + timedelta(milliseconds=start_ms + i * _DAY)).weekday() >= 5
        # slow growth + day-to-day noise; weekends are quieter overall
        day_weights.append((1 + 0.01 * i) * (0.8 if weekend else 1.0) * rng.uniform(0.85, 1.15))
    pick_day = _Picker(list(enumerate(day_weights)))
    hours = (_Picker(list(enumerate(_WEEKDAY_HOURS))), _Picker(list(enumerate(_WEEKEND_HOURS))))
    times = []
    for _ in range(total):
        for _attempt in range(20):  # today is only partly elapsed: redraw instead of clipping
            day_ms = start_ms + pick_day(rng) * _DAY
            weekend = (_EPOCH + timedelta(milliseconds=day_ms)).weekday() >= 5
            t = day_ms + hours[weekend](rng) * _HOUR + rng.randrange(_HOUR)
            if t < cutoff:
                break
        else:
            t = rng.randrange(max(start_ms, cutoff - _DAY), cutoff)
        times.append(t)
    times.sort()
    return times


def _campaign_pickers(rng: random.Random, days: int) -> list[_Picker]:
    """Per-day campaign pickers: burst campaigns only run inside their window."""
    campaigns = [
        _Campaign(f"camp_{rng.getrandbits(32):08x}", name, w, v, c, s, win)
        for name, w, v, c, s, win in _CAMPAIGN_SPECS
    ]
    pickers = []
    for i in range(days):
        pos = (i + 0.5) / days
        active = [(c, c.weight) for c in campaigns if c.window[0] <= pos <= c.window[1]]
        pickers.append(_Picker(active))
    return pickers


def _funnel(rng: random.Random, created: int, camp: _Campaign, limit: int) -> list[int]:
    """viewed → preclaim → education → claimed; each later than the previous, stops at limit."""
    steps: list[int] = []
    t = created
    for stage in range(4):
        prob = (camp.view_rate, 0.80, 0.88, camp.claim_rate)[stage]
        if rng.random() >= prob:
            break
        t += _stage_delay(rng, stage)
        if t >= limit:  # not reached yet (or the gift expired first)
            break
        steps.append(t)
    return steps


def _stage_delay(rng: random.Random, stage: int) -> int:
    if stage == 0:  # opening the link: minutes to days
        return _lognormal_ms(rng, 40 * _MIN, 1.7)
    if stage == 1:  # most continue right away, some come back hours later
        later = rng.random() < 0.25
        return _lognormal_ms(rng, 6 * _HOUR if later else 2 * _MIN, 1.0 if later else 0.8)
    if stage == 2:  # the education module takes a few minutes
        return _lognormal_ms(rng, 7 * _MIN, 0.5)
    later = rng.random() < 0.15  # claim: usually same session, sometimes a day later
    return _lognormal_ms(rng, 20 * _HOUR if later else 90_000, 0.8 if later else 0.6)


def _ending(rng: random.Random, expires: int | None, claimed: bool, cutoff: int) -> tuple[str, str]:
    """expired_at/returned_at: only unclaimed gifts with an expiry that has passed."""
    if expires is None or claimed or expires >= cutoff:
        return "", ""
    if rng.random() >= 0.35:
        return _iso(expires), ""
    returned = expires + _lognormal_ms(rng, 5 * _HOUR, 1.2)
    return _iso(expires), _iso(returned) if returned < cutoff else ""


def _value(rng: random.Random) -> str:
    if rng.random() < 0.25:
        return f"{rng.lognormvariate(math.log(15), 0.8):.2f}"
    return _pick_price(rng)


def _email_hash(rng: random.Random) -> str:
    if rng.random() >= 0.6:
        return ""
    email = f"user{rng.getrandbits(40):x}@{rng.choice(_EMAIL_DOMAINS)}"
    return "sha256:" + hashlib.sha256(email.encode()).hexdigest()


class _Generator:
    """Holds the per-run state (rng, pools, window) so per-gift code stays small."""

    def __init__(self, rng: random.Random, total: int, days: int, start_ms: int, cutoff: int):
        self.rng, self.days, self.start_ms, self.cutoff = rng, days, start_ms, cutoff
        self.campaigns = _campaign_pickers(rng, days)
        # few creators send many gifts, most send one or two
        self.creators = [_address(rng) for _ in range(max(20, total // 12))]
        # the DAO's earliest wallets: they hold the referral codes (simulate/cryptogift.py)
        self.referrers = [community_wallet(n) for n in range(max(10, total // 150))]
        self.returning = [_address(rng) for _ in range(max(10, total // 40))]
        self.token = rng.randrange(1_000, 5_000)
        self.ids: set[str] = set()
        self.malformed = 0

    def gift_id(self) -> str:
        while True:
            gid = f"gft_{self.rng.getrandbits(64):016x}"
            if gid not in self.ids:
                self.ids.add(gid)
                return gid

    def campaign(self, created: int) -> _Campaign:
        if self.rng.random() < _NO_CAMPAIGN_SHARE:
            return _NO_CAMPAIGN
        return self.campaigns[min(self.days - 1, (created - self.start_ms) // _DAY)](self.rng)

    def claimer(self) -> str:
        rng = self.rng
        return rng.choice(self.returning) if rng.random() < 0.15 else _address(rng)

    def row(self, created: int) -> dict[str, str]:
        rng = self.rng
        self.token += 1 + (rng.random() < 0.3)  # other mints interleave on the contract
        camp = self.campaign(created)
        expires = created + _pick_expiry(rng) if rng.random() < 0.12 else None
        steps = _funnel(rng, created, camp, min(self.cutoff, expires or self.cutoff))
        stamps = [_iso(t) for t in steps] + [""] * (4 - len(steps))
        claimed = len(steps) == 4
        expired_at, returned_at = _ending(rng, expires, claimed, self.cutoff)
        source = camp.source if camp.source and rng.random() < 0.7 else _pick_source(rng)
        return {
            "gift_id": self.gift_id(),
            "token_id": str(self.token),
            "campaign_id": camp.campaign_id,
            "creator_address": self.creators[int(len(self.creators) * rng.random() ** 2.5)],
            "created_at": _iso(created),
            "viewed_at": stamps[0],
            "preclaim_at": stamps[1],
            "education_completed_at": stamps[2],
            "claimed_at": stamps[3],
            "expired_at": expired_at,
            "returned_at": returned_at,
            "claimer_address": self.claimer() if claimed else "",
            "referrer_address": rng.choice(self.referrers) if rng.random() < 0.18 else "",
            "value_usd": _value(rng),
            "email_hash": _email_hash(rng),
            "device_type": _pick_device(rng),
            "country": _pick_country(rng),
            "source": source,
            "campaign": camp.name,
        }

    def maybe_malform(self, row: dict[str, str], share: float) -> None:
        """Real hashes occasionally hold junk; the loader must reject it, not crash."""
        rng = self.rng
        if rng.random() >= share:
            return
        self.malformed += 1
        if rng.random() < 0.5:
            row["value_usd"] = rng.choice(_BAD_VALUES)
            return
        # only corrupt a timestamp that is set, so counters (non-empty fields) stay honest
        field = rng.choice([f for f in COUNTED if row[f]])
        row[field] = rng.choice(_BAD_TIMES)


def _batches(gen: _Generator, times: list[int], size: int, share: float) -> Iterator[list[dict]]:
    for i in range(0, len(times), size):
        rows = []
        for created in times[i : i + size]:
            row = gen.row(created)
            gen.maybe_malform(row, share)
            rows.append(row)
        yield rows


def _counter_increments(rows: list[dict[str, str]], counter_prefix: str) -> Counter:
    counts: Counter = Counter()
    for row in rows:
        if row["campaign_id"]:
            key = f"{counter_prefix}{row['campaign_id']}:counters"
            for field, counter in COUNTED.items():
                if row[field]:
                    counts[(key, counter)] += 1
    return counts


def _write_batch(redis_client, rows: list[dict], prefix: str, counter_prefix: str) -> Counter:
    """HSET per gift + one SADD + one HINCRBY per (campaign, counter), in one round trip."""
    counts = _counter_increments(rows, counter_prefix)
    ids = [row["gift_id"] for row in rows]
    # One round trip per batch; hiredis (a dependency) packs the commands in C.
    pipe = redis_client.pipeline(transaction=False)
    for row in rows:
        pipe.hset(prefix + row["gift_id"], mapping=row)
    pipe.sadd(prefix + "dirty", *ids)
    for (key, field), n in sorted(counts.items()):
        pipe.hincrby(key, field, n)
    pipe.execute()
    return counts


def simulate_gifts(
    redis_client,
    *,
    days: int = 30,
    gifts: int | None = None,
    gifts_per_day: int = 1700,
    seed: int = 42,
    end: date | None = None,
    prefix: str = "gift:analytics:",
    counter_prefix: str = "gift:campaign:",
    malformed_share: float = 0.005,
    batch_size: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> GiftSimulation:
    """Write `gifts` (default days × gifts_per_day) gift hashes; deterministic per seed + end."""
    start, end, start_ms, cutoff = _window(end, days)
    total = gifts if gifts is not None else days * gifts_per_day
    rng = random.Random(seed)
    times = _creation_times(rng, total, days, start_ms, cutoff)
    gen = _Generator(rng, total, days, start_ms, cutoff)
    campaigns: set[str] = set()
    done = 0
    for rows in _batches(gen, times, max(1, batch_size), malformed_share):
        counts = _write_batch(redis_client, rows, prefix, counter_prefix)
        campaigns.update(key for key, _ in counts)
        done += len(rows)
        if progress:
            progress(done, total)
    return GiftSimulation(total, len(campaigns), gen.malformed, days, start, end)


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def clear_gifts(
    redis_client, *, prefix: str = "gift:analytics:", counter_prefix: str = "gift:campaign:"
) -> int:
    """Remove every key under both prefixes; SCAN (not KEYS) so a big Redis is not blocked."""
    removed = 0
    for key_prefix in dict.fromkeys((prefix, counter_prefix)):
        batch = []
        for key in redis_client.scan_iter(match=_glob_escape(key_prefix) + "*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                removed += redis_client.unlink(*batch)
                batch = []
        if batch:
            removed += redis_client.unlink(*batch)
    return removed
