"""Deterministic EverReach simulator: fills the app's `app_events`, `prompts` and `responses`.

Tables as in DESIGN.md §4 (seed 003's collector). EverReach is a mobile relationship
assistant: people install the app and arrive anonymous (an ``anonymous_id`` per device),
go through a leaking onboarding funnel (signup_started → signup_completed →
onboarding_completed → aha_reached → trial_started → purchase_succeeded; some skip steps,
some do them out of order, some finish them days later), then come back (Zipf-like
activity) to ask the assistant for messages to their contacts. Every prompt is a
`prompts` row and a ``prompt_submitted`` event; its answer a `responses` row (model,
tokens_out, latency_ms, cost_usd, finish_reason) and ``ai_response_generated`` /
``response_rendered`` events, followed now and then by ``response_copied`` /
``response_liked`` / ``response_disliked`` (``properties.response_id``: the feedback of
``ml_response_samples``). Free users hit the paywall (``paywall_shown`` with a
``placement``) and sometimes buy; trials last 7 days and convert or expire.
``context`` holds platform, app_build, device_model (seed 003's names) and country.
Activity follows the clock (evening peaks UTC) and the week (quieter weekends).

The mess of `app_events`, each a small configurable share, counted per distinct event id:

- ``duplicates``: a second delivery of an event (same id, occurred_at and payload), seconds
  to minutes after the first: a later ``ingest_seq`` and ``created_at``;
- ``late``: events arriving 1–5 days after they happened (an offline phone);
- ``pii``: emails and phone numbers inside ``properties`` (``email``, ``phone``, free text);
- ``malformed``: a NULL ``occurred_at``, an ``occurred_at`` 2+ days after arrival, an
  unknown event name, or wrong JSON types (``properties``/``context`` double-encoded as a
  JSON string, a numeric ``placement`` or ``response_id``). Malformed events are never late.

Prompt and response texts carry emails / phone numbers at the same ``pii_share``, and
now and then a pasted thread longer than 5,000 characters.

Nothing arrives after now nor after the end of ``end``: a row that would arrive later is
not written and not counted. The same seed and a past ``end`` give the same rows. Rows
are written in arrival order with COPY, one day at a time. ``reset=True`` empties the
tables first; without it a run appends (the same seed re-delivers the same event ids).
"""

from __future__ import annotations

import json
import math
import random
import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import accumulate

import psycopg
from psycopg import sql

from dagster_project.simulate import clock
from dagster_project.simulate.copy_rows import copy_rows

SEC, MIN, HOUR, DAY = clock.SEC, clock.MIN, clock.HOUR, clock.DAY

# The taxonomy (seed 003 `analytics/events.yml`, "50+ event types"): name, category.
# seeds/everreach_event_types.csv holds the same list for dbt.
EVENT_TAXONOMY: tuple[tuple[str, str], ...] = (
    ("prompt_submitted", "ai"),
    ("ai_response_generated", "ai"),
    ("response_rendered", "ai"),
    ("response_copied", "ai"),
    ("response_liked", "ai"),
    ("response_disliked", "ai"),
    ("response_regenerated", "ai"),
    ("ai_request_failed", "ai"),
    ("paywall_shown", "paywall"),
    ("paywall_dismissed", "paywall"),
    ("purchase_attempted", "paywall"),
    ("purchase_succeeded", "paywall"),
    ("purchase_failed", "paywall"),
    ("purchase_restored", "paywall"),
    ("entitlement_refreshed", "paywall"),
    ("trial_started", "subscription"),
    ("trial_expired", "subscription"),
    ("trial_extended", "subscription"),
    ("subscription_renewed", "subscription"),
    ("subscription_cancelled", "subscription"),
    ("feature_blocked", "subscription"),
    ("signup_started", "onboarding"),
    ("signup_completed", "onboarding"),
    ("onboarding_started", "onboarding"),
    ("onboarding_question_answered", "onboarding"),
    ("onboarding_skipped", "onboarding"),
    ("onboarding_completed", "onboarding"),
    ("first_contact_created", "onboarding"),
    ("aha_reached", "onboarding"),
    ("contact_warmth_changed", "contacts"),
    ("contact_warmth_below_threshold", "contacts"),
    ("contact_imported", "contacts"),
    ("contact_created", "contacts"),
    ("contact_viewed", "contacts"),
    ("interaction_created", "contacts"),
    ("message_sent", "feature_usage"),
    ("message_template_used", "feature_usage"),
    ("contact_searched", "feature_usage"),
    ("filter_applied", "feature_usage"),
    ("export_data", "feature_usage"),
    ("reminder_set", "feature_usage"),
    ("voice_note_recorded", "feature_usage"),
    ("app_opened", "app"),
    ("app_backgrounded", "app"),
    ("screen_viewed", "app"),
    ("user_logged_in", "app"),
    ("user_logged_out", "app"),
    ("push_notification_received", "app"),
    ("push_notification_opened", "app"),
    ("settings_changed", "app"),
    ("password_reset_requested", "app"),
    ("password_reset_completed", "app"),
)
EVENT_NAMES = tuple(name for name, _ in EVENT_TAXONOMY)
FUNNEL_STEPS = (
    "signup_started",
    "signup_completed",
    "onboarding_completed",
    "aha_reached",
    "trial_started",
    "purchase_succeeded",
)
FEEDBACK_EVENTS = ("response_copied", "response_liked", "response_disliked")
PAYWALL_PLACEMENTS = ("onboarding", "feature_gate", "ai_limit", "settings", "home_banner",
                      "trial_ending")  # fmt: skip
