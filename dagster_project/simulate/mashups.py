"""Deterministic Mashups simulator: fills the app's `analytics_events` and `mashups` tables.

Tables as in DESIGN.md §4 (seed 004's analytics plan). Listeners come in sessions:
returning users (Zipf-like activity, a few heavy listeners) and anonymous visitors (no
user_id, only a session), arriving from a traffic source (direct, twitter, instagram,
tiktok, youtube, search, embed) with a device and a country, most of them in the UTC
evening and a little more at the weekend. A session plays mashups one after the other
(the first chosen, the next ones often autoPlay): `mashup_viewed` → `mashup_played` →
`mashup_play_completed` or `mashup_skipped` (with `position`, the seconds listened, and
`duration`, the mashup's length), sometimes liked, shared, downloaded, commented on,
reacted to (`ai_reaction`), or its creator followed. Creators also make mashups
(`mashup_created`, a new `mashups` row, often `mashup_exported`) and a few users upgrade.
Mashup popularity rises over the first days after creation and decays after; a few
mashups catch on and dominate a week.

The mess, each a small configurable share, counted per distinct event (what the summary
reports, and what the tests recompute in SQL):

- ``duplicates``: a second delivery of an event, seconds to minutes after the first,
  with the same id, timestamp and payload (a new ``ingest_seq``);
- ``late``: events arriving 1–5 days after they happened;
- ``pii``: an ``email``, a ``phone`` or a free-text ``comment`` holding an email in the
  properties;
- ``malformed``: one of a NULL ``timestamp``; a ``timestamp`` 2+ days after the event's
  arrival (a client clock ahead); an event type outside `EVENT_TYPES` (typos such as
  ``mashup_playedd``); wrong JSON types (``duration``/``position`` as strings, ``autoPlay``
  as the string "true", or the whole ``properties`` double-encoded as a JSON string).
  Malformed events are never late.

The table has no arrival time of its own (``ingest_seq`` is the arrival order), so the
simulator also stores ``received_at``, the server's receive time — an extra column that
passes through to ``raw`` (staging judges "in the future" against it, or against the
extract-load time when a real table lacks it). Rows are written in arrival order with
COPY: a late event comes after rows of later days. Nothing arrives after now nor after
the end of ``end``. The same seed and a past ``end`` give the same rows; ``reset=True``
empties both tables first, without it a run appends (the same seed re-delivers the same
event ids; mashups already present are kept).

With a Redis client, the plays and likes of the last hours (``realtime_hours`` before the
end of the window, never before the start of its last UTC day, which the daily marts have
not built yet) are also counted into the app's realtime counters, as seed 004's
``realtimeCounters`` does: ``INCRBY mashup:{id}:plays`` / ``:likes`` and ``SADD
mashup:dirty {id}``, in one pipeline. A play counts when it happens, whether its tracking
event arrives, arrives late or is malformed. The same seed gives the same increments.
"""

from __future__ import annotations

import json
import math
import random
import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from itertools import accumulate
from operator import itemgetter

import psycopg
import redis
from psycopg import sql

from dagster_project.settings import DEFAULT_MASHUP_KEY_PREFIX
from dagster_project.simulate.clock import DAY, EPOCH, HOUR, MIN, SEC, window
from dagster_project.simulate.copy_rows import copy_rows

# event type → category (seeds/mashups_event_types.csv holds the same list)
EVENT_TYPES = {
    "mashup_viewed": "discovery",
    "mashup_played": "playback",
    "mashup_play_completed": "playback",
    "mashup_skipped": "playback",
    "mashup_liked": "engagement",
    "mashup_shared": "engagement",
    "mashup_downloaded": "engagement",
    "comment_posted": "engagement",
    "ai_reaction": "engagement",
    "user_followed": "social",
    "mashup_created": "creation",
    "mashup_exported": "creation",
    "subscription_upgraded": "conversion",
}
SOURCES = ("direct", "twitter", "instagram", "tiktok", "youtube", "search", "embed")
DEVICES = ("mobile", "desktop", "tablet")
PII_KEYS = ("email", "phone", "comment")

EVENT_COLUMNS = (
    "id",
    "user_id",
    "event_type",
    "properties",
    "timestamp",
    "session_id",
    "received_at",
)
MASHUP_COLUMNS = ("id", "creator_id", "title", "created_at")

