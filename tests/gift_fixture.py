"""A dozen hand-made gifts and the marts computed from them by hand.

Dates are relative to "10 days ago" so the embed's 90-day window always holds them,
except one gift created 110 days ago that only the funnel may show.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

BASE = datetime.now(UTC).date() - timedelta(days=10)


def d(n: int) -> date:
    return BASE + timedelta(days=n)


def ts(n: int, hhmmss: str, offset: str = "Z") -> str:
    return f"{d(n).isoformat()}T{hhmmss}{offset}"


def _gift(campaign: str, value: str, **times: str) -> dict[str, str]:
    fields = {"campaign_id": campaign, "creator_address": "0xcreator", "value_usd": value}
    names = (
        "created_at",
        "viewed_at",
        "preclaim_at",
        "education_completed_at",
        "claimed_at",
        "expired_at",
        "returned_at",
    )
    return fields | {n: times.get(n, "") for n in names}


GIFTS: dict[str, dict[str, str]] = {
    # campaign A, day 0: claimed after 120 min; one claim crosses midnight; one stops at view
    "g01": _gift(
        "camp_a",
        "10.50",
        created_at=ts(0, "10:00:00"),
        viewed_at=ts(0, "11:00:00"),
        preclaim_at=ts(0, "11:30:00"),
        education_completed_at=ts(0, "11:45:00"),
        claimed_at=ts(0, "12:00:00"),
    ),
    "g02": _gift(
        "camp_a",
        "20",
        created_at=ts(0, "23:30:00"),
        viewed_at=ts(0, "23:40:00"),
        preclaim_at=ts(0, "23:50:00"),
        education_completed_at=ts(0, "23:55:00"),
        claimed_at=ts(1, "00:30:00"),
    ),
    "g03": _gift("camp_a", "5", created_at=ts(0, "15:00:00"), viewed_at=ts(0, "16:00:00")),
    # campaign B: created at exactly 00:00 UTC, empty value, claimed two days later
    "g04": _gift(
        "camp_b",
        "",
        created_at=ts(0, "00:00:00"),
        viewed_at=ts(0, "08:00:00"),
        preclaim_at=ts(0, "08:10:00"),
        claimed_at=ts(2, "00:00:00"),
    ),
    # +02:00 offset: 01:30 local on day 1 is 23:30 UTC on day 0
    "g05": _gift(
        "camp_b", "25", created_at=ts(1, "01:30:00", "+02:00"), viewed_at=ts(1, "00:10:00")
    ),
    # no campaign
    "g06": _gift(
        "",
        "10",
        created_at=ts(0, "12:00:00"),
        viewed_at=ts(0, "12:10:00"),
        preclaim_at=ts(0, "12:20:00"),
        education_completed_at=ts(0, "12:30:00"),
        claimed_at=ts(0, "12:45:00"),
    ),
    "g07": _gift("", "10", created_at=ts(0, "13:00:00"), returned_at=ts(2, "13:00:00")),
    "g08": _gift(
        "",
        "50",
        created_at=ts(1, "09:00:00"),
        viewed_at=ts(1, "09:30:00"),
        preclaim_at=ts(1, "09:40:00"),
        education_completed_at=ts(1, "09:50:00"),
        claimed_at=ts(1, "10:00:00"),
    ),
    "g09": _gift("camp_a", "10", created_at=ts(1, "23:59:59"), viewed_at=ts(2, "00:00:01")),
    "g10": _gift("camp_b", "10", created_at=ts(2, "08:00:00"), expired_at=ts(3, "08:00:00")),
    # outside the embed's 90 days
    "g13": _gift("", "1", created_at=ts(-110, "10:00:00")),
    # malformed: quarantined, never in the marts
    "g11": _gift("camp_a", "10", created_at="yesterday"),
    "g12": _gift("", "ten", created_at=ts(1, "10:00:00")),
}

QUARANTINED = {"g11", "g12"}

D = Decimal
# (date, campaign_id, created, viewed, preclaim, education, claimed, conv %, avg min, value)
FUNNEL = [
    (d(-110), None, 1, 0, 0, 0, 0, D("0.00"), None, D("1")),
    (d(0), "camp_a", 3, 3, 2, 2, 2, D("66.67"), D("90.00"), D("35.50")),
    (d(0), "camp_b", 2, 2, 1, 0, 1, D("50.00"), D("2880.00"), D("25")),
    (d(0), None, 2, 1, 1, 1, 1, D("50.00"), D("45.00"), D("20")),
    (d(1), "camp_a", 1, 1, 0, 0, 0, D("0.00"), None, D("10")),
    (d(1), None, 1, 1, 1, 1, 1, D("100.00"), D("60.00"), D("50")),
    (d(2), "camp_b", 1, 0, 0, 0, 0, D("0.00"), None, D("10")),
]

# (date, created, viewed, preclaim, education, claimed, expired, returned): each series
# on its own event date
ACTIVITY = [
    (d(-110), 1, 0, 0, 0, 0, 0, 0),
    (d(0), 7, 5, 4, 3, 2, 0, 0),
    (d(1), 2, 2, 1, 1, 2, 0, 0),
    (d(2), 1, 1, 0, 0, 1, 0, 1),
    (d(3), 0, 0, 0, 0, 0, 1, 0),
]

# (date, campaign_id, total) for the last 90 days
EMBED = [(r[0], r[1], r[2]) for r in FUNNEL if r[0] > d(10) - timedelta(days=90)]


# Seed 000's campaign counters the app keeps next to the hashes (HINCRBY as a gift reaches
# created / viewed / claimed): a step counts when its field is non-empty, valid or not.
COUNTED = {"created_at": "created", "viewed_at": "viewed", "claimed_at": "claimed"}


def counters(gifts: dict[str, dict[str, str]] = GIFTS) -> dict[tuple[str, str], int]:
    """(campaign, counter) → value the app's HINCRBYs leave for these gifts."""
    counts: dict[tuple[str, str], int] = {}
    for fields in gifts.values():
        for field, counter in COUNTED.items():
            if fields["campaign_id"] and fields.get(field):
                key = (fields["campaign_id"], counter)
                counts[key] = counts.get(key, 0) + 1
    return counts


def load(
    redis_client,
    prefix: str,
    gifts: dict[str, dict[str, str]] = GIFTS,
    counter_prefix: str | None = None,
) -> None:
    """Write gifts as the app does: one hash each, plus the dirty set, and with a
    `counter_prefix` the campaign counters `{counter_prefix}{campaign}:counters`."""
    pipe = redis_client.pipeline(transaction=False)
    for gift_id, fields in gifts.items():
        pipe.hset(f"{prefix}{gift_id}", mapping={"gift_id": gift_id, **fields})
        pipe.sadd(f"{prefix}dirty", gift_id)
    if counter_prefix is not None:
        for (campaign, counter), n in sorted(counters(gifts).items()):
            pipe.hincrby(f"{counter_prefix}{campaign}:counters", counter, n)
    pipe.execute()
