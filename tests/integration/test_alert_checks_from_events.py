"""EverReach's three alerts from the app's own rows: hand-written `app_events`, `prompts`
and `responses` (the collector's shape: event names, `properties.placement`,
`properties.response_id`) are landed with the extract-load and built with real dbt, then
each alert check runs through Dagster on the marts that came out. In one scenario every
alert's figure crosses its threshold, in the other it stays just inside it; the figures in
each result's metadata are compared with the same rules recomputed from the rows written
here (not read from staging or the marts)."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import count

import psycopg
import pytest

from dagster_project.ingest.extract_load import extract_load_system
from dagster_project.simulate.everreach import EVENT_NAMES, create_tables
from tests.conftest import PROJECT_SCHEMAS, run_dbt
from tests.integration.test_alert_checks import _run

SRC = "er_alerts"
TODAY = datetime.now(UTC).date()
DAY = TODAY - timedelta(days=1)  # the newest complete day: the one every alert judges
CTX = {
    "platform": "iOS 17.4",
    "app_build": "2.14.1",
    "device_model": "iPhone15,2",
    "country": "US",
    "locale": "en-US",
}
MARTS = ("fct_trial_conversion", "fct_paywall_conversion_daily", "fct_ai_response_quality_daily")


def at(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour), UTC) + timedelta(minutes=minute)


@dataclass
class Event:
    id: str
    name: str
    user_id: str | None
    anonymous_id: str
    occurred_at: datetime
    properties: dict
    arrived_at: datetime


@dataclass
class EverReach:
    """The app database's rows, as the app writes them."""

    events: list[Event] = field(default_factory=list)
    prompts: list[tuple] = field(default_factory=list)
    responses: list[tuple] = field(default_factory=list)
    ids: count = field(default_factory=count)

    def event(self, name: str, user: str, t: datetime, **props) -> Event:
        # arrives two seconds later; today's midnight rows at once (nothing from the future)
        arrived = t if t >= at(TODAY) else t + timedelta(seconds=2)
        e = Event(f"ev-{next(self.ids):05d}", name, user, f"a-{user}", t, props, arrived)
        self.events.append(e)
        return e

    def redeliver(self, e: Event) -> None:
        """The client retried: the same event (id, time, payload) arrives again."""
        self.events.append(Event(**{**vars(e), "arrived_at": e.arrived_at + timedelta(minutes=1)}))

    def answer(self, key: str, user: str, model: str, t: datetime) -> str:
        """A prompt and its response with the events the app sends for them."""
        prompt_id, response_id = f"pr-{key}", f"rs-{key}"
        self.event("prompt_submitted", user, t, prompt_id=prompt_id, model=model)
        self.prompts.append(
            (
                prompt_id,
                user,
                f"ss-{key}",
                None,
                "Write a warm message to Maria to invite to coffee next week.",
                model,
                0.7,
                ["followup"],
                t,
            )
        )
        done = t + timedelta(seconds=1)
        self.responses.append(
            (
                response_id,
                prompt_id,
                user,
                model,
                "Hey Maria! Coffee next week?",
                42,
                "stop",
                "0.000031",
                800,
                done,
            )
        )
        self.event(
            "ai_response_generated",
            user,
            done,
            response_id=response_id,
            prompt_id=prompt_id,
            model=model,
            tokens_out=42,
            latency_ms=800,
        )
        self.event("response_rendered", user, done + timedelta(seconds=1), response_id=response_id)
        return response_id


