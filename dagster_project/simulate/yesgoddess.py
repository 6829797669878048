"""Deterministic YesGoddess simulator: fills the app's `events` and `attribution` tables.

Tables as in DESIGN.md §4 (seed 001's analytics module). Traffic comes in sessions of
returning creators and brands (Zipf-like activity) and anonymous visitors, with a daily
rhythm (evening peaks UTC), a weekly one (quieter weekends) and leaking funnels:
project_viewed → asset_viewed → asset_downloaded / license_clicked → license_created
(``revenueCents`` in the props). The catalogue the app starts with is created
(``project_created`` by a brand, with ``budget_cents``) and uploaded (``asset_uploaded`` by
a creator) through the API in the first hour of the first day: every project and asset
has an owner. Web and mobile sessions get one `attribution` row for their landing event:
UTM tags (NULL = direct), referrer, landing page and a real user-agent string;
device_type/browser/os are mostly NULL, as the app's enrichment job
often left them.

The mess, each a small configurable share, counted per distinct event id (what the
summary reports, and what the tests recompute in SQL):

- ``duplicates``: extra deliveries of an event id, seconds to minutes after the first,
  identical payload, new ``ingest_seq`` and ``created_at``;
- ``late``: events arriving 1–5 days after they happened (``created_at - occurred_at``);
- ``pii``: emails / phone numbers inside ``props_json`` (``contact_email``, ``phone``,
  a free-text ``message`` holding an email);
- ``malformed``: one of a NULL ``occurred_at``; ``occurred_at`` 2+ days after arrival;
  an event name outside `EVENT_TYPES` (typos such as ``asset_vieewed``); wrong JSON types
  (``revenueCents`` as a string or array, ``engagementMs`` as a string, or the whole
  ``props_json`` double-encoded as a JSON string). Malformed events are never late.

Rows are written in arrival order (``ingest_seq`` follows ``created_at``) with COPY.
Nothing arrives after now nor after the end of ``end``: an event (or a second delivery,
or a late arrival) that would arrive later is not written and not counted. The same
seed and a past ``end`` give the same rows. ``reset=True`` empties both tables first;
without it a run appends, and a second run with the same seed and end re-delivers the
very same event ids (use another seed or a later end to add fresh data).
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
from psycopg import sql

from dagster_project.simulate.clock import (
    DAY as _DAY,
)
from dagster_project.simulate.clock import (
    EPOCH as _EPOCH,
)
from dagster_project.simulate.clock import (
    HOUR as _HOUR,
)
from dagster_project.simulate.clock import (
    MIN as _MIN,
)
from dagster_project.simulate.clock import (
    SEC as _SEC,
)
from dagster_project.simulate.clock import window as _window
from dagster_project.simulate.copy_rows import copy_rows

EVENT_TYPES = (
    # user
    "signup_completed",
    "user_logged_in",
    "profile_updated",
    # asset
    "asset_uploaded",
    "asset_viewed",
    "asset_downloaded",
    "asset_approved",
    "asset_rejected",
    # project
    "project_created",
    "project_viewed",
    "project_started",
    "project_completed",
    "project_archived",
    # license
    "license_clicked",
    "license_created",
    "license_signed",
    "license_renewed",
    "license_expired",
    # royalty
    "royalty_calculated",
    "royalty_statement_generated",
    "payout_completed",
    # engagement
    "page_viewed",
    "cta_clicked",
    "search_performed",
    "filter_applied",
    # system
    "email_sent",
    "webhook_received",
    "job_completed",
    "job_failed",
    "error_occurred",
)
SOURCES = ("web", "api", "mobile", "system")
ACTOR_TYPES = ("creator", "brand", "admin", "anonymous")
PII_KEYS = ("contact_email", "phone", "message")

EVENT_COLUMNS = (
    "id",
    "occurred_at",
    "source",
    "event_type",
    "actor_type",
    "actor_id",
    "project_id",
    "ip_asset_id",
    "license_id",
    "props_json",
    "session_id",
    "created_at",
)
ATTRIBUTION_COLUMNS = (
    "event_id",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
    "landing_page",
    "user_agent",
    "device_type",
    "browser",
    "os",
    "created_at",
)

_DDL = """
create schema if not exists {schema};
create table if not exists {schema}.events (
    ingest_seq bigserial primary key,
    id text not null,
    occurred_at timestamptz,
    source text not null,
    event_type text not null,
    actor_type text,
    actor_id text,
    project_id text,
    ip_asset_id text,
    license_id text,
    props_json jsonb,
    session_id text,
    created_at timestamptz not null
);
create index if not exists events_created_at_idx on {schema}.events (created_at);
create table if not exists {schema}.attribution (
    id bigserial primary key,
    event_id text not null,
    utm_source text,
    utm_medium text,
    utm_campaign text,
    utm_term text,
    utm_content text,
    referrer text,
    landing_page text,
    user_agent text,
    device_type text,
    browser text,
    os text,
    created_at timestamptz not null
);
create index if not exists attribution_created_at_idx on {schema}.attribution (created_at);
"""


# UTC hour weights: Americas + Europe audience, so the peak is the UTC evening.
_WEEKDAY_HOURS = [4, 3, 2, 2, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 16, 14, 10, 6]
_WEEKEND_HOURS = [6, 5, 3, 2, 1, 1, 1, 2, 3, 5, 7, 9, 10, 11, 11, 11, 11, 11, 12, 13, 12, 10, 8, 7]
_WEEKDAY_LEVEL = (1.0, 1.04, 1.05, 1.03, 0.97, 0.78, 0.74)  # Monday … Sunday
_SYSTEM_SHARE = 0.04
_AVG_SESSION = 6  # events; budget a session that would start after now as this many

# session kinds: who, share of sessions
_KINDS = (("anonymous", 52), ("creator", 22), ("brand", 19), ("admin", 1), ("bot", 6))
_COUNTRIES = (
    ("US", 34),
    ("GB", 9),
    ("IN", 6),
    ("CA", 5),
    ("DE", 5),
    ("FR", 5),
    ("NG", 5),
    ("BR", 5),
    ("AU", 4),
    ("ZA", 3),
    ("MX", 3),
    ("ES", 3),
    ("NL", 2),
    ("IT", 2),
    ("JP", 2),
    ("KE", 2),
    ("AE", 2),
    ("SE", 2),
    ("IE", 1),
)

# user agent, device_type, browser, os, weight — real strings as browsers send them
_DESKTOP_UAS = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "desktop", "Chrome", "Windows", 30,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "desktop", "Chrome", "macOS", 18,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4.1 Safari/605.1.15",
        "desktop", "Safari", "macOS", 12,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
        "desktop", "Edge", "Windows", 9,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "desktop", "Firefox", "Windows", 5,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
        "desktop", "Firefox", "macOS", 2,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/123.0.0.0 Safari/537.36",
        "desktop", "Chrome", "Linux", 2,
    ),
    (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0",
        "desktop", "Firefox", "Linux", 1,
    ),
)  # fmt: skip
_MOBILE_UAS = (
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
        "mobile", "Safari", "iOS", 30,
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
        "mobile", "Chrome", "Android", 26,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
        "mobile", "Chrome", "iOS", 7,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
        "mobile", "Samsung Internet", "Android", 6,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 Instagram 323.0.3.23.54 (iPhone15,3; iOS 17_3_1; "
        "en_US; en; scale=3.00; 1290x2796; 577210397)",
        "mobile", "Instagram", "iOS", 6,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1",
        "tablet", "Safari", "iOS", 4,
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "tablet", "Chrome", "Android", 2,
    ),
    (
        "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
        "mobile", "Firefox", "Android", 1,
    ),
)  # fmt: skip
_BOT_UAS = (
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 40),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 20),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", 15),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", 15),
    ("python-requests/2.31.0", 10),
)
_UA_FILLED_SHARE = 0.35  # the app's enrichment job filled device/browser/os this often

# channel: utm_source, utm_medium, campaigns, terms, referrers, purchase intent, weight
_CHANNELS = (
    (None, None, (), (), (None,), 1.0, 30),
    (None, None, (), (), ("https://www.google.com/",), 1.1, 15),
    (None, None, (), (), ("https://www.bing.com/", "https://duckduckgo.com/"), 1.1, 3),
    (None, None, (), (),
     ("https://www.behance.net/", "https://dribbble.com/", "https://www.reddit.com/",
      "https://news.ycombinator.com/", "https://www.linkedin.com/"), 1.2, 6),
    ("instagram", "social", ("creator_spotlight", "summer_drop_2026", "brand_collabs"), (),
     ("https://l.instagram.com/",), 0.7, 10),
    ("tiktok", "social", ("creator_spotlight", "behind_the_shoot"), (),
     ("https://www.tiktok.com/",), 0.6, 6),
    ("twitter", "social", ("launch_thread", "creator_spotlight"), (), ("https://t.co/",), 0.8, 3),
    ("pinterest", "social", ("moodboards",), (), ("https://www.pinterest.com/",), 0.8, 2),
    ("google", "cpc", ("brand_search", "licensing_generic", "stock_alternative"),
     ("license photos for brands", "creator content licensing", "yesgoddess",
      "ugc licensing platform", "royalty free fashion photos"),
     ("https://www.google.com/",), 1.8, 8),
    ("facebook", "paid_social", ("brand_collabs", "retarget_visitors", "creator_signup"), (),
     ("https://m.facebook.com/", "https://l.facebook.com/"), 1.0, 6),
    ("newsletter", "email", ("weekly_digest", "new_creators_june", "license_offer"), (),
     (None,), 1.6, 5),
    ("partner_shopify", "affiliate", ("app_store_listing",), (),
     ("https://apps.shopify.com/",), 1.4, 2),
)  # fmt: skip
_AD_CONTENTS = ("ad_a", "ad_b", "carousel_v2", "video_15s", None)

_LICENSE_TYPES = (  # type, median revenue in cents, weight
    ("non_exclusive", 15_000, 50),
    ("social_media", 8_000, 25),
    ("editorial", 5_000, 10),
    ("exclusive", 120_000, 10),
    ("broadcast", 250_000, 5),
)
_SEARCHES = (
    "golden hour portrait", "fashion editorial", "wellness lifestyle", "beauty closeup",
    "streetwear lookbook", "yoga outdoors", "skincare routine video", "luxury travel",
    "fitness motivation", "natural hair care", "minimalist product shot", "summer campaign",
    "vegan food styling", "bridal makeup", "sustainable fashion", "city nightlife",
)  # fmt: skip
_FILTERS = (
    ("category", ("photography", "video", "illustration", "audio")),
    ("license_type", ("non_exclusive", "exclusive", "editorial", "social_media")),
    ("orientation", ("portrait", "landscape", "square")),
    ("price", ("under_100", "100_500", "over_500")),
)
_CTAS = ("start_licensing", "join_as_creator", "book_demo", "contact_creator", "see_pricing")
_PAGES = ("/", "/explore", "/pricing", "/creators", "/how-it-works", "/blog/licensing-101")
_SYSTEM_EVENTS = (
    ("email_sent", 34),
    ("job_completed", 20),
    ("webhook_received", 15),
    ("royalty_calculated", 9),
    ("royalty_statement_generated", 5),
    ("payout_completed", 5),
    ("license_expired", 4),
    ("error_occurred", 4),
    ("project_started", 2),
    ("project_completed", 2),
    ("job_failed", 2),
)
_EMAIL_TEMPLATES = ("weekly_digest", "license_receipt", "password_reset", "royalty_statement")
_JOBS = ("aggregate-daily-metrics", "enrich-event", "royalty-run", "asset-transcode")
_WEBHOOKS = (
    ("stripe", "payment_intent.succeeded"),
    ("stripe", "charge.refunded"),
    ("docusign", "envelope.completed"),
)
_MALFORMED_KINDS = (("missing_time", 25), ("future", 20), ("unknown_name", 30), ("bad_type", 25))
_FIRST = ("amara", "jane", "lucia", "maya", "zoe", "tolu", "sofia", "ava", "nia", "leah", "kim")
_LAST = ("okafor", "smith", "garcia", "nguyen", "brown", "silva", "patel", "kowalski", "mensah")
_MAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "proton.me")
_MESSAGES = (
    "Hi! Love this shot - could you email me at {} about an exclusive license?",
    "Please send the invoice to {} thanks",
    "We'd like to use this for our summer campaign, reach me at {}",
)
_PHONE_FORMATS = {  # country: prefix, groups of digits
    "US": ("+1", (3, 3, 4)),
    "CA": ("+1", (3, 3, 4)),
    "GB": ("+44", (4, 6)),
    "NG": ("+234", (3, 3, 4)),
    "IN": ("+91", (5, 5)),
    "BR": ("+55", (2, 5, 4)),
}
_dumps = json.JSONEncoder(separators=(",", ":")).encode  # one encoder, not one per row
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_DIGIT_RUN = re.compile(r"\d{6}")


@dataclass
class YesGoddessSimulation:
    """What was written. `events` counts rows (deliveries); the mess counts distinct event ids,
    except `duplicates`, the extra deliveries (so distinct ids = events - duplicates)."""

    events: int
    attribution: int
    duplicates: int
    late: int
    malformed: int
    days: int
    start: date
    end: date
    pii: int = 0
    sessions: int = 0


class _Picker:
    """Weighted choice via precomputed cumulative weights: far cheaper than rng.choices."""

    def __init__(self, items: Sequence[tuple]):
        self.values = [item[0] if len(item) == 2 else item[:-1] for item in items]
        self.cum = list(accumulate(item[-1] for item in items))

    def __call__(self, rng: random.Random):
        return self.values[bisect_right(self.cum, rng.random() * self.cum[-1])]


_pick_kind = _Picker(_KINDS)
_pick_country = _Picker(_COUNTRIES)
_pick_desktop = _Picker(_DESKTOP_UAS)
_pick_mobile = _Picker(_MOBILE_UAS)
_pick_bot = _Picker(_BOT_UAS)
_pick_channel = _Picker(_CHANNELS)
_pick_license = _Picker(_LICENSE_TYPES)
_pick_system = _Picker(_SYSTEM_EVENTS)
_pick_malformed = _Picker(_MALFORMED_KINDS)
_HOUR_PICKERS = (
    _Picker(list(enumerate(_WEEKDAY_HOURS))),
    _Picker(list(enumerate(_WEEKEND_HOURS))),
)


@lru_cache(maxsize=1 << 17)
def _minute_str(minute: int) -> str:
    return (_EPOCH + timedelta(minutes=minute)).isoformat(timespec="minutes")


def _iso(ms: int) -> str:
    # hand-rolled with a per-minute cache: datetime.isoformat would dominate the run time
    minute, rem = divmod(ms, _MIN)
    return f"{_minute_str(minute)}:{rem // 1000:02d}.{rem % 1000:03d}Z"


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _cuid(rng: random.Random) -> str:
    """Prisma-style id; no long digit runs, so PII phone patterns never match an id."""
    while True:
        n, chars = rng.getrandbits(124), []
        for _ in range(24):
            n, r = divmod(n, 36)
            chars.append(_B36[r])
        cuid = "c" + "".join(chars)
        if not _DIGIT_RUN.search(cuid):
            return cuid


def _lognormal(rng: random.Random, median: float, sigma: float, lo: int, hi: int) -> int:
    # gauss() is cheaper than lognormvariate()'s rejection sampling; same distribution
    return min(hi, max(lo, int(median * math.exp(sigma * rng.gauss()))))


def _weekday(day_ms: int) -> int:
    return (day_ms // _DAY + 3) % 7  # 1970-01-01 was a Thursday


def _day_targets(rng: random.Random, days: int, start_ms: int, per_day: int) -> list[int]:
    """Events per day: weekly rhythm, slow growth and noise, averaging `per_day`."""
    weights = [
        _WEEKDAY_LEVEL[_weekday(start_ms + i * _DAY)] * (1 + 0.004 * i) * rng.uniform(0.92, 1.08)
        for i in range(days)
    ]
    scale = per_day * days / sum(weights)
    return [round(w * scale) for w in weights]


def _typo(rng: random.Random, name: str) -> str:
    """An event name the taxonomy does not know: what buggy clients really send."""
    i = rng.randrange(1, len(name) - 1)
    variants = (
        name[:i] + name[i] + name[i:],  # doubled letter: asset_vieewed
        name[: i - 1] + name[i] + name[i - 1] + name[i + 1 :],  # swapped letters
        "".join(part.capitalize() for part in name.split("_")),  # AssetViewed
        name.replace("_", "-"),
        name.upper(),
    )
    typo = rng.choice(variants)
    return typo if typo not in EVENT_TYPES else name + "_v2"


class _Session:
    __slots__ = ("id", "kind", "source", "actor_type", "actor_id", "country", "t", "events")

    def __init__(self, sid, kind, source, actor_type, actor_id, country, t):
        self.id, self.kind, self.source = sid, kind, source
        self.actor_type, self.actor_id, self.country, self.t = actor_type, actor_id, country, t
        self.events: list[tuple] = []


class _Generator:
    """Per-run state (rng, pools, catalog, pending rows) so per-event code stays small."""

    def __init__(self, rng: random.Random, per_day: int, cutoff: int, shares: dict[str, float]):
        self.rng, self.cutoff, self.shares = rng, cutoff, shares
        self.users = {
            "creator": [self.new_user("creator") for _ in range(max(30, per_day // 40))],
            "brand": [self.new_user("brand") for _ in range(max(10, per_day // 150))],
            "admin": [self.new_user("admin") for _ in range(4)],
        }
        self.projects = [_cuid(rng) for _ in range(max(10, per_day // 100))]
        self.assets = [self.new_asset() for _ in range(max(50, per_day // 8))]
        self.licenses: list[str] = []
        self.pending: list[tuple] = []
        self.counts = dict.fromkeys(("duplicates", "late", "malformed", "pii", "sessions"), 0)

    # --- pools -------------------------------------------------------------------------
    def new_user(self, actor_type: str) -> tuple:
        rng = self.rng
        return (actor_type, _cuid(rng), _pick_country(rng), _pick_desktop(rng), _pick_mobile(rng))

    def new_asset(self) -> tuple[str, str | None]:
        rng = self.rng
        project = self.zipf(self.projects) if rng.random() < 0.7 else None
        return _cuid(rng), project

    def zipf(self, pool: list):
        """Few items get most of the activity: index skewed towards the front."""
        return pool[int(len(pool) * self.rng.random() ** 2.2)]

    # --- events --------------------------------------------------------------------------
    def add(self, s: _Session, etype: str, props: dict, asset=None, project=None, lic=None):
        """Next event of a session, a human gap after the previous one."""
        if s.events:
            s.t += _lognormal(self.rng, 25 * _SEC, 1.0, 1 * _SEC, 20 * _MIN)
        props["country"] = s.country
        s.events.append((s.t, etype, s.actor_type, s.actor_id, project, asset, lic, props))

    def engaged(self, median_s: float, **extra) -> dict:
        """Props of a view: time spent on it, plus whatever else the view carries."""
        props = {"engagementMs": _lognormal(self.rng, median_s * _SEC, 1.0, 300, 30 * _MIN)}
        props.update(extra)
        return props

    def view_asset(self, s: _Session, asset=None) -> tuple[str, str | None]:
        asset_id, project = asset or self.zipf(self.assets)
        self.add(s, "asset_viewed", self.engaged(18), asset_id, project)
        return asset_id, project

    def browse(self, s: _Session) -> None:
        rng = self.rng
        r = rng.random()
        if r < 0.3:
            path = rng.choice(_PAGES)
            self.add(s, "page_viewed", self.engaged(12, path=path))
        elif r < 0.5:
            props = {"query": rng.choice(_SEARCHES), "results_count": rng.randrange(0, 400)}
            self.add(s, "search_performed", props)
        elif r < 0.6:
            name, values = rng.choice(_FILTERS)
            self.add(s, "filter_applied", {"filter": name, "value": rng.choice(values)})
        elif r < 0.75:
            project = self.zipf(self.projects)
            self.add(s, "project_viewed", self.engaged(25), project=project)
        elif r < 0.93:
            self.view_asset(s)
        else:
            self.add(s, "cta_clicked", {"cta": rng.choice(_CTAS), "path": rng.choice(_PAGES)})

    def anonymous_flow(self, s: _Session) -> None:
        rng = self.rng
        for _ in range(1 + int(rng.expovariate(1 / 4))):
            self.browse(s)
        if rng.random() < 0.03:  # the visitor signs up and carries on as a user
            role = "creator" if rng.random() < 0.6 else "brand"
            user = self.new_user(role)
            self.users[role].append(user)
            method = rng.choice(("email", "google", "apple"))
            self.add(s, "signup_completed", {"role": role, "method": method})
            s.events[-1] = s.events[-1][:2] + (role, user[1]) + s.events[-1][4:]
            s.actor_type, s.actor_id = role, user[1]
            if role == "creator" and rng.random() < 0.4:
                self.upload(s)

    def bot_flow(self, s: _Session) -> None:
        for _ in range(2 + int(self.rng.expovariate(1 / 6))):
            if self.rng.random() < 0.5:
                path = self.rng.choice(_PAGES)
                self.add(s, "page_viewed", {"engagementMs": 150, "path": path})
            else:
                asset_id, project = self.zipf(self.assets)
                self.add(s, "asset_viewed", {"engagementMs": 150}, asset_id, project)

    def login(self, s: _Session, share: float) -> None:
        if s.source != "api" and self.rng.random() < share:
            method = self.rng.choice(("password", "google", "magic_link"))
            self.add(s, "user_logged_in", {"method": method})

    def upload_props(self) -> dict:
        rng = self.rng
        media = rng.choice(("image", "image", "image", "video", "audio"))
        size = _lognormal(rng, 8e6 if media == "image" else 9e7, 0.8, 10_000, 4_000_000_000)
        return {"media_type": media, "size_bytes": size}

    def budget_props(self) -> dict:
        return {"budget_cents": self.rng.randrange(50, 5000) * 1000}

    def upload(self, s: _Session) -> None:
        asset = self.new_asset()
        self.assets.append(asset)
        self.add(s, "asset_uploaded", self.upload_props(), *asset)

    def catalogue(self, day_ms: int, rng: random.Random) -> None:
        """The projects and assets the app starts with, created by their brands and uploaded
        by their creators in the first hour (an import through the API): without these
        events they would have no owner. Its own rng, so the traffic after stays the same."""
        main, self.rng = self.rng, rng
        for project in self.projects:
            brand = self.zipf(self.users["brand"])[1]
            props = self.budget_props()
            t = day_ms + rng.randrange(_HOUR)
            event = (t, "project_created", "brand", brand, project, None, None, props)
            self.deliver(event, "api", None, None)
        for asset_id, project in self.assets:
            creator = self.zipf(self.users["creator"])[1]
            props = self.upload_props()
            t = day_ms + rng.randrange(_HOUR)
            event = (t, "asset_uploaded", "creator", creator, project, asset_id, None, props)
            self.deliver(event, "api", None, None)
        self.rng = main

    def creator_flow(self, s: _Session) -> None:
        rng = self.rng
        self.login(s, 0.4)
        self.add(s, "page_viewed", self.engaged(20, path="/dashboard"))
        for _ in range(int(rng.expovariate(1 / 3))):
            r = rng.random()
            if r < 0.2:
                self.upload(s)
            elif r < 0.3:
                path = rng.choice(("/dashboard/royalties", "/dashboard/licenses"))
                self.add(s, "page_viewed", self.engaged(30, path=path))
            elif r < 0.34:
                self.add(s, "profile_updated", {"fields": rng.choice(("bio", "avatar", "links"))})
            else:
                self.browse(s)

    def brand_flow(self, s: _Session, intent: float) -> None:
        rng = self.rng
        self.login(s, 0.35)
        if rng.random() < 0.02:
            project = _cuid(rng)
            self.projects.append(project)
            self.add(s, "project_created", self.budget_props(), project=project)
        elif rng.random() < 0.55:
            project = self.zipf(self.projects)
            self.add(s, "project_viewed", self.engaged(25), project=project)
        else:
            self.browse(s)
        for _ in range(1 + int(rng.expovariate(1 / 3))):
            self.asset_funnel(s, intent)

    def asset_funnel(self, s: _Session, intent: float) -> None:
        """asset_viewed → downloaded / license_clicked → license_created → signed; leaks."""
        rng = self.rng
        asset_id, project = self.view_asset(s)
        if rng.random() < 0.18:
            fmt = rng.choice(("jpg", "png", "mp4", "tiff"))
            self.add(s, "asset_downloaded", {"format": fmt}, asset_id, project)
        if rng.random() >= 0.12 * intent:
            return
        ltype, median = _pick_license(rng)
        self.add(s, "license_clicked", {"license_type": ltype}, asset_id, project)
        if rng.random() >= 0.3:
            return
        lic = _cuid(rng)
        self.licenses.append(lic)
        revenue = _lognormal(rng, median, 0.6, 1_000, 5_000_000) // 100 * 100
        props = {"revenueCents": revenue, "currency": "USD", "license_type": ltype,
                 "term_months": rng.choice((1, 3, 6, 12, 12, 24))}  # fmt: skip
        self.add(s, "license_created", props, asset_id, project, lic)
        if rng.random() < 0.5:
            self.add(s, "license_signed", {"license_type": ltype}, asset_id, project, lic)

    def admin_flow(self, s: _Session) -> None:
        rng = self.rng
        self.add(s, "page_viewed", self.engaged(15, path="/admin/review"))
        for _ in range(1 + int(rng.expovariate(1 / 5))):
            asset_id, project = self.zipf(self.assets)
            if rng.random() < 0.8:
                self.add(s, "asset_approved", {}, asset_id, project)
            else:
                reason = rng.choice(("low_resolution", "rights_unclear", "duplicate"))
                self.add(s, "asset_rejected", {"reason": reason}, asset_id, project)

    # --- sessions and attribution ------------------------------------------------------
    def session(self, t: int) -> int:
        """One visit: its events, delivered, and the landing event's attribution."""
        rng = self.rng
        kind = _pick_kind(rng)
        if kind in ("anonymous", "bot"):
            source = "web" if kind == "bot" or rng.random() < 0.78 else "mobile"
            actor_type, actor_id, country = "anonymous", None, _pick_country(rng)
            ua = (_pick_bot(rng), None, None, None) if kind == "bot" else None
        else:
            user = self.zipf(self.users[kind])
            actor_type, actor_id, country = user[0], user[1], user[2]
            r = rng.random()
            source = "api" if kind == "brand" and r < 0.12 else "mobile" if r < 0.35 else "web"
            source = "web" if kind == "admin" else source
            ua = user[4] if source == "mobile" else user[3]
        if ua is None:
            ua = _pick_mobile(rng) if source == "mobile" or rng.random() < 0.35 else None
            ua = ua or _pick_desktop(rng)
        channel = _pick_channel(rng) if kind != "bot" else _CHANNELS[0][:-1]
        s = _Session(_uuid(rng), kind, source, actor_type, actor_id, country, t)
        self.counts["sessions"] += 1
        self.run_flow(s, channel[5])
        landing = self.attribution(s, channel, ua) if source != "api" else None
        for i, event in enumerate(s.events):
            if event[0] >= self.cutoff:
                break
            self.deliver(event, s.source, s.id, landing if i == 0 else None)
        return len(s.events)

    def run_flow(self, s: _Session, intent: float) -> None:
        if s.kind == "anonymous":
            self.anonymous_flow(s)
        elif s.kind == "bot":
            self.bot_flow(s)
        elif s.kind == "creator":
            self.creator_flow(s)
        elif s.kind == "brand":
            self.brand_flow(s, intent)
        else:
            self.admin_flow(s)

    def attribution(self, s: _Session, channel: tuple, ua: tuple) -> list:
        rng = self.rng
        utm_source, medium, campaigns, terms, referrers = channel[:5]
        if utm_source == "instagram" and rng.random() < 0.08:
            utm_source = rng.choice(("IG", "Instagram"))  # hand-tagged links
        campaign = rng.choice(campaigns) if campaigns else None
        term = rng.choice(terms) if terms else None
        content = rng.choice(_AD_CONTENTS) if medium in ("cpc", "paid_social") else None
        first = s.events[0]
        path = first[7].get("path") or (f"/assets/{first[5]}" if first[5] else "/explore")
        if utm_source:
            path += f"?utm_source={utm_source}&utm_medium={medium}&utm_campaign={campaign}"
        device, browser, os_ = ua[1:4] if rng.random() < _UA_FILLED_SHARE else (None,) * 3
        return [utm_source, medium, campaign, term, content, rng.choice(referrers), path, ua[0],
                device, browser, os_]  # fmt: skip

    def system_event(self, t: int) -> None:
        rng = self.rng
        etype = _pick_system(rng)
        lic = project = None
        if etype == "email_sent":
            props = {"template": rng.choice(_EMAIL_TEMPLATES), "provider": "resend"}
        elif etype in ("job_completed", "job_failed"):
            props = {"job": rng.choice(_JOBS), "duration_ms": rng.randrange(50, 600_000)}
        elif etype == "webhook_received":
            provider, kind = rng.choice(_WEBHOOKS)
            props = {"provider": provider, "type": kind}
        elif etype in ("royalty_calculated", "payout_completed"):
            props = {"amount_cents": _lognormal(rng, 4_000, 1.2, 100, 10_000_000)}
        elif etype == "license_expired" and self.licenses:
            props, lic = {}, self.zipf(self.licenses)
        elif etype in ("project_started", "project_completed"):
            props, project = {}, self.zipf(self.projects)
        else:
            props = {"code": rng.choice(("E_TIMEOUT", "E_UPSTREAM", "E_VALIDATION"))}
        self.deliver((t, etype, None, None, project, None, lic, props), "system", None, None)

    # --- delivery: latency and the mess -----------------------------------------------
    def deliver(self, event: tuple, source: str, session_id, landing: list | None) -> None:
        rng, shares = self.rng, self.shares
        t, etype, actor_type, actor_id, project, asset, lic, props = event
        occurred: int | None = t
        created = t + _lognormal(rng, 400, 1.0, 5, 30 * _SEC)
        if source == "mobile" and rng.random() < 0.03:  # offline queue flushed later today
            created += _lognormal(rng, 20 * _MIN, 1.2, _MIN, 6 * _HOUR)
        double_encode = kind = None
        r = rng.random()
        if r < shares["malformed"]:
            kind = _pick_malformed(rng)
            occurred, etype, double_encode = self.malform(kind, t, created, etype, props)
        elif r < shares["malformed"] + shares["late"]:
            kind = "late"
            created = t + rng.randrange(_DAY, 5 * _DAY)
        pii = rng.random() < shares["pii"]
        if pii:
            self.add_pii(etype, props)
        if created >= self.cutoff:
            return  # has not arrived yet
        if kind is not None:
            self.counts["late" if kind == "late" else "malformed"] += 1
        self.counts["pii"] += pii
        payload = _dumps(props)
        if double_encode:
            payload = _dumps(payload)
        row = (_uuid(rng), None if occurred is None else _iso(occurred), source, etype,
               actor_type, actor_id, project, asset, lic, payload, session_id)  # fmt: skip
        attribution = None
        if landing is not None:
            attributed = min(created + rng.randrange(1, 80), self.cutoff - 1)
            attribution = (row[0], *landing, _iso(attributed))
        self.pending.append((created, (*row, _iso(created)), attribution))
        if rng.random() < shares["duplicates"]:  # the client retried: same payload again
            again = created + _lognormal(rng, 20 * _SEC, 1.3, 1 * _SEC, 15 * _MIN)
            if again < self.cutoff:
                self.counts["duplicates"] += 1
                self.pending.append((again, (*row, _iso(again)), None))

    def malform(self, kind: str, t: int, created: int, etype: str, props: dict):
        """Returns (occurred_at ms or None, event_type, double-encode props?)."""
        rng = self.rng
        occurred: int | None = t
        if kind == "missing_time":
            occurred = None
        elif kind == "future":  # a client clock days or months ahead
            occurred = created + 2 * _DAY + rng.randrange(_HOUR, 60 * _DAY)
        elif kind == "unknown_name":
            etype = _typo(rng, etype)
        elif "revenueCents" in props:
            cents = props["revenueCents"]
            props["revenueCents"] = rng.choice((f"{cents / 100:.2f}abc", [cents], f"${cents}"))
        elif "engagementMs" in props:
            props["engagementMs"] = f"{props['engagementMs'] / 1000:.1f}s"
        else:
            return occurred, etype, True
        return occurred, etype, False

    def add_pii(self, etype: str, props: dict) -> None:
        rng = self.rng
        email = (
            f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}{rng.randrange(100)}"
            f"@{rng.choice(_MAIL_DOMAINS)}"
        )
        if etype == "signup_completed" or (etype != "profile_updated" and rng.random() < 0.35):
            props["contact_email"] = email
        elif etype == "profile_updated" or rng.random() < 0.5:
            props["phone"] = self.phone(props.get("country"))
        else:
            props["message"] = rng.choice(_MESSAGES).format(email)

    def phone(self, country: str | None) -> str:
        prefix, groups = _PHONE_FORMATS.get(country or "", ("+1", (3, 3, 4)))
        digits = [str(self.rng.randrange(10**n)).zfill(n) for n in groups]
        return f"{prefix} {' '.join(digits)}"

    # --- days ----------------------------------------------------------------------------
    def day(self, day_ms: int, target: int) -> int:
        """One UTC day's sessions and system events; returns the events generated."""
        rng = self.rng
        hours = _HOUR_PICKERS[_weekday(day_ms) >= 5]
        budget = int(target * (1 - _SYSTEM_SHARE))
        made = 0
        while budget > 0:
            t = day_ms + hours(rng) * _HOUR + rng.randrange(_HOUR)
            if t >= self.cutoff:  # today: the rest of the day has not happened yet
                budget -= _AVG_SESSION
                continue
            n = self.session(t)
            budget -= n
            made += n
        for _ in range(int(target * _SYSTEM_SHARE)):
            # nightly jobs cluster at 02:00 (seed 001's aggregation), the rest spreads out
            if rng.random() < 0.3:
                t = day_ms + 2 * _HOUR + rng.randrange(15 * _MIN)
            else:
                t = day_ms + rng.randrange(_DAY)
            if t < self.cutoff:
                self.system_event(t)
                made += 1
        return made

    def arrived_before(self, bound: int) -> list[tuple]:
        """Pending rows that arrived before `bound`, in arrival order; the rest stay."""
        ready = [p for p in self.pending if p[0] < bound]
        self.pending = [p for p in self.pending if p[0] >= bound]
        ready.sort(key=itemgetter(0))
        return ready