_DDL = """
create table if not exists {events} (
    ingest_seq bigserial primary key,
    id text not null,
    user_id text,
    event_type text not null,
    properties jsonb,
    "timestamp" timestamptz,
    session_id text,
    received_at timestamptz
);
create index if not exists {events_idx} on {events} ("timestamp");
create table if not exists {mashups} (
    id text primary key,
    creator_id text not null,
    title text not null,
    created_at timestamptz not null
);
"""

# UTC hour weights: a US + Europe audience, so listening peaks in the UTC evening.
_WEEKDAY_HOURS = [7, 5, 3, 2, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 10, 11, 13, 15, 17, 16, 13, 9]
_WEEKEND_HOURS = [9, 7, 5, 3, 2, 1, 1, 1, 2, 4, 6, 8, 9, 10, 11, 11, 11, 12, 13, 15, 16, 16, 14, 11]
_WEEKDAY_LEVEL = (0.9, 0.92, 0.95, 0.98, 1.1, 1.2, 1.1)  # Monday … Sunday
_AVG_SESSION = 9  # events; budget a session that would start after now as this many

_SOURCES = (("direct", 40), ("twitter", 15), ("instagram", 13), ("tiktok", 12),
            ("youtube", 8), ("search", 8), ("embed", 4))  # fmt: skip
_DEVICES = (("mobile", 60), ("desktop", 33), ("tablet", 7))
_COUNTRIES = (("US", 40), ("GB", 10), ("BR", 7), ("DE", 6), ("CA", 5), ("MX", 5), ("FR", 4),
              ("IN", 4), ("AU", 3), ("NL", 3), ("ES", 3), ("JP", 3), ("SE", 2), ("NG", 2),
              ("PH", 2), ("KR", 1))  # fmt: skip
_REACTIONS = (("fire", 40), ("love", 25), ("mind_blown", 15), ("meh", 12), ("dislike", 8))
_PLATFORMS = ("tiktok", "instagram", "youtube", "soundcloud", "twitter")
_FORMATS = ("mp3", "wav", "mp4")
_TIERS = (("free", "pro", 80), ("free", "studio", 10), ("pro", "studio", 10))
_MALFORMED_KINDS = (("missing_time", 25), ("future", 20), ("unknown_type", 30), ("bad_type", 25))
_ADJ = ("Summer", "Midnight", "Neon", "Golden", "Lo-Fi", "Electric", "Velvet", "Cosmic",
        "Sunset", "Rainy", "Retro", "Tropical", "Hazy", "Crystal", "Urban", "Dreamy")  # fmt: skip
_NOUN = ("Vibes", "Drive", "Groove", "Dreams", "Bounce", "Echoes", "Waves", "Anthem", "Haze",
         "Pulse", "Nights", "Memories", "Skyline", "Fever", "Garden", "Rush")  # fmt: skip
_KIND = ("Mix", "Mashup", "Blend", "Remix", "Edit", "Flip", "Medley")
_COMMENTS = ("this goes hard", "the transition at the drop!!", "on repeat all week",
             "who made the vocal chop?", "need this on spotify", "underrated fr")  # fmt: skip
_PII_COMMENTS = (
    "love it, send me the stems at {}",
    "collab? email me {}",
    "DM me or write to {} for a feature",
)
_FIRST = ("alex", "sam", "jordan", "maria", "li", "noah", "emma", "kai", "zoe", "luca", "ines")
_LAST = ("smith", "garcia", "kim", "muller", "rossi", "silva", "nguyen", "brown", "jones")
_MAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "proton.me")
_PHONE_FORMATS = {
    "US": ("+1", (3, 3, 4)),
    "CA": ("+1", (3, 3, 4)),
    "GB": ("+44", (4, 6)),
    "BR": ("+55", (2, 5, 4)),
    "DE": ("+49", (3, 7)),
}
# what the PII scrubbing treats as a phone number: ids must never look like one
_PHONE_LIKE = re.compile(r"[0-9][0-9 ().-]{7,}[0-9]")
_dumps = json.JSONEncoder(separators=(",", ":")).encode
_COUNTED = {"mashup_played": "plays", "mashup_liked": "likes"}  # seed 004 realtime counters