# --- the rows -----------------------------------------------------------------------------
def write_trials(app: EverReach, converted: int) -> None:
    """100 resolved trials in two cohorts, `converted` of them bought (one only after the
    trial had expired), 12 trials of yesterday still open, and rows that must not count."""
    buyers = set(range(0, 100, 10)[:converted])
    for i in range(100):
        user, cohort = f"u-trial-{i:03d}", DAY - timedelta(days=12 if i < 50 else 9)
        start = at(cohort, 9, i)
        if i == 1:  # bought before the trial: not a conversion
            app.event("purchase_succeeded", user, start - timedelta(days=1), price_usd=9.99)
        app.event("trial_started", user, start, trial_days=7)
        if i in buyers and i != 0:
            buy = start + timedelta(days=2)
            app.event("paywall_shown", user, buy, placement="trial_ending", offering="monthly")
            bought = app.event(
                "purchase_succeeded",
                user,
                buy + timedelta(minutes=1),
                product_id="everreach_pro_monthly",
                price_usd=9.99,
            )
            if i == 10:
                app.redeliver(bought)
            continue
        app.event("trial_expired", user, start + timedelta(days=7), trial_days=7)
        if i == 0:  # came back after the trial ran out and bought: converted
            app.event("purchase_succeeded", user, start + timedelta(days=8), price_usd=9.99)
        if i == 2:  # a second trial later: the first one is the trial
            app.event("trial_started", user, at(DAY, 7), trial_days=7)
    for i in range(12):
        app.event("trial_started", f"u-trial-open-{i:02d}", at(DAY, 8, i), trial_days=7)
    # a cohort outside the 28 days judged, and an event name the taxonomy does not know
    app.event("trial_started", "u-trial-old", at(DAY - timedelta(days=35), 9), trial_days=7)
    app.event("purchase_succeeded", "u-trial-old", at(DAY - timedelta(days=34), 9))
    app.event("Trial_Started", "u-trial-typo", at(DAY - timedelta(days=9), 9), trial_days=7)
    app.event("purchase_succeeded", "u-trial-typo", at(DAY - timedelta(days=8), 9))


PLACEMENTS = ["onboarding"] * 12 + ["feature_gate"] * 8 + ["ai_limit"] * 4 + [None]


def write_paywall(app: EverReach, one_bought: bool) -> None:
    """Yesterday 25 paywall views; the first viewer buys 23.5 h after the view or, when
    not `one_bought`, a minute before it. A day before with purchases, today's half day
    without, a redelivered view and one with a numeric placement around them."""
    for i in range(30):
        user, t = f"u-pw-old-{i:02d}", at(DAY - timedelta(days=1), 10, i)
        app.event("paywall_shown", user, t, placement="feature_gate", offering="annual")
        if i < 4:
            app.event("purchase_succeeded", user, t + timedelta(hours=2), price_usd=79.99)
    for i, placement in enumerate(PLACEMENTS):
        user, t = f"u-pw-{i:02d}", at(DAY, 0, 30 + 40 * i)
        props = {"offering": "monthly"} | ({"placement": placement} if placement else {})
        view = app.event("paywall_shown", user, t, **props)
        if i == 5:
            app.redeliver(view)
        if i == 3:  # tried and failed: no purchase
            app.event("purchase_attempted", user, t + timedelta(minutes=1), placement=placement)
            app.event("purchase_failed", user, t + timedelta(minutes=2), error="card_declined")
        if i == 0:
            bought = t + timedelta(hours=23, minutes=29) if one_bought else t - timedelta(minutes=1)
            app.event("purchase_succeeded", user, bought, price_usd=9.99)
    app.event("paywall_shown", "u-pw-bad", at(DAY, 12), placement=3)  # rejected in staging
    app.event("purchase_succeeded", "u-pw-bad", at(DAY, 12, 5), price_usd=9.99)
    app.event("purchase_succeeded", "u-pw-never-saw", at(DAY, 13), price_usd=9.99)
    for i in range(30):  # today, a half day: never judged
        app.event("paywall_shown", f"u-pw-today-{i:02d}", at(TODAY), placement="home_banner")


def write_responses(app: EverReach, disliked: int) -> None:
    """Yesterday 100 AI responses (60 gpt-4o-mini, 40 claude-3-haiku), `disliked` of them
    disliked (one twice, one only from today), with likes and copies; the day before 40 of
    50 disliked, and today's few responses all disliked."""
    bad = set(range(15)) | set(range(60, 60 + disliked - 15))
    for i in range(100):
        user, model = f"u-ai-{i % 17:02d}", "gpt-4o-mini" if i < 60 else "claude-3-haiku"
        t = at(DAY, 6, 5 * i)
        response = app.answer(f"d0-{i:03d}", user, model, t)
        react = t + timedelta(seconds=9)
        if i in bad:
            # found it again in the history today: still yesterday's response
            when = at(TODAY) if i == 61 else react
            app.event("response_disliked", user, when, response_id=response, reason="tone")
        if i == 0:
            app.event(
                "response_disliked",
                user,
                react + timedelta(seconds=5),
                response_id=response,
                reason="wrong",
            )
        if i in (20, 70):
            app.event("response_liked", user, react, response_id=response)
        if 30 <= i < 40:
            app.event("response_copied", user, react, response_id=response)
    for i in range(50):
        t = at(DAY - timedelta(days=1), 9, 5 * i)
        response = app.answer(f"d1-{i:03d}", "u-ai-old", "gpt-4o", t)
        if i < 40:
            when = at(DAY, 1) if i == 0 else t + timedelta(seconds=9)
            app.event("response_disliked", "u-ai-old", when, response_id=response, reason="wrong")
    for i in range(10):
        response = app.answer(f"t0-{i:03d}", "u-ai-today", "gpt-4o", at(TODAY))
        app.event("response_disliked", "u-ai-today", at(TODAY), response_id=response)