TRIAL_DAYS = 7

APP_EVENT_COLUMNS = ("id", "event_name", "user_id", "anonymous_id", "occurred_at", "context",
                     "properties", "created_at")  # fmt: skip
PROMPT_COLUMNS = ("prompt_id", "user_id", "session_id", "contact_id", "text", "model",
                  "temperature", "tags", "created_at")  # fmt: skip
RESPONSE_COLUMNS = ("response_id", "prompt_id", "user_id", "model", "text", "tokens_out",
                    "finish_reason", "cost_usd", "latency_ms", "created_at")  # fmt: skip

_DDL = """
create table if not exists {app_events} (
    ingest_seq bigserial primary key,
    id text not null,
    event_name text not null,
    user_id text,
    anonymous_id text,
    occurred_at timestamptz,
    context jsonb,
    properties jsonb,
    created_at timestamptz not null default now()
);
create index if not exists {app_events_idx} on {app_events} (created_at);
create table if not exists {prompts} (
    prompt_id text primary key,
    user_id text not null,
    session_id text,
    contact_id text,
    text text,
    model text,
    temperature numeric(3, 2),
    tags text[],
    created_at timestamptz not null default now()
);
create index if not exists {prompts_idx} on {prompts} (created_at);
create table if not exists {responses} (
    response_id text primary key,
    prompt_id text not null,
    user_id text not null,
    model text not null,
    text text,
    tokens_out integer,
    finish_reason text,
    cost_usd numeric(12, 6),
    latency_ms integer,
    created_at timestamptz not null default now()
);
create index if not exists {responses_idx} on {responses} (created_at);
"""

# --- rhythm, people, devices ------------------------------------------------------------
_WEEKDAY_HOURS = [5, 3, 2, 1, 1, 1, 2, 3, 5, 6, 7, 8, 9, 9, 10, 11, 12, 14, 16, 17, 17, 15, 11, 7]
_WEEKEND_HOURS = [7, 5, 3, 2, 1, 1, 1, 2, 3, 5, 7, 9, 10, 11, 11, 11, 11, 12, 13, 14, 13, 11, 9, 8]
_WEEKDAY_LEVEL = (1.0, 1.03, 1.04, 1.02, 0.95, 0.8, 0.83)  # Monday … Sunday
_NEW_VISITOR_SHARE = 0.22  # sessions of people who just installed the app
_LEAD_RETURN_SHARE = 0.05  # sessions of anonymous people coming back to finish signing up
_AVG_SESSION = 10

_COUNTRIES = (("US", 40), ("GB", 10), ("CA", 7), ("AU", 5), ("DE", 5), ("IN", 6), ("FR", 4),
              ("BR", 4), ("NL", 3), ("ES", 3), ("MX", 3), ("NG", 3), ("IE", 2), ("SE", 2),
              ("JP", 2), ("ZA", 1))  # fmt: skip
_DEVICES = (  # device, os, weight
    ("iPhone15,2", "iOS 17.4", 18), ("iPhone14,5", "iOS 17.3", 14), ("iPhone16,1", "iOS 17.5", 10),
    ("iPhone13,2", "iOS 16.7", 7), ("iPad13,4", "iPadOS 17.4", 3),
    ("Pixel 8", "Android 14", 8), ("SM-S918B", "Android 14", 9), ("SM-A546B", "Android 13", 7),
    ("Pixel 6a", "Android 13", 4), ("moto g54", "Android 13", 3), ("web", "macOS 14.4", 6),
    ("web", "Windows 11", 5),
)  # fmt: skip
_APP_VERSIONS = (("2.14.1", 45), ("2.14.0", 20), ("2.13.3", 18), ("2.12.0", 10), ("2.15.0-beta", 7))
_MODELS = (  # model, weight, $ per 1M input tokens, $ per 1M output tokens, ms per token
    ("gpt-4o-mini", 48, 0.15, 0.60, 9),
    ("claude-3-haiku", 24, 0.25, 1.25, 8),
    ("llama-3-70b", 16, 0.59, 0.79, 12),
    ("gpt-4o", 12, 2.50, 10.00, 18),
)
_FINISH = (("stop", 90), ("length", 7), ("content_filter", 3))
_MALFORMED_KINDS = (("missing_time", 25), ("future", 20), ("unknown_name", 30), ("bad_type", 25))

_FIRST = ("maria", "james", "aisha", "chen", "olivia", "diego", "fatima", "liam", "noah", "priya",
          "sofia", "kwame", "emma", "lucas", "yuki", "hannah")  # fmt: skip
_LAST = ("johnson", "okafor", "garcia", "li", "smith", "patel", "müller", "rossi", "kim", "silva",
         "brown", "dubois", "nguyen", "cohen")  # fmt: skip
_MAIL_DOMAINS = ("gmail.com", "outlook.com", "icloud.com", "yahoo.com", "proton.me", "acme.io")
_PHONE_PREFIX = {"US": "+1", "CA": "+1", "GB": "+44", "AU": "+61", "DE": "+49", "IN": "+91",
                 "FR": "+33", "BR": "+55", "MX": "+52", "NG": "+234"}  # fmt: skip