def create_tables(conn: psycopg.Connection, schema: str = "public") -> None:
    """Create the schema, `events` and `attribution` (and their created_at indexes) if missing.

    Does not commit: the caller's transaction (or `simulate_yesgoddess`) does."""
    conn.execute(sql.SQL(_DDL).format(schema=sql.Identifier(schema)))


def _write(conn: psycopg.Connection, schema: str, ready: list[tuple]) -> tuple[int, int]:
    events = copy_rows(
        conn, sql.Identifier(schema, "events"), EVENT_COLUMNS, (row for _, row, _ in ready)
    )
    attribution = copy_rows(
        conn,
        sql.Identifier(schema, "attribution"),
        ATTRIBUTION_COLUMNS,
        (a for _, _, a in ready if a),
    )
    return events, attribution


def simulate_yesgoddess(
    conn: psycopg.Connection,
    *,
    days: int = 30,
    events_per_day: int = 20_000,
    seed: int = 42,
    end: date | None = None,
    schema: str = "public",
    reset: bool = False,
    duplicate_share: float = 0.01,
    late_share: float = 0.005,
    pii_share: float = 0.003,
    malformed_share: float = 0.002,
    progress: Callable[[int, int], None] | None = None,
) -> YesGoddessSimulation:
    """Create the tables if needed, write ~`events_per_day` events per UTC day, commit.

    Deterministic for a given seed and a past `end` (default: today UTC, up to now).
    `progress(days_done, days)` is called after each day is written."""
    start, end, start_ms, cutoff = _window(end, days)
    rng = random.Random(seed)
    shares = {"duplicates": duplicate_share, "late": late_share, "pii": pii_share,
              "malformed": malformed_share}  # fmt: skip
    gen = _Generator(rng, events_per_day, cutoff, shares)
    targets = _day_targets(rng, days, start_ms, events_per_day)
    create_tables(conn, schema)
    if reset:
        conn.execute(
            sql.SQL("truncate {}.events, {}.attribution restart identity").format(
                sql.Identifier(schema), sql.Identifier(schema)
            )
        )
    events = attribution = 0
    gen.catalogue(start_ms, random.Random(f"{seed}-catalogue"))
    for i, target in enumerate(targets):
        day_ms = start_ms + i * _DAY
        gen.day(day_ms, target)
        # later days' events happen (and so arrive) after this day ends: flush up to there
        bound = day_ms + _DAY if i < days - 1 else cutoff
        n_events, n_attribution = _write(conn, schema, gen.arrived_before(bound))
        events += n_events
        attribution += n_attribution
        if progress:
            progress(i + 1, days)
    conn.commit()
    c = gen.counts
    return YesGoddessSimulation(
        events, attribution, c["duplicates"], c["late"], c["malformed"], days, start, end,
        c["pii"], c["sessions"],
    )  # fmt: skip
