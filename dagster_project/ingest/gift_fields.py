"""How a CryptoGift Redis hash maps onto `raw.gift_analytics` and what makes a value valid.

Pure functions: no Redis, no Postgres, so every rule here is unit-tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True)
class Field:
    hash_field: str  # name in the Redis hash (seed 000)
    column: str  # column in raw.gift_analytics (seed 000)
    kind: str  # text | timestamp | integer | money


FIELDS: tuple[Field, ...] = (
    Field("token_id", "token_id", "integer"),
    Field("campaign_id", "campaign_id", "text"),
    Field("creator_address", "creator_address", "text"),
    Field("created_at", "gift_created_at", "timestamp"),
    Field("viewed_at", "gift_viewed_at", "timestamp"),
    Field("preclaim_at", "preclaim_started_at", "timestamp"),
    Field("education_completed_at", "education_completed_at", "timestamp"),
    Field("claimed_at", "gift_claimed_at", "timestamp"),
    Field("expired_at", "gift_expired_at", "timestamp"),
    Field("returned_at", "gift_returned_at", "timestamp"),
    Field("claimer_address", "claimer_address", "text"),
    Field("referrer_address", "referrer_address", "text"),
    Field("value_usd", "value_usd", "money"),
    Field("email_hash", "email_hash", "text"),
    Field("device_type", "device_type", "text"),
    Field("country", "country", "text"),
    Field("source", "source", "text"),
    Field("campaign", "campaign", "text"),
)

INT32_MAX = 2**31 - 1


class InvalidValue(ValueError):
    """A hash field whose value breaks a rule; the message names the field, value and rule."""


def parse_timestamp(field: str, value: str) -> str:
    """ISO-8601 to a UTC ISO string; a value without an offset is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidValue(f"{field}={value!r} is not an ISO-8601 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat()


def parse_integer(field: str, value: str) -> str:
    try:
        number = int(value)
    except ValueError:
        raise InvalidValue(f"{field}={value!r} is not an integer") from None
    if not 0 <= number <= INT32_MAX:
        raise InvalidValue(f"{field}={value!r} is outside 0..{INT32_MAX}")
    return str(number)


def parse_money(field: str, value: str) -> str:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise InvalidValue(f"{field}={value!r} is not a number (use a dot: 10.50)") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise InvalidValue(f"{field}={value!r} must be a non-negative amount below 1e12")
    return str(amount)


PARSERS = {
    "text": lambda _field, value: value,
    "timestamp": parse_timestamp,
    "integer": parse_integer,
    "money": parse_money,
}


def decode(raw: dict) -> dict[str, str]:
    """HGETALL returns bytes; decode as UTF-8, keeping undecodable bytes visible."""
    return {
        (k.decode("utf-8", "replace") if isinstance(k, bytes) else k): (
            v.decode("utf-8", "replace") if isinstance(v, bytes) else v
        )
        for k, v in raw.items()
    }


def parse_gift(gift_id: str, values: dict[str, str]) -> tuple[list[str | None], list[str]]:
    """Turn one hash into the COPY row (one value per FIELDS entry) and the fields present.

    A field missing from the hash is None in the row *and* absent from the present list,
    so the upsert keeps the landed value; an empty string means "not set" and lands NULL.
    Raises InvalidValue naming every broken field.
    """
    row: list[str | None] = []
    present: list[str] = []
    problems: list[str] = []
    for field in FIELDS:
        value = values.get(field.hash_field)
        if value is None:
            row.append(None)
            continue
        present.append(field.column)
        value = value.strip()
        if value == "":
            row.append(None)
            continue
        try:
            row.append(PARSERS[field.kind](field.hash_field, value))
        except InvalidValue as exc:
            problems.append(str(exc))
            row.append(None)
    if problems:
        raise InvalidValue(f"gift {gift_id}: " + "; ".join(problems))
    return row, present
