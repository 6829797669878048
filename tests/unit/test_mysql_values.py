"""How MySQL values become raw's (ingest/mysql_source.py), without a server: the time
decoders read MySQL's text exactly as PyMySQL's own parser does, then make instants;
the row converter touches only TINYINT(1) and binary JSON, and leaves JSON as its text."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from pymysql.constants import FIELD_TYPE
from pymysql.converters import convert_date, convert_datetime
from sqlalchemy.dialects import mysql

from dagster_project.ingest.mysql_source import ZeroDate, pg_type, row_converter, time_decoders

# MySQL's text for TIMESTAMP/DATETIME(fsp): valid, fractional, zero and invalid dates
TEXTS = [
    "2025-11-01 10:00:00",
    "2025-11-01 23:59:59.5",
    "2025-11-01 00:00:00.123456",
    "1970-01-01 00:00:01",
    "0999-12-31 23:59:59",
    "0000-00-00 00:00:00",
    "2025-11-00 10:00:00",
    "2025-02-30 00:00:00",
]


@pytest.mark.parametrize("text", TEXTS)
def test_timestamps_read_as_pymysql_reads_them_then_utc(text):
    decoded = time_decoders(UTC)[FIELD_TYPE.TIMESTAMP](text)
    theirs = convert_datetime(text)  # a datetime, or the text back when it names no instant
    if isinstance(theirs, str):
        assert isinstance(decoded, ZeroDate) and decoded == text
    else:
        assert decoded == theirs.replace(tzinfo=UTC) and decoded.tzinfo is UTC


def test_a_datetime_is_taken_in_the_tables_zone_a_timestamp_stays_utc():
    decoders = time_decoders(ZoneInfo("Asia/Kolkata"))
    assert decoders[FIELD_TYPE.DATETIME]("2025-11-01 10:00:00") == datetime(
        2025, 11, 1, 4, 30, tzinfo=UTC
    )
    assert decoders[FIELD_TYPE.TIMESTAMP]("2025-11-01 10:00:00") == datetime(
        2025, 11, 1, 10, 0, tzinfo=UTC
    )
    summer = time_decoders(ZoneInfo("America/New_York"))[FIELD_TYPE.DATETIME]
    assert summer("2025-07-01 12:00:00") == datetime(2025, 7, 1, 16, 0, tzinfo=UTC)  # EDT
    assert isinstance(summer("0000-00-00 00:00:00"), ZeroDate)


@pytest.mark.parametrize("text", ["2025-11-01", "0999-01-31", "0000-00-00", "2025-11-00"])
def test_dates_read_as_pymysql_reads_them(text):
    decoded = time_decoders(UTC)[FIELD_TYPE.DATE](text)
    theirs = convert_date(text)
    if isinstance(theirs, str):
        assert isinstance(decoded, ZeroDate) and decoded == text
    else:
        assert decoded == theirs and type(decoded) is date


def test_a_table_without_tinyint1_or_binary_json_needs_no_row_conversion():
    types = [sa.String(26), mysql.BIGINT(unsigned=True), mysql.TIMESTAMP(), mysql.LONGTEXT()]
    assert row_converter(types, [False, False, False, True]) is None


def test_tinyint1_becomes_boolean_json_stays_its_text_binary_json_is_decoded():
    types = [mysql.TINYINT(display_width=1), mysql.TINYINT(), mysql.LONGTEXT(), mysql.LONGBLOB()]
    convert = row_converter(types, [False, False, True, True])
    text = '{"amount": 1.10, "n": 12345678901234567890}'
    assert convert((1, 1, text, text.encode())) == [True, 1, text, text]
    assert convert((0, None, None, None)) == [False, None, None, None]


@pytest.mark.parametrize(
    ("column_type", "largest", "expected"),
    [
        (mysql.TINYINT(unsigned=True), 255, "integer"),
        (mysql.SMALLINT(), 32_767, "smallint"),
        (mysql.SMALLINT(unsigned=True), 65_535, "integer"),
        (mysql.MEDIUMINT(), 8_388_607, "integer"),  # past smallint's 32,767
        (mysql.MEDIUMINT(unsigned=True), 16_777_215, "integer"),
        (mysql.INTEGER(unsigned=True), 4_294_967_295, "bigint"),
        (mysql.BIGINT(unsigned=True), 2**64 - 1, "numeric(20)"),
    ],
)
def test_each_integer_lands_in_a_type_that_holds_its_largest_value(column_type, largest, expected):
    limits = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}
    assert pg_type(column_type, is_json=False) == expected
    assert largest <= limits.get(expected, 10**20 - 1)