@dataclass(frozen=True)
class MashupsSimulation:
    """What was written. `events` counts rows (deliveries); the mess counts distinct events,
    except `duplicates`, the extra deliveries (so distinct events = events - duplicates)."""

    events: int
    duplicates: int
    late: int
    malformed: int
    pii: int
    sessions: int
    mashups: int  # rows written to `mashups` (the catalog before the window + new ones)
    mashups_created: int  # of those, created inside the window
    days: int
    start: date
    end: date
    # (mashup id, "plays" | "likes") -> increments written to the Redis counters
    realtime: dict[tuple[str, str], int] | None = None

    def describe(self) -> str:
        counted = ""
        if self.realtime:
            plays = sum(n for (_, metric), n in self.realtime.items() if metric == "plays")
            likes = sum(n for (_, metric), n in self.realtime.items() if metric == "likes")
            counted = f"; {plays:,} plays and {likes:,} likes counted in the Redis counters"
        return (
            f"simulated {self.events:,} Mashups events ({self.duplicates:,} delivered twice, "
            f"{self.late:,} late, {self.malformed:,} malformed, {self.pii:,} with PII) in "
            f"{self.sessions:,} sessions on {self.mashups:,} mashups "
            f"({self.mashups_created:,} created in {self.start} … {self.end}){counted}"
        )


class _Picker:
    """Weighted choice via precomputed cumulative weights: far cheaper than rng.choices."""

    def __init__(self, items: Sequence[tuple]):
        self.values = [item[0] if len(item) == 2 else item[:-1] for item in items]
        self.cum = list(accumulate(item[-1] for item in items))

    def __call__(self, rng: random.Random):
        return self.values[bisect_right(self.cum, rng.random() * self.cum[-1])]


_pick_source = _Picker(_SOURCES)
_pick_device = _Picker(_DEVICES)
_pick_country = _Picker(_COUNTRIES)
_pick_reaction = _Picker(_REACTIONS)
_pick_tier = _Picker(_TIERS)
_pick_malformed = _Picker(_MALFORMED_KINDS)
_HOUR_PICKERS = (
    _Picker(list(enumerate(_WEEKDAY_HOURS))),
    _Picker(list(enumerate(_WEEKEND_HOURS))),
)


@lru_cache(maxsize=1 << 17)
def _minute_str(minute: int) -> str:
    return (EPOCH + timedelta(minutes=minute)).isoformat(timespec="minutes")


def _iso(ms: int) -> str:
    # hand-rolled with a per-minute cache: datetime.isoformat would dominate the run time
    minute, rem = divmod(ms, MIN)
    return f"{_minute_str(minute)}:{rem // 1000:02d}.{rem % 1000:03d}Z"


def _uuid(rng: random.Random) -> str:
    """A v4 uuid that no phone-number pattern matches (PII tests scan every text column)."""
    while True:
        h = f"{rng.getrandbits(128):032x}"
        u = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"
        if not _PHONE_LIKE.search(u):
            return u


def _lognormal(rng: random.Random, median: float, sigma: float, lo: int, hi: int) -> int:
    return min(hi, max(lo, int(median * math.exp(sigma * rng.gauss()))))