# --- landing and building ----------------------------------------------------------------
def land_and_build(app: EverReach) -> None:
    url = os.environ["WAREHOUSE_URL"]
    with psycopg.connect(url, autocommit=True) as admin:
        for schema in (*PROJECT_SCHEMAS, SRC):
            admin.execute(f"drop schema if exists {schema} cascade")
    with psycopg.connect(url) as src, src.cursor() as cur:
        create_tables(src, schema=SRC)
        # ingest_seq in arrival order, as the collector writes them
        cur.executemany(
            f"insert into {SRC}.app_events (id, event_name, user_id, anonymous_id, "
            "occurred_at, context, properties, created_at) values (%s, %s, %s, %s, %s, %s, "
            "%s, %s)",
            [
                (
                    e.id,
                    e.name,
                    e.user_id,
                    e.anonymous_id,
                    e.occurred_at,
                    json.dumps(CTX),
                    json.dumps(e.properties),
                    e.arrived_at,
                )
                for e in sorted(app.events, key=lambda e: e.arrived_at)
            ],
        )
        cur.executemany(f"insert into {SRC}.prompts values ({', '.join(['%s'] * 9)})", app.prompts)
        cur.executemany(
            f"insert into {SRC}.responses values ({', '.join(['%s'] * 10)})", app.responses
        )
        src.commit()
    with psycopg.connect(url) as conn:
        extract_load_system(conn, url, "everreach", schema=SRC)
    selection = [f"+{mart}" for mart in MARTS]
    run_dbt("build", "--quiet", "--select", *selection, "--exclude", "int_user_days_unioned+")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"drop schema {SRC} cascade")


@dataclass(frozen=True)
class Scenario:
    crossed: bool  # every alert's figure beyond its threshold
    converted: int  # of 100 resolved trials
    one_bought: bool  # one of yesterday's paywall views followed by a purchase
    disliked: int  # of yesterday's 100 responses
    app: EverReach


@pytest.fixture(scope="module", params=[True, False], ids=["crossed", "just_inside"])
def scenario(request) -> Scenario:
    crossed = request.param
    s = Scenario(crossed, 9 if crossed else 10, not crossed, 21 if crossed else 20, EverReach())
    write_trials(s.app, s.converted)
    write_paywall(s.app, s.one_bought)
    write_responses(s.app, s.disliked)
    land_and_build(s.app)
    return s


# --- the rules, recomputed from the rows written ------------------------------------------
def usable(app: EverReach) -> list[Event]:
    """Staging's rules: known event names, string placements and response ids, the first
    arrival of each (occurred_at, id)."""
    seen, out = set(), []
    for e in sorted(app.events, key=lambda e: e.arrived_at):
        props = (e.properties.get("placement"), e.properties.get("response_id"))
        bad = e.name not in EVENT_NAMES or any(not isinstance(p, str | None) for p in props)
        if not bad and (e.occurred_at, e.id) not in seen:
            seen.add((e.occurred_at, e.id))
            out.append(e)
    return out


def expected_trials(app: EverReach) -> dict:
    """A person's first trial converts with any purchase after it and has expired with a
    trial_expired after it; the cohorts of the 28 days up to the newest day before today."""
    events = usable(app)
    starts: dict[str, datetime] = {}
    for e in sorted(events, key=lambda e: e.occurred_at):
        if e.name == "trial_started":
            starts.setdefault(e.user_id, e.occurred_at)
    newest = max(t.date() for t in starts.values() if t.date() < TODAY)
    window = {u: t for u, t in starts.items() if newest - timedelta(days=28) < t.date() <= newest}

    def after(user: str, name: str) -> bool:
        return any(
            e.user_id == user and e.name == name and e.occurred_at > window[user] for e in events
        )

    converted = {u for u in window if after(u, "purchase_succeeded")}
    expired = {u for u in window if after(u, "trial_expired")}
    resolved = converted | expired
    return {
        "cohorts_from": str(min(t.date() for t in window.values())),
        "cohorts_to": str(newest),
        "trials_started": len(window),
        "trials_converted": len(converted),
        "trials_expired": len(expired),
        "trials_open": len(window) - len(resolved),
        "trials_resolved": len(resolved),
        "conversion_rate_pct": round(100 * len(converted) / len(resolved), 2),
    }


