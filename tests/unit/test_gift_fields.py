"""The pure parsing rules of a gift hash."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dagster_project.ingest.gift_fields import FIELDS, InvalidValue, parse_gift, printable

COLUMNS = [f.column for f in FIELDS]


def _value(row, column):
    return row[COLUMNS.index(column)]


def test_timestamps_become_utc_and_offsets_are_applied():
    row, _ = parse_gift(
        "g",
        {
            "created_at": "2026-11-01T01:30:00+02:00",
            "claimed_at": "2026-11-01T10:00:00.000Z",
            "viewed_at": "2026-11-01T10:00:00",
        },
    )
    assert _value(row, "gift_created_at") == "2026-10-31T23:30:00+00:00"
    assert _value(row, "gift_claimed_at") == "2026-11-01T10:00:00.000Z"  # canonical: as is
    assert _value(row, "gift_viewed_at") == "2026-11-01T10:00:00+00:00"  # no offset: UTC


def test_missing_and_empty_fields_differ():
    row, present = parse_gift("g", {"value_usd": "", "campaign_id": "camp"})
    assert _value(row, "value_usd") is None and "value_usd" in present
    assert _value(row, "claimer_address") is None and "claimer_address" not in present
    assert _value(row, "campaign_id") == "camp"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"created_at": "yesterday"}, "created_at='yesterday' is not an ISO-8601 timestamp"),
        ({"value_usd": "12,50"}, "value_usd='12,50' is not a number"),
        ({"value_usd": "-1"}, "value_usd='-1' must be a non-negative amount"),
        ({"value_usd": "NaN"}, "value_usd='NaN' must be a non-negative amount"),
        ({"token_id": "12a"}, "token_id='12a' is not an integer"),
        ({"token_id": "99999999999"}, "token_id='99999999999' is outside"),
    ],
)
def test_invalid_values_are_named_with_their_rule(fields, message):
    with pytest.raises(InvalidValue, match="gift g7: ") as info:
        parse_gift("g7", fields)
    assert message in str(info.value)


def test_every_broken_field_is_reported_at_once():
    with pytest.raises(InvalidValue) as info:
        parse_gift("g", {"created_at": "x", "value_usd": "y"})
    assert "created_at='x'" in str(info.value) and "value_usd='y'" in str(info.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"country": "A\x00R"}, "country='A\\x00R' contains a NUL byte"),
        ({"created_at": "9999-12-31T23:59:59-01:00"}, "is outside the supported date range"),
        ({"created_at": "0001-01-01T00:00:00+01:00"}, "is outside the supported date range"),
        (
            {"device_type": "mobile\udcff"},  # an invalid byte, as the Redis client hands it over
            "device_type='mobile\\xff' contains a NUL byte or invalid UTF-8",
        ),
        (
            {"created_at": "2026-11-01T10:00:00Z", "claimed_at": "2026-11-01T09:59:59Z"},
            "claimed_at='2026-11-01T09:59:59Z' is earlier than created_at='2026-11-01T10:00:00Z'",
        ),
        ({"claimed_at": "3026-01-01T00:00:00Z"}, "is in the future (after 2026-11-02"),
    ],
)
def test_values_postgres_cannot_hold_are_rejected_not_crashing(fields, message):
    latest = datetime(2026, 11, 2, tzinfo=UTC)
    with pytest.raises(InvalidValue) as info:
        parse_gift("g", fields, latest)
    assert message in str(info.value)


def test_printable_makes_nul_visible_for_jsonb():
    assert printable({"a\x00": "b\x00c"}) == {"a\\x00": "b\\x00c"}