_PLACES = ("a conference", "my cousin's wedding", "the gym", "a startup meetup", "college",
           "my last job", "a dinner party", "the school gate")  # fmt: skip
_GOALS = ("check in after a few months", "congratulate on a new job", "ask for an intro",
          "apologise for missing the call", "invite to coffee next week", "wish a happy birthday",
          "follow up on the proposal", "thank for the referral")  # fmt: skip
_PROMPTS = (
    "Write a warm message to {name} (we met at {place}) to {goal}.",
    "Help me {goal} with {name}. Keep it short and casual.",
    "Draft a text for {name} to {goal}; we haven't talked since {place}.",
    "Summarize my last conversation with {name} and suggest how to {goal}.",
    "Rewrite this more warmly: 'Hi {name}, long time. Want to {goal}?'",
)
_OPENERS = ("Hey {name}!", "Hi {name},", "Hello {name} -", "{name}! Long time.")
_BODIES = (
    "It's been way too long since {place} - I keep thinking about our chat.",
    "I saw something today that reminded me of you and wanted to reach out.",
    "Hope things are going well on your side; I'd love to catch up properly.",
    "Congrats on the news, that's huge and well deserved!",
    "No pressure at all, just wanted you to know I'm thinking of you.",
)
_CLOSERS = ("Coffee next week?", "Talk soon!", "Let me know what works for you.", "Cheers!")
_SCREENS = ("home", "contacts", "contact_detail", "compose", "history", "settings", "insights")
_PII_TEXTS = (
    "you can reach {name} at {email}",
    "my number is {phone}, text me",
    "send it to {email} or call {phone}",
)


class _Picker:
    """Weighted choice from cumulative weights (cheaper than rng.choices per call)."""

    def __init__(self, items: Sequence[tuple]):
        self.values = [item[0] if len(item) == 2 else item[:-1] for item in items]
        self.cum = list(accumulate(item[-1] for item in items))

    def __call__(self, rng: random.Random):
        return self.values[bisect_right(self.cum, rng.random() * self.cum[-1])]


_pick_country = _Picker(_COUNTRIES)
_pick_device = _Picker(_DEVICES)
_pick_version = _Picker(_APP_VERSIONS)
_pick_model = _Picker([(m[0], m[1]) for m in _MODELS])
_pick_finish = _Picker(_FINISH)
_pick_malformed = _Picker(_MALFORMED_KINDS)
_HOURS = (_Picker(list(enumerate(_WEEKDAY_HOURS))), _Picker(list(enumerate(_WEEKEND_HOURS))))
_MODEL_PRICES = {m[0]: m[2:] for m in _MODELS}
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
# ids never hold what the staging PII rules take for a phone number
_PHONE_LIKE = re.compile(r"[0-9][0-9 ().-]{7,}[0-9]")
_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"
_EPOCH = datetime(1970, 1, 1)