def _weekday(day_ms: int) -> int:
    return (day_ms // DAY + 3) % 7  # 1970-01-01 was a Thursday


def _day_targets(rng: random.Random, days: int, start_ms: int, per_day: int) -> list[int]:
    """Events per day: weekly rhythm, slow growth and noise, averaging `per_day`."""
    weights = [
        _WEEKDAY_LEVEL[_weekday(start_ms + i * DAY)] * (1 + 0.005 * i) * rng.uniform(0.92, 1.08)
        for i in range(days)
    ]
    scale = per_day * days / sum(weights)
    return [round(w * scale) for w in weights]


def _typo(rng: random.Random, name: str) -> str:
    """An event type the taxonomy does not know: what buggy clients really send."""
    i = rng.randrange(1, len(name) - 1)
    variants = (
        name[:i] + name[i] + name[i:],  # doubled letter: mashup_playedd
        name[: i - 1] + name[i] + name[i - 1] + name[i + 1 :],  # swapped letters
        "".join(part.capitalize() for part in name.split("_")),  # MashupPlayed
        name.replace("_", "."),
        name.upper(),
    )
    typo = rng.choice(variants)
    return typo if typo not in EVENT_TYPES else name + "_v2"


class _Mashup:
    __slots__ = ("id", "creator", "title", "created", "length", "base", "rise", "decay")

    def __init__(self, rng: random.Random, creator: str, created: int):
        self.id, self.creator, self.created = _uuid(rng), creator, created
        self.title = f"{rng.choice(_ADJ)} {rng.choice(_NOUN)} {rng.choice(_KIND)}"
        self.length = _lognormal(rng, 200, 0.35, 60, 900)  # seconds
        self.base = rng.paretovariate(1.4)  # a few catch on, most stay small
        self.rise = rng.uniform(0.3, 5)  # days to reach its peak
        self.decay = rng.uniform(4, 45)  # days of half-life-ish decay after that

    def weight(self, at: int) -> float:
        age = max(0.0, (at - self.created) / DAY)
        return (
            self.base
            * (1 - math.exp(-(age + 0.2) / self.rise))
            * (0.04 + math.exp(-age / self.decay))
        )

    def row(self) -> tuple:
        return (self.id, self.creator, self.title, _iso(self.created))


class _Session:
    __slots__ = ("id", "user", "source", "device", "country", "t")

    def __init__(self, sid, user, source, device, country, t):
        self.id, self.user, self.source, self.device, self.country, self.t = (
            sid, user, source, device, country, t,
        )  # fmt: skip


class _Generator:
    """Per-run state (rng, pools, catalog, pending rows) so per-event code stays small."""

    def __init__(self, rng, per_day: int, start_ms: int, cutoff: int, shares: dict[str, float]):
        self.rng, self.cutoff, self.shares = rng, cutoff, shares
        # users: (id, country, device); the first tenth are the creators
        self.users = [
            (_uuid(rng), _pick_country(rng), _pick_device(rng))
            for _ in range(max(50, per_day // 8))
        ]
        self.creators = self.users[: max(10, len(self.users) // 10)]
        self.creator_ids = {c[0] for c in self.creators}
        self.catalog = [
            _Mashup(rng, self.zipf(self.creators)[0], start_ms - rng.randrange(1, 180) * DAY
                    - rng.randrange(DAY))
            for _ in range(max(40, per_day // 40))
        ]  # fmt: skip
        self.new_mashups: list[_Mashup] = list(self.catalog)
        self.pick_mashup = None
        self.pending: list[tuple] = []
        self.counts = dict.fromkeys(("duplicates", "late", "malformed", "pii", "sessions"), 0)
        self.created = 0
        self.realtime_since = cutoff  # plays and likes from here on go to the counters
        self.realtime: dict[tuple[str, str], int] = {}

    def zipf(self, pool: list):
        """Few items get most of the activity: index skewed towards the front."""
        return pool[int(len(pool) * self.rng.random() ** 2.5)]

    def refresh_popularity(self, at: int) -> None:
        """Today's chart: popularity of every mashup that exists at `at`."""
        self.pick_mashup = _Picker([(m, m.weight(at)) for m in self.catalog])

    # --- sessions ------------------------------------------------------------------------
    def session(self, t: int) -> int:
        rng = self.rng
        self.counts["sessions"] += 1
        if rng.random() < 0.58:
            user = self.zipf(self.users)
            uid, country = user[0], user[1]
            device = user[2] if rng.random() < 0.8 else _pick_device(rng)
        else:
            uid, country, device = None, _pick_country(rng), _pick_device(rng)
        if rng.random() < 0.01:
            country = None  # geo lookup failed
        s = _Session(_uuid(rng), uid, _pick_source(rng), device, country, t)
        n = 0
        if uid in self.creator_ids and rng.random() < 0.08:
            n += self.create(s)
        for i in range(1 + int(rng.expovariate(1 / 2.5))):
            if s.t >= self.cutoff:
                break
            n += self.listen(s, i)
        if uid is not None and rng.random() < 0.015:  # a few upgrades a day, even on a small run
            frm, to = _pick_tier(rng)
            n += self.emit(s, "subscription_upgraded", {"from": frm, "to": to})
        return n

    def listen(self, s: _Session, i: int) -> int:
        rng = self.rng
        m: _Mashup = self.pick_mashup(rng)
        auto = i > 0 and rng.random() < 0.6
        n = 0
        if not auto and rng.random() < 0.5:
            n += self.emit(s, "mashup_viewed", {"mashup_id": m.id})
            s.t += _lognormal(rng, 6 * SEC, 1.0, SEC, 3 * MIN)
        source = s.source if rng.random() < 0.97 else None  # old clients omit it
        props = {"mashup_id": m.id, "autoPlay": auto}
        if source is not None:
            props["source"] = source
        n += self.emit(s, "mashup_played", props)
        r = rng.random()
        if r < 0.55:
            listened, end = m.length, "mashup_play_completed"
        elif r < 0.9:
            listened, end = (
                min(m.length - 1, int(m.length * rng.random() ** 1.5) + 1),
                "mashup_skipped",
            )
        else:
            listened, end = min(m.length, int(m.length * rng.random())), None  # tab closed
        s.t += listened * SEC
        if end:
            n += self.emit(s, end, {"mashup_id": m.id, "position": listened, "duration": m.length})
        if s.user is None:
            if rng.random() < 0.02:
                platform = rng.choice(_PLATFORMS)
                n += self.emit(s, "mashup_shared", {"mashup_id": m.id, "platform": platform})
            return n
        liking = 0.12 if end == "mashup_play_completed" else 0.02
        if rng.random() < liking:
            n += self.emit(s, "mashup_liked", {"mashup_id": m.id})
        if rng.random() < 0.035:
            n += self.emit(
                s, "mashup_shared", {"mashup_id": m.id, "platform": rng.choice(_PLATFORMS)}
            )
        if rng.random() < 0.02:
            n += self.emit(
                s, "mashup_downloaded", {"mashup_id": m.id, "format": rng.choice(_FORMATS)}
            )
        if rng.random() < 0.015:
            props = {"mashup_id": m.id, "has_media": rng.random() < 0.1,
                     "comment": rng.choice(_COMMENTS)}  # fmt: skip
            n += self.emit(s, "comment_posted", props)
        if rng.random() < 0.03:
            n += self.emit(s, "ai_reaction", {"mashup_id": m.id, "reaction": _pick_reaction(rng)})
        if rng.random() < 0.01 and m.creator != s.user:
            n += self.emit(s, "user_followed", {"creator_id": m.creator})
        return n

    def create(self, s: _Session) -> int:
        """A creator makes a mashup: a `mashups` row and mashup_created (+ exported)."""
        rng = self.rng
        s.t += _lognormal(rng, 12 * MIN, 0.8, MIN, 2 * HOUR)  # the editing session
        if s.t >= self.cutoff:
            return 0
        m = _Mashup(rng, s.user, s.t)
        self.catalog.append(m)  # playable from the next chart refresh on
        self.new_mashups.append(m)
        self.created += 1
        props = {"mashup_id": m.id, "trackCount": rng.randrange(2, 9), "duration": m.length,
                 "usedAI": rng.random() < 0.4}  # fmt: skip
        n = self.emit(s, "mashup_created", props)
        if rng.random() < 0.5:
            s.t += _lognormal(rng, 40 * SEC, 1.0, 5 * SEC, 20 * MIN)
            props = {"mashup_id": m.id, "platform": rng.choice(_PLATFORMS),
                     "format": rng.choice(_FORMATS)}  # fmt: skip
            n += self.emit(s, "mashup_exported", props)
        return n

    # --- delivery: latency and the mess ---------------------------------------------------
    def emit(self, s: _Session, etype: str, props: dict) -> int:
        """Deliver the session's next event (at s.t, then a human gap); returns 1."""
        rng, shares = self.rng, self.shares
        t = s.t
        s.t += _lognormal(rng, 4 * SEC, 1.0, 300, 2 * MIN)
        if t >= self.cutoff:
            return 0
        if t >= self.realtime_since and etype in _COUNTED:
            counter = (props["mashup_id"], _COUNTED[etype])
            self.realtime[counter] = self.realtime.get(counter, 0) + 1
        props["country"] = s.country
        props["device"] = s.device
        arrived = t + _lognormal(rng, 300, 1.0, 5, 30 * SEC)
        if s.device != "desktop" and rng.random() < 0.02:  # offline queue flushed later
            arrived += _lognormal(rng, 20 * MIN, 1.2, MIN, 6 * HOUR)
        stamp: int | None = t
        double_encode = False
        kind = None
        r = rng.random()
        if r < shares["malformed"]:
            kind = "malformed"
            stamp, etype, double_encode = self.malform(t, arrived, etype, props)
        elif r < shares["malformed"] + shares["late"]:
            kind = "late"
            arrived = t + rng.randrange(DAY, 5 * DAY)
        pii = rng.random() < shares["pii"]
        if pii:
            self.add_pii(s, props)
        if arrived >= self.cutoff:
            return 1  # it happened, but has not arrived yet
        if kind is not None:
            self.counts[kind] += 1
        self.counts["pii"] += pii
        payload = _dumps(props)
        if double_encode:
            payload = _dumps(payload)
        row = (_uuid(rng), s.user, etype, payload, None if stamp is None else _iso(stamp), s.id)
        self.pending.append((arrived, (*row, _iso(arrived))))
        if rng.random() < shares["duplicates"]:  # the client retried: same event again
            again = arrived + _lognormal(rng, 20 * SEC, 1.3, SEC, 15 * MIN)
            if again < self.cutoff:
                self.counts["duplicates"] += 1
                self.pending.append((again, (*row, _iso(again))))
        return 1

    def malform(self, t: int, arrived: int, etype: str, props: dict):
        """Returns (timestamp ms or None, event_type, double-encode the properties?)."""
        rng = self.rng
        kind = _pick_malformed(rng)
        if kind == "missing_time":
            return None, etype, False
        if kind == "future":  # a client clock days or weeks ahead
            return arrived + 2 * DAY + rng.randrange(HOUR, 40 * DAY), etype, False
        if kind == "unknown_type":
            return t, _typo(rng, etype), False
        if "position" in props and rng.random() < 0.6:
            key = rng.choice(("position", "duration"))
            value = props[key]
            props[key] = rng.choice((str(value), f"{value // 60}:{value % 60:02d}", f"{value}s"))
            return t, etype, False
        if "autoPlay" in props and rng.random() < 0.5:
            props["autoPlay"] = "true" if props["autoPlay"] else "false"
            return t, etype, False
        return t, etype, True

    def add_pii(self, s: _Session, props: dict) -> None:
        rng = self.rng
        email = f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}{rng.randrange(100)}@" + rng.choice(
            _MAIL_DOMAINS
        )
        r = rng.random()
        if r < 0.4:
            props["email"] = email
        elif r < 0.7:
            prefix, groups = _PHONE_FORMATS.get(s.country or "", ("+1", (3, 3, 4)))
            digits = " ".join(str(rng.randrange(10**g)).zfill(g) for g in groups)
            props["phone"] = f"{prefix} {digits}"
        else:
            props["comment"] = rng.choice(_PII_COMMENTS).format(email)

    # --- days ----------------------------------------------------------------------------
    def day(self, day_ms: int, target: int) -> None:
        rng = self.rng
        self.refresh_popularity(day_ms + DAY // 2)
        hours = _HOUR_PICKERS[_weekday(day_ms) >= 5]
        budget = target
        while budget > 0:
            t = day_ms + hours(rng) * HOUR + rng.randrange(HOUR)
            if t >= self.cutoff:  # today: the rest of the day has not happened yet
                budget -= _AVG_SESSION
                continue
            budget -= max(1, self.session(t))

    def arrived_before(self, bound: int) -> list[tuple]:
        """Pending rows that arrived before `bound`, in arrival order; the rest stay."""
        ready = [p for p in self.pending if p[0] < bound]
        self.pending = [p for p in self.pending if p[0] >= bound]
        ready.sort(key=itemgetter(0))
        return ready

    def mashups_to_write(self) -> list[tuple]:
        rows = [m.row() for m in self.new_mashups]
        self.new_mashups = []
        return rows


def _names(schema: str | None, table: str) -> sql.Identifier:
    return sql.Identifier(schema, table) if schema else sql.Identifier(table)


def create_tables(conn: psycopg.Connection, schema: str | None = None) -> None:
    """Create `analytics_events` (with its "timestamp" index) and `mashups` if missing, in
    `schema` (created if needed) or the connection's default one. Does not commit."""
    if schema:
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    conn.execute(
        sql.SQL(_DDL).format(
            events=_names(schema, "analytics_events"),
            events_idx=sql.Identifier("analytics_events_timestamp_idx"),
            mashups=_names(schema, "mashups"),
        )
    )


def _write_mashups(conn: psycopg.Connection, schema: str | None, rows: list[tuple]) -> int:
    """COPY into a temporary table, then insert the ones not there yet (re-runs append)."""
    if not rows:
        return 0
    conn.execute(
        sql.SQL(
            "create temporary table if not exists _new_mashups (like {}) on commit drop"
        ).format(_names(schema, "mashups"))
    )
    conn.execute("truncate _new_mashups")
    copy_rows(conn, sql.Identifier("_new_mashups"), MASHUP_COLUMNS, rows)
    inserted = conn.execute(
        sql.SQL("insert into {} select * from _new_mashups on conflict (id) do nothing").format(
            _names(schema, "mashups")
        )
    )
    return inserted.rowcount


def simulate_mashups(
    conn: psycopg.Connection,
    *,
    days: int = 30,
    events_per_day: int = 20_000,
    seed: int = 42,
    end: date | None = None,
    reset: bool = False,
    progress: Callable[[int, int], None] | None = None,
    schema: str | None = None,
    duplicate_share: float = 0.01,
    late_share: float = 0.005,
    pii_share: float = 0.003,
    malformed_share: float = 0.002,
    redis_client: redis.Redis | None = None,
    counter_prefix: str = DEFAULT_MASHUP_KEY_PREFIX,
    realtime_hours: int = 3,
) -> MashupsSimulation:
    """Create the tables if needed, write ~`events_per_day` events per UTC day, commit.

    Deterministic for a given seed and a past `end` (default: today UTC, up to now).
    `progress(days_done, days)` is called after each day is written. With `redis_client`,
    the last `realtime_hours` of plays and likes are also INCRed into its counters
    (`reset=True` first removes the counters, the dirty set and any in-flight batch)."""
    start, end, start_ms, cutoff = window(end, days)
    rng = random.Random(seed)
    shares = {"duplicates": duplicate_share, "late": late_share, "pii": pii_share,
              "malformed": malformed_share}  # fmt: skip
    gen = _Generator(rng, events_per_day, start_ms, cutoff, shares)
    if redis_client is not None:
        last_day = start_ms + (days - 1) * DAY
        gen.realtime_since = max(last_day, cutoff - realtime_hours * HOUR)
    targets = _day_targets(rng, days, start_ms, events_per_day)
    create_tables(conn, schema)
    if reset:
        conn.execute(
            sql.SQL("truncate {}, {} restart identity").format(
                _names(schema, "analytics_events"), _names(schema, "mashups")
            )
        )
    events_table = _names(schema, "analytics_events")
    events = mashups = 0
    for i, target in enumerate(targets):
        day_ms = start_ms + i * DAY
        gen.day(day_ms, target)
        mashups += _write_mashups(conn, schema, gen.mashups_to_write())
        # later days' events happen (and so arrive) after this day ends: flush up to there
        bound = day_ms + DAY if i < days - 1 else cutoff
        ready = gen.arrived_before(bound)
        events += copy_rows(conn, events_table, EVENT_COLUMNS, (row for _, row in ready))
        if progress:
            progress(i + 1, days)
    conn.commit()
    if redis_client is not None:
        if reset:
            clear_counters(redis_client, counter_prefix)
        write_counters(redis_client, gen.realtime, counter_prefix)
    c = gen.counts
    return MashupsSimulation(
        events=events, duplicates=c["duplicates"], late=c["late"], malformed=c["malformed"],
        pii=c["pii"], sessions=c["sessions"], mashups=mashups, mashups_created=gen.created,
        days=days, start=start, end=end,
        realtime=dict(gen.realtime) if redis_client is not None else None,
    )  # fmt: skip


def write_counters(
    r: redis.Redis, counts: dict[tuple[str, str], int], prefix: str = DEFAULT_MASHUP_KEY_PREFIX
) -> None:
    """The app's realtime counters: INCRBY `{prefix}{id}:{metric}` and SADD `{prefix}dirty`
    (the app's one-line addition, docs/MASHUPS_REALTIME.md), in one pipeline."""
    pipe = r.pipeline(transaction=False)
    for (mashup_id, metric), n in sorted(counts.items()):
        pipe.incrby(f"{prefix}{mashup_id}:{metric}", n)
        pipe.sadd(f"{prefix}dirty", mashup_id)
    pipe.execute()


def clear_counters(r: redis.Redis, prefix: str = DEFAULT_MASHUP_KEY_PREFIX) -> int:
    """Remove the counters, the dirty sets and any in-flight batch under `prefix` (SCAN,
    never KEYS); returns how many keys went."""
    from dagster_project.ingest.redis_mashup_counters import CounterKeys

    keys = CounterKeys(prefix)
    found = [keys.dirty, keys.dirty_inflight, keys.inflight]
    for metric in ("plays", "likes"):
        found += r.scan_iter(match=keys.scan_pattern(metric), count=1000)
    removed = 0
    for i in range(0, len(found), 1000):
        removed += r.unlink(*found[i : i + 1000])
    return removed
