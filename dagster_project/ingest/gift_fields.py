"""How a CryptoGift Redis hash maps onto `raw.gift_analytics` and what makes a value valid.

Pure functions: no Redis, no Postgres, so every rule here is unit-tested on its own.
"""

from __future__ import annotations

import hashlib
import re
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
# A btree key holds at most ~2,700 bytes: longer ids would abort the whole upsert.
MAX_GIFT_ID_CHARS = 256
CANONICAL_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z\Z")


class InvalidValue(ValueError):
    """A hash field whose value breaks a rule; the message names the field, value and rule."""


def parse_instant(field: str, value: str, latest: datetime | None = None) -> tuple[str, datetime]:
    """ISO-8601 → (text PostgreSQL reads as UTC, the instant); no offset means UTC.

    `latest` bounds the future: a timestamp after it is a broken clock, not an event.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidValue(f"{field}={value!r} is not an ISO-8601 timestamp") from None
    canonical = CANONICAL_UTC.match(value) is not None  # the app's own format
    try:
        instant = parsed if canonical else _to_utc(parsed)
    except OverflowError:  # year 1 or 9999 pushed past the calendar by its offset
        raise InvalidValue(f"{field}={value!r} is outside the supported date range") from None
    if latest is not None and instant > latest:
        raise InvalidValue(f"{field}={value!r} is in the future (after {latest.isoformat()})")
    # PostgreSQL reads the canonical form as is; anything else is re-written as UTC.
    return (value if canonical else instant.isoformat()), instant


def _to_utc(parsed: datetime) -> datetime:
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


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


PARSERS = {"integer": parse_integer, "money": parse_money}


def parse_gift(
    gift_id: str, values: dict[str, str], latest: datetime | None = None
) -> tuple[list[str | None], list[str]]:
    """Turn one hash into the COPY row (one value per FIELDS entry) and the fields present.

    A field missing from the hash is None in the row *and* absent from the present list,
    so the upsert keeps the landed value; an empty string means "not set" and lands NULL.
    Raises InvalidValue naming every broken field; `latest` bounds timestamps.
    """
    _check_gift_id(gift_id)
    _check_text(gift_id, values)
    row: list[str | None] = []
    present: list[str] = []
    problems: list[str] = []
    instants: dict[str, datetime] = {}
    for field in FIELDS:  # a hot loop: 100k gifts × 18 fields per sync
        value = values.get(field.hash_field)
        if value is None:
            row.append(None)
            continue
        present.append(field.column)
        value = value.strip()
        if not value or field.kind == "text":
            row.append(value or None)
            continue
        try:
            if field.kind == "timestamp":
                text, instants[field.hash_field] = parse_instant(field.hash_field, value, latest)
                row.append(text)
            else:
                row.append(PARSERS[field.kind](field.hash_field, value))
        except InvalidValue as exc:
            problems.append(str(exc))
            row.append(None)
    problems += _out_of_order(instants, values)
    if problems:
        raise InvalidValue(f"gift {gift_id}: " + "; ".join(problems))
    return row, present


def _out_of_order(instants: dict[str, datetime], values: dict[str, str]) -> list[str]:
    """Every later step happens at or after creation (a claim cannot precede its gift)."""
    created = instants.get("created_at")
    if created is None:
        return []
    return [
        f"{name}={values[name].strip()!r} is earlier than created_at={values['created_at']!r}"
        for name, instant in instants.items()
        if instant < created
    ]


def _check_gift_id(gift_id: str) -> None:
    if not gift_id.strip():
        raise InvalidValue(f"gift id {gift_id!r} is empty; a gift key needs an id after the prefix")
    if len(gift_id) > MAX_GIFT_ID_CHARS:
        raise InvalidValue(
            f"gift {quarantine_key(gift_id)}: the id has {len(gift_id):,} characters, "
            f"more than the {MAX_GIFT_ID_CHARS} allowed"
        )


def quarantine_key(gift_id: str) -> str:
    """The id as quarantine.gift_analytics keys it: printable, and an over-long id cut
    to fit the key's index with a hash of the whole id, so two long ids stay apart."""
    text = printable_text(gift_id)
    if len(text) <= MAX_GIFT_ID_CHARS:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{text[:64]}…({len(gift_id):,} chars, sha256 {digest})"


def _check_text(gift_id: str, values: dict[str, str]) -> None:
    """PostgreSQL text holds neither NUL nor invalid UTF-8 (which the Redis client hands
    over as surrogate escapes): reject them here, never abort a COPY."""
    blob = gift_id + "".join(values.values())
    if "\x00" not in blob and (blob.isascii() or _is_utf8(blob)):
        return
    broken = [
        f"{name}='{printable_text(value)}' contains a NUL byte or invalid UTF-8"
        for name, value in [("gift_id", gift_id), *values.items()]
        if "\x00" in value or not _is_utf8(value)
    ]
    raise InvalidValue(f"gift {printable_text(gift_id)}: " + "; ".join(broken))


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable_text(text: str) -> str:
    """Invalid bytes as `\\xNN`, NUL as `\\x00`: fit for a text or jsonb column."""
    if _is_utf8(text) and "\x00" not in text:
        return text
    raw = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return raw.replace("\x00", "\\x00")


def printable(values: dict[str, str]) -> dict[str, str]:
    return {printable_text(k): printable_text(v) for k, v in values.items()}