@lru_cache(maxsize=1 << 17)
def _minute(minute: int) -> str:
    return (_EPOCH + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M")


def _ts(ms: int) -> str:
    minute, rest = divmod(ms, MIN)
    return f"{_minute(minute)}:{rest // SEC:02d}.{rest % SEC:03d}+00"


def _uuid(rng: random.Random) -> str:
    while True:
        h = f"{rng.getrandbits(128):032x}"
        u = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"
        if not _PHONE_LIKE.search(u):
            return u


def _short_id(rng: random.Random, prefix: str) -> str:
    while True:
        n, chars = rng.getrandbits(104), []
        for _ in range(20):
            n, r = divmod(n, 36)
            chars.append(_ALNUM[r])
        s = "".join(chars)
        if not _PHONE_LIKE.search(s):
            return prefix + s


def _lognormal(rng: random.Random, median: float, sigma: float, lo: int, hi: int) -> int:
    return min(hi, max(lo, int(median * math.exp(sigma * rng.gauss()))))


def _weekday(day_ms: int) -> int:
    return (day_ms // DAY + 3) % 7  # 1970-01-01 was a Thursday


def _typo(rng: random.Random, name: str) -> str:
    i = rng.randrange(1, len(name) - 1)
    variants = (
        name[:i] + name[i] + name[i:],
        "".join(part.capitalize() for part in name.split("_")),
        name.replace("_", "."),
        name.upper(),
        name + "_v2",
    )
    typo = rng.choice(variants)
    return typo if typo not in EVENT_NAMES else name + "_legacy"


class _Person:
    __slots__ = ("anon", "user_id", "country", "context", "done", "plan", "trial_end", "paid_at",
                 "had_trial", "contacts", "signup_at")  # fmt: skip

    def __init__(self, anon: str, country: str, context: dict):
        self.anon, self.user_id, self.country, self.context = anon, None, country, context
        self.done: set[str] = set()
        self.plan, self.trial_end, self.paid_at, self.had_trial = "free", 0, 0, False
        self.contacts: list[str] = []
        self.signup_at = 0


@dataclass(frozen=True)
class EverReachSimulation:
    """What was written. `events` counts `app_events` rows (deliveries); the mess counts
    distinct event ids, except `duplicates`, the extra deliveries."""

    events: int
    duplicates: int
    late: int
    malformed: int
    pii: int
    prompts: int
    responses: int
    signups: int
    sessions: int
    days: int
    start: date
    end: date

    def describe(self) -> str:
        return (
            f"simulated {self.events:,} EverReach events ({self.duplicates:,} delivered twice, "
            f"{self.late:,} late, {self.malformed:,} malformed), {self.prompts:,} prompts, "
            f"{self.responses:,} responses, {self.signups:,} signups"
        )


class _Generator:
    def __init__(self, rng: random.Random, per_day: int, cutoff: int, shares: dict[str, float]):
        self.rng, self.cutoff, self.shares = rng, cutoff, shares
        self.counts = dict.fromkeys(("duplicates", "late", "malformed", "pii", "signups",
                                     "sessions"), 0)  # fmt: skip
        self.pending: list[tuple] = []  # (arrival ms, table index, row)
        self.leads: list[_Person] = []  # anonymous people who started but did not sign up
        # people who signed up before the window: their funnel is behind them
        self.users = [self.existing_user() for _ in range(max(40, per_day // 30))]

    # --- people ------------------------------------------------------------------------
    def new_person(self) -> _Person:
        rng = self.rng
        device, os_ = _pick_device(rng)
        country = _pick_country(rng)
        # seed 003's collector: platform, app_build, device_model (plus where they are)
        context = {"platform": os_, "app_build": _pick_version(rng), "device_model": device,
                   "country": country, "locale": "en-" + country}  # fmt: skip
        return _Person(_uuid(rng), country, context)

    def existing_user(self) -> _Person:
        rng = self.rng
        p = self.new_person()
        p.user_id = _uuid(rng)
        p.done.update(FUNNEL_STEPS[:4])
        if rng.random() < 0.25:
            p.plan, p.paid_at, p.had_trial = "paid", 1, True
        else:
            p.had_trial = rng.random() < 0.5
        p.contacts = [_short_id(rng, "ct_") for _ in range(1 + int(rng.expovariate(1 / 8)))]
        return p

    def zipf(self, pool: list):
        return pool[int(len(pool) * self.rng.random() ** 2.0)]

    # --- events --------------------------------------------------------------------------
    def emit(self, t: int, name: str, p: _Person, props: dict) -> None:
        """An event happened at t: deliver it (latency, mess) unless it arrives too late."""
        rng, shares = self.rng, self.shares
        occurred: int | None = t
        created = t + _lognormal(rng, 350, 1.0, 5, 30 * SEC)
        if rng.random() < 0.02:  # offline queue flushed when the phone reconnects
            created += _lognormal(rng, 25 * MIN, 1.2, MIN, 8 * HOUR)
        pii = rng.random() < shares["pii"]
        if pii:
            self.add_pii(name, p, props)
        props_text = ctx_text = None
        kind = None
        r = rng.random()
        if r < shares["malformed"]:
            kind = "malformed"
            occurred, name, props_text, ctx_text = self.malform(t, created, name, p, props)
        elif r < shares["malformed"] + shares["late"]:
            kind = "late"
            created = t + rng.randrange(DAY, 5 * DAY)
        if created >= self.cutoff:
            return
        if kind:
            self.counts[kind] += 1
        self.counts["pii"] += pii
        if props_text is None:
            props_text = _dumps(props)
        if ctx_text is None:
            ctx_text = _dumps(p.context)
        row = [_uuid(rng), name, p.user_id, p.anon, None if occurred is None else _ts(occurred),
               ctx_text, props_text, _ts(created)]  # fmt: skip
        self.pending.append((created, 0, row))
        if rng.random() < shares["duplicates"]:  # the client retried: same event again
            again = created + _lognormal(rng, 20 * SEC, 1.3, SEC, 15 * MIN)
            if again < self.cutoff:
                self.counts["duplicates"] += 1
                self.pending.append((again, 0, [*row[:-1], _ts(again)]))

    def malform(self, t: int, created: int, name: str, p: _Person, props: dict):
        """(occurred_at ms or None, event name, properties text, context text)."""
        rng = self.rng
        kind = _pick_malformed(rng)
        if kind == "missing_time":
            return None, name, None, None
        if kind == "future":  # a phone whose clock is days or months ahead
            return created + 2 * DAY + rng.randrange(HOUR, 90 * DAY), name, None, None
        if kind == "unknown_name":
            return t, _typo(rng, name), None, None
        if "placement" in props:
            props["placement"] = rng.choice((3, ["paywall", "v2"], True))
        elif "response_id" in props and rng.random() < 0.7:
            props["response_id"] = rng.choice((12345, {"id": props["response_id"]}))
        elif rng.random() < 0.5:
            return t, name, None, _dumps(_dumps(p.context))
        else:
            return t, name, _dumps(_dumps(props)), None
        return t, name, None, None

    def email(self) -> str:
        rng = self.rng
        return (f"{rng.choice(_FIRST)}.{rng.choice(_LAST).replace('ü', 'u')}{rng.randrange(100)}"
                f"@{rng.choice(_MAIL_DOMAINS)}")  # fmt: skip

    def phone(self, country: str) -> str:
        rng = self.rng
        prefix = _PHONE_PREFIX.get(country, "+1")
        a, b, c = rng.randrange(200, 999), rng.randrange(100, 999), rng.randrange(10**4)
        return f"{prefix} {a} {b} {c:04d}"

    def pii_text(self, country: str) -> str:
        name = self.rng.choice(_FIRST).capitalize()
        return self.rng.choice(_PII_TEXTS).format(
            name=name, email=self.email(), phone=self.phone(country)
        )

    def add_pii(self, name: str, p: _Person, props: dict) -> None:
        rng = self.rng
        if name in ("signup_completed", "signup_started", "password_reset_requested"):
            props["email"] = self.email()
        elif name in ("contact_created", "contact_imported", "first_contact_created"):
            if rng.random() < 0.5:
                props["phone"] = self.phone(p.country)
            else:
                props["contact_email"] = self.email()
        else:
            props["note"] = self.pii_text(p.country)

    # --- AI --------------------------------------------------------------------------------
    def prompt_text(self, p: _Person) -> str:
        rng = self.rng
        name = rng.choice(_FIRST).capitalize()
        text = rng.choice(_PROMPTS).format(name=name, place=rng.choice(_PLACES),
                                           goal=rng.choice(_GOALS))  # fmt: skip
        if rng.random() < self.shares["pii"] * 4:
            text += " Also, " + self.pii_text(p.country) + "."
        if rng.random() < 0.01:  # a pasted email thread
            thread = " ".join(rng.choice(_BODIES).format(place=rng.choice(_PLACES))
                              for _ in range(12))  # fmt: skip
            text += "\n\nContext:\n" + "\n> ".join([thread] * rng.randrange(6, 14))
        return text

    def response_text(self, prompt: str, tokens: int) -> str:
        rng = self.rng
        name = rng.choice(_FIRST).capitalize()
        parts = [rng.choice(_OPENERS).format(name=name)]
        for _ in range(1 + tokens // 60):
            parts.append(rng.choice(_BODIES).format(place=rng.choice(_PLACES)))
            if len(parts) > 200:
                break
        parts.append(rng.choice(_CLOSERS))
        text = " ".join(parts)
        if "@" in prompt and rng.random() < 0.5:  # the model echoes the address it was given
            found = re.search(r"\S+@\S+\.[a-z]+", prompt)
            if found:
                text += f" (sent to {found.group(0)})"
        return text

    def ask_ai(self, t: int, p: _Person, session_id: str) -> int:
        """prompt → response → render → feedback; returns when the user moved on."""
        rng = self.rng
        model = _pick_model(rng)
        prompt_id = _short_id(rng, "pr_")
        contact = rng.choice(p.contacts) if p.contacts and rng.random() < 0.8 else None
        text = self.prompt_text(p)
        temperature = rng.choice((0.2, 0.5, 0.7, 0.7, 0.9))
        tags = rng.sample(("followup", "birthday", "intro", "thanks", "work", "family"),
                          rng.randrange(0, 3))  # fmt: skip
        self.emit(t, "prompt_submitted", p, {"prompt_id": prompt_id, "model": model,
                                             "session_id": session_id})  # fmt: skip
        prompt_created = t + rng.randrange(20, 400)
        if prompt_created < self.cutoff:
            row = [prompt_id, p.user_id, session_id, contact, text, model, temperature, tags,
                   _ts(prompt_created)]  # fmt: skip
            self.pending.append((prompt_created, 1, row))
        if rng.random() < 0.02:
            t += _lognormal(rng, 8 * SEC, 0.8, SEC, 60 * SEC)
            self.emit(t, "ai_request_failed", p, {"prompt_id": prompt_id, "model": model,
                                                  "error": "upstream_timeout"})  # fmt: skip
            return t
        in_price, out_price, ms_per_token = _MODEL_PRICES[model]
        finish = _pick_finish(rng)
        tokens = 1024 if finish == "length" else _lognormal(rng, 180, 0.6, 12, 1023)
        if finish == "content_filter":
            tokens = rng.randrange(0, 20)
        latency = _lognormal(rng, 350 + ms_per_token * tokens, 0.35, 120, 60_000)
        tokens_in = 60 + len(text) // 4
        cost = round((tokens_in * in_price + tokens * out_price) / 1e6, 6)
        response_id = _short_id(rng, "rs_")
        answered = prompt_created + latency
        rtext = self.response_text(text, tokens)
        if rng.random() < 0.005:  # a runaway answer
            rtext = (rtext + "\n") * (5000 // max(1, len(rtext)) + 2)
        if answered < self.cutoff:
            row = [response_id, prompt_id, p.user_id, model, rtext, tokens, finish,
                   f"{cost:.6f}", latency, _ts(answered)]  # fmt: skip
            self.pending.append((answered, 2, row))
        t = answered + rng.randrange(5, 80)
        props = {"response_id": response_id, "prompt_id": prompt_id, "model": model,
                 "tokens_out": tokens, "latency_ms": latency}  # fmt: skip
        self.emit(t, "ai_response_generated", p, props)
        t += rng.randrange(50, 400)
        self.emit(t, "response_rendered", p, {"response_id": response_id})
        quality = rng.random() - (0.15 if finish != "stop" else 0) + (0.05 if tokens < 400 else 0)
        dwell = t + _lognormal(rng, 9 * SEC, 0.9, 400, 10 * MIN)
        if rng.random() < 0.04:  # found it again in the history, hours or days later
            dwell += _lognormal(rng, 20 * HOUR, 0.8, HOUR, 6 * DAY)
        acted = False
        if quality > 0.5 and rng.random() < 0.6:
            for _ in range(1 + (rng.random() < 0.12)):
                self.emit(dwell, "response_copied", p, {"response_id": response_id})
                dwell += _lognormal(rng, 4 * SEC, 0.8, 300, 5 * MIN)
            acted = True
        if quality > 0.55 and rng.random() < 0.35:
            self.emit(dwell, "response_liked", p, {"response_id": response_id})
            dwell += rng.randrange(300, 5 * SEC)
            acted = True
        elif quality < 0.2 and rng.random() < 0.5:
            reason = rng.choice(("tone", "wrong", "too_long"))
            self.emit(dwell, "response_disliked", p, {"response_id": response_id, "reason": reason})
            dwell += rng.randrange(300, 5 * SEC)
            acted = True
            if rng.random() < 0.5:
                self.emit(dwell, "response_regenerated", p, {"response_id": response_id})
        if acted and rng.random() < 0.4:
            self.emit(dwell + rng.randrange(2 * SEC, 40 * SEC), "message_sent", p,
                      {"channel": rng.choice(("sms", "whatsapp", "email", "imessage")),
                       "from_ai": True})  # fmt: skip
        return min(dwell, t + 2 * MIN)

    # --- funnel, paywall, trial --------------------------------------------------------
    def gap(self, t: int, median_s: float = 12) -> int:
        return t + _lognormal(self.rng, median_s * SEC, 0.9, 500, 15 * MIN)

    def step(self, t: int, name: str, p: _Person, props: dict | None = None) -> int:
        self.emit(t, name, p, props or {})
        if name in FUNNEL_STEPS:
            p.done.add(name)
        return self.gap(t)

    def sign_up(self, t: int, p: _Person) -> int:
        rng = self.rng
        p.user_id = _uuid(rng)
        p.signup_at = t
        self.counts["signups"] += 1
        self.users.append(p)
        t = self.step(t, "signup_completed", p, {"method": rng.choice(("email", "apple",
                                                                       "google"))})  # fmt: skip
        return t

    def onboarding(self, t: int, p: _Person) -> int:
        rng = self.rng
        aha_first = rng.random() < 0.1  # wrote to a contact before finishing the questions
        t = self.step(t, "onboarding_started", p)
        for q in range(rng.randrange(1, 5)):
            t = self.step(t, "onboarding_question_answered", p, {"question": f"q{q + 1}"})
        if aha_first:
            t = self.first_contact_and_aha(t, p, 1.0)
        if rng.random() < 0.72:
            t = self.step(t, "onboarding_completed", p)
        else:
            t = self.step(t, "onboarding_skipped", p)
        if not aha_first and rng.random() < 0.75:
            t = self.first_contact_and_aha(t, p, 0.6 if "onboarding_completed" in p.done else 0.25)
        return t

    def first_contact_and_aha(self, t: int, p: _Person, aha_share: float) -> int:
        rng = self.rng
        contact = _short_id(rng, "ct_")
        p.contacts.append(contact)
        t = self.step(t, "first_contact_created", p, {"contact_id": contact})
        if rng.random() < aha_share:
            t = self.ask_ai(t, p, _short_id(rng, "ss_"))
            t = self.step(t, "aha_reached", p, {"trigger": "first_ai_message"})
        return t

    def paywall(self, t: int, p: _Person, placement: str) -> int:
        """paywall_shown → trial, purchase or dismissal."""
        rng = self.rng
        offering = rng.choice(("monthly", "annual"))
        t = self.step(t, "paywall_shown", p, {"placement": placement, "offering": offering})
        trial_odds = {"onboarding": 0.45, "feature_gate": 0.12, "ai_limit": 0.15}.get(
            placement, 0.05
        )
        buy_odds = {"trial_ending": 0.5, "ai_limit": 0.1, "feature_gate": 0.07}.get(placement, 0.03)
        r = rng.random()
        if not p.had_trial and r < trial_odds:
            return self.start_trial(t, p)
        if r < trial_odds + buy_odds:
            return self.purchase(t, p, placement)
        return self.step(t, "paywall_dismissed", p, {"placement": placement})

    def purchase(self, t: int, p: _Person, placement: str) -> int:
        rng = self.rng
        product = rng.choice(("everreach_pro_monthly", "everreach_pro_monthly",
                              "everreach_pro_annual"))  # fmt: skip
        t = self.step(t, "purchase_attempted", p, {"product_id": product, "placement": placement})
        t += _lognormal(self.rng, 20 * SEC, 0.6, 3 * SEC, 5 * MIN)
        if rng.random() < 0.85:
            price = 9.99 if product.endswith("monthly") else 79.99
            t = self.step(t, "purchase_succeeded", p, {"product_id": product, "price_usd": price,
                                                       "currency": "USD"})  # fmt: skip
            p.plan, p.paid_at = "paid", t
            return self.step(t, "entitlement_refreshed", p, {"entitlement": "pro"})
        error = rng.choice(("card_declined", "user_cancelled"))
        return self.step(t, "purchase_failed", p, {"product_id": product, "error": error})

    def start_trial(self, t: int, p: _Person) -> int:
        """The trial's whole life is decided now: it converts on a later day or expires."""
        rng = self.rng
        p.plan, p.had_trial = "trial", True
        p.trial_end = t + TRIAL_DAYS * DAY
        t = self.step(t, "trial_started", p, {"trial_days": TRIAL_DAYS})
        if rng.random() < 0.32:
            later = t + rng.randrange(HOUR, TRIAL_DAYS * DAY)
            later = self.paywall_then_buy(later, p)
        else:
            end = p.trial_end
            if rng.random() < 0.08:
                self.emit(end - rng.randrange(HOUR, DAY), "trial_extended", p, {"extra_days": 3})
                end += 3 * DAY
            self.emit(end, "trial_expired", p, {"trial_days": TRIAL_DAYS})
            if rng.random() < 0.06:  # comes back after the trial ran out and buys
                self.paywall_then_buy(end + rng.randrange(HOUR, 10 * DAY), p)
        return t

    def paywall_then_buy(self, t: int, p: _Person) -> int:
        t = self.step(t, "paywall_shown", p, {"placement": "trial_ending", "offering": "monthly"})
        return self.purchase(t, p, "trial_ending")

    # --- sessions ----------------------------------------------------------------------
    def new_visitor(self, t: int) -> None:
        rng = self.rng
        p = self.new_person()
        t = self.step(t, "app_opened", p, {"first_open": True})
        t = self.step(t, "screen_viewed", p, {"screen": "welcome"})
        if rng.random() >= 0.78:
            self.step(t, "app_backgrounded", p)
            return
        t = self.step(t, "signup_started", p, {"method": rng.choice(("email", "apple", "google"))})
        if rng.random() >= 0.72:
            if rng.random() < 0.4:
                self.leads.append(p)
            return
        self.finish_signup(t, p)

    def finish_signup(self, t: int, p: _Person) -> None:
        rng = self.rng
        t = self.sign_up(t, p)
        if rng.random() < 0.85:
            t = self.onboarding(t, p)
        elif rng.random() < 0.5:  # skipped the questions, went straight to the assistant
            t = self.first_contact_and_aha(t, p, 0.5)
        if rng.random() < 0.8:
            t = self.paywall(t, p, "onboarding")
        self.step(t, "app_backgrounded", p)

    def returning_lead(self, t: int) -> None:
        rng = self.rng
        p = self.leads.pop(rng.randrange(len(self.leads)))
        t = self.step(t, "app_opened", p, {"first_open": False})
        if rng.random() < 0.3:  # starts over
            t = self.step(t, "signup_started", p, {"method": "email"})
        self.finish_signup(t, p)

    def returning_user(self, t: int, session_id: str) -> None:
        rng = self.rng
        p = self.zipf(self.users)
        t = self.step(t, "app_opened", p, {"first_open": False})
        if rng.random() < 0.05:
            t = self.step(t, "user_logged_in", p, {"method": rng.choice(("password", "apple"))})
        if p.plan == "paid" and rng.random() < 0.3:
            t = self.step(t, "entitlement_refreshed", p, {"entitlement": "pro"})
        # unfinished onboarding steps, days later (in any order, as people really do)
        for name, share in (("onboarding_completed", 0.12), ("aha_reached", 0.15)):
            if name not in p.done and rng.random() < share:
                t = self.step(t, name, p, {"late": True})
        for _ in range(int(rng.expovariate(1 / 4))):
            r = rng.random()
            if r < 0.4:
                t = self.ask_ai(t, p, session_id)
            elif r < 0.55:
                t = self.step(t, "screen_viewed", p, {"screen": rng.choice(_SCREENS)})
            elif r < 0.65:
                contact = _short_id(rng, "ct_")
                p.contacts.append(contact)
                kind = "contact_created" if rng.random() < 0.7 else "contact_imported"
                t = self.step(t, kind, p, {"contact_id": contact, "source": "manual"})
            elif r < 0.75 and p.contacts:
                contact = rng.choice(p.contacts)
                t = self.step(t, "contact_viewed", p, {"contact_id": contact})
                if rng.random() < 0.4:
                    warmth = rng.randrange(0, 100)
                    t = self.step(t, "contact_warmth_changed", p,
                                  {"contact_id": contact, "warmth": warmth})  # fmt: skip
                    if warmth < 25:
                        t = self.step(t, "contact_warmth_below_threshold", p,
                                      {"contact_id": contact, "warmth": warmth})  # fmt: skip
            elif r < 0.82:
                t = self.step(t, rng.choice(("contact_searched", "filter_applied")), p,
                              {"results": rng.randrange(0, 50)})  # fmt: skip
            elif r < 0.88:
                t = self.step(t, rng.choice(("message_template_used", "reminder_set",
                                             "interaction_created", "voice_note_recorded")), p,
                              {})  # fmt: skip
            elif r < 0.9:
                t = self.step(t, rng.choice(("settings_changed", "export_data")), p, {})
            elif p.plan != "paid" and (p.plan != "trial" or t > p.trial_end):
                feature = rng.choice(("ai_compose", "bulk_import"))
                t = self.step(t, "feature_blocked", p, {"feature": feature})
                t = self.paywall(t, p, rng.choice(("feature_gate", "ai_limit")))
        if p.plan != "paid" and rng.random() < 0.05:
            t = self.paywall(t, p, rng.choice(("settings", "home_banner")))
        r = rng.random()
        if p.plan == "paid" and r < 0.01:
            t = self.step(t, "subscription_cancelled", p, {"reason": "too_expensive"})
        elif p.plan == "paid" and r < 0.03:
            t = self.step(t, "subscription_renewed", p, {"product_id": "everreach_pro_monthly"})
        elif r < 0.035:
            t = self.step(t, "purchase_restored", p, {"entitlement": "pro"})
        elif r < 0.04:
            t = self.step(t, "password_reset_requested", p, {})
            t = self.step(t + 2 * MIN, "password_reset_completed", p, {})
        elif r < 0.06:
            t = self.step(t, "user_logged_out", p, {})
        self.step(t, "app_backgrounded", p)

    def session(self, t: int) -> None:
        rng = self.rng
        self.counts["sessions"] += 1
        r = rng.random()
        if r < _NEW_VISITOR_SHARE:
            self.new_visitor(t)
        elif r < _NEW_VISITOR_SHARE + _LEAD_RETURN_SHARE and self.leads:
            self.returning_lead(t)
        else:
            if rng.random() < 0.08:
                p = self.zipf(self.users)
                self.emit(t, "push_notification_received", p, {"campaign": "warmth_reminder"})
                t += rng.randrange(1, 30) * SEC
                self.emit(t, "push_notification_opened", p, {"campaign": "warmth_reminder"})
                t += rng.randrange(1, 5) * SEC
            self.returning_user(t, _short_id(rng, "ss_"))

    def day(self, day_ms: int, target: int) -> None:
        rng = self.rng
        hours = _HOURS[_weekday(day_ms) >= 5]
        sessions = max(1, target // _AVG_SESSION)
        for _ in range(sessions):
            t = day_ms + hours(rng) * HOUR + rng.randrange(HOUR)
            if t < self.cutoff:
                self.session(t)

    def arrived_before(self, bound: int) -> list[tuple]:
        ready = [x for x in self.pending if x[0] < bound]
        self.pending = [x for x in self.pending if x[0] >= bound]
        ready.sort(key=lambda x: x[0])
        return ready


def _day_targets(rng: random.Random, days: int, start_ms: int, per_day: int) -> list[int]:
    weights = [
        _WEEKDAY_LEVEL[_weekday(start_ms + i * DAY)] * (1 + 0.005 * i) * rng.uniform(0.9, 1.1)
        for i in range(days)
    ]
    scale = per_day * days / sum(weights)
    return [round(w * scale) for w in weights]


def _tables(schema: str | None) -> dict[str, sql.Composable]:
    def name(table: str) -> sql.Identifier:
        return sql.Identifier(schema, table) if schema else sql.Identifier(table)

    return {
        "app_events": name("app_events"),
        "prompts": name("prompts"),
        "responses": name("responses"),
        # index names are never schema-qualified
        "app_events_idx": sql.Identifier("app_events_created_at_idx"),
        "prompts_idx": sql.Identifier("prompts_created_at_idx"),
        "responses_idx": sql.Identifier("responses_created_at_idx"),
    }


def create_tables(conn: psycopg.Connection, schema: str | None = None) -> None:
    """Create `app_events`, `prompts` and `responses` (in `schema`, default: the search
    path's) if missing. Does not commit."""
    if schema:
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL(_DDL).format(**_tables(schema)))


def simulate_everreach(
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
) -> EverReachSimulation:
    """Create the tables if needed, write ~`events_per_day` app events per UTC day (with
    their prompts and responses), commit. Deterministic for a seed and a past `end`
    (default: today UTC, up to now). `progress(days_done, days)` after each day."""
    start, end, start_ms, cutoff = clock.window(end, days)
    rng = random.Random(seed)
    shares = {"duplicates": duplicate_share, "late": late_share, "pii": pii_share,
              "malformed": malformed_share}  # fmt: skip
    gen = _Generator(rng, events_per_day, cutoff, shares)
    targets = _day_targets(rng, days, start_ms, events_per_day)
    tables = _tables(schema)
    create_tables(conn, schema)
    if reset:
        conn.execute(
            sql.SQL("truncate {}, {}, {} restart identity").format(
                tables["app_events"], tables["prompts"], tables["responses"]
            )
        )
    written = [0, 0, 0]
    targets_columns = (("app_events", APP_EVENT_COLUMNS), ("prompts", PROMPT_COLUMNS),
                       ("responses", RESPONSE_COLUMNS))  # fmt: skip
    for i, target in enumerate(targets):
        day_ms = start_ms + i * DAY
        gen.day(day_ms, target)
        ready = gen.arrived_before(day_ms + DAY if i < days - 1 else cutoff)
        for k, (table, columns) in enumerate(targets_columns):
            written[k] += copy_rows(
                conn, tables[table], columns, (r for _, j, r in ready if j == k)
            )
        if progress:
            progress(i + 1, days)
    conn.commit()
    c = gen.counts
    return EverReachSimulation(
        events=written[0], duplicates=c["duplicates"], late=c["late"], malformed=c["malformed"],
        pii=c["pii"], prompts=written[1], responses=written[2], signups=c["signups"],
        sessions=c["sessions"], days=days, start=start, end=end,
    )  # fmt: skip