def expected_paywall(app: EverReach) -> dict:
    """Each view of the newest day before today converts when its viewer buys in the 24 h
    from it."""
    events = usable(app)
    newest = max(
        e.occurred_at.date()
        for e in events
        if e.name == "paywall_shown" and e.occurred_at.date() < TODAY
    )
    buys = [e for e in events if e.name == "purchase_succeeded"]
    by_placement: dict[str, Counter] = {}
    for view in (e for e in events if e.name == "paywall_shown" and e.occurred_at.date() == newest):
        placement = view.properties.get("placement") or "unknown"
        converted = any(
            b.user_id == view.user_id
            and timedelta(0) <= b.occurred_at - view.occurred_at < timedelta(hours=24)
            for b in buys
        )
        by_placement.setdefault(placement, Counter()).update(shown=1, converted=converted)
    return {
        "day": str(newest),
        "paywall_impressions": sum(c["shown"] for c in by_placement.values()),
        "converted_impressions": sum(c["converted"] for c in by_placement.values()),
        "by_placement": {
            p: {"shown": c["shown"], "converted": c["converted"]}
            for p, c in sorted(by_placement.items())
        },
    }


def expected_dislikes(app: EverReach) -> dict:
    """The responses created on the newest day before today; disliked: any dislike event
    naming the response, whenever it came."""
    disliked = {e.properties["response_id"] for e in usable(app) if e.name == "response_disliked"}
    newest = max(r[9].date() for r in app.responses if r[9].date() < TODAY)
    rows = [(r[3], r[0] in disliked) for r in app.responses if r[9].date() == newest]
    by_model = {
        model: {"responses": len(mine), "dislike_rate_pct": round(100 * sum(mine) / len(mine), 2)}
        for model in sorted({m for m, _ in rows})
        for mine in [[d for m, d in rows if m == model]]
    }
    return {
        "day": str(newest),
        "responses": len(rows),
        "disliked_responses": sum(d for _, d in rows),
        "dislike_rate_pct": round(100 * sum(d for _, d in rows) / len(rows), 2),
        "by_model": by_model,
    }


def _figures(evaluation, names) -> dict:
    return {name: evaluation.metadata[name].value for name in names}


# --- the alerts ------------------------------------------------------------------------------
def test_trial_conversion_below_ten_percent(scenario):
    want = expected_trials(scenario.app)
    # the rows say what the scenario meant: 9 or 10 of 100 resolved, 12 + 100 started
    assert (want["trials_converted"], want["trials_open"]) == (scenario.converted, 12)
    assert want["conversion_rate_pct"] == scenario.converted
    assert (want["trials_started"], want["trials_expired"]) == (112, 101 - scenario.converted)
    evaluation = _run("fct_trial_conversion", "alert_trial_conversion")
    assert evaluation.passed is not scenario.crossed, evaluation.description
    assert _figures(evaluation, want) == want
    assert f"{scenario.converted} of 100 resolved trials" in evaluation.description


def test_paywall_shown_with_no_purchase_in_24_hours(scenario):
    want = expected_paywall(scenario.app)
    assert (want["day"], want["paywall_impressions"]) == (str(DAY), 25)
    assert want["converted_impressions"] == int(scenario.one_bought)
    evaluation = _run("fct_paywall_conversion_daily", "alert_paywall_no_purchase")
    assert evaluation.passed is not scenario.crossed, evaluation.description
    assert _figures(evaluation, want) == want


def test_ai_dislike_rate_above_twenty_percent(scenario):
    want = expected_dislikes(scenario.app)
    assert (want["day"], want["responses"]) == (str(DAY), 100)
    assert want["dislike_rate_pct"] == scenario.disliked
    evaluation = _run("fct_ai_response_quality_daily", "alert_ai_dislike_rate")
    assert evaluation.passed is not scenario.crossed, evaluation.description
    assert _figures(evaluation, want) == want
