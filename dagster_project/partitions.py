"""The one daily partitions definition: UTC calendar days (DESIGN.md §4: all dates UTC)."""

from dagster import DailyPartitionsDefinition

# Two years back covers the longest retention window (YesGoddess keeps events 2 years).
PARTITIONS_START = "2024-11-01"

daily_partitions = DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")
