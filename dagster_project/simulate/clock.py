"""Simulated time, shared by the simulators: integer milliseconds since the epoch (fast to
generate and compare) and the window a simulation may fill."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

EPOCH = datetime(1970, 1, 1)
SEC = 1_000
MIN = 60 * SEC
HOUR = 60 * MIN
DAY = 24 * HOUR


def epoch_ms(d: date) -> int:
    return (d - EPOCH.date()).days * DAY


def window(end: date | None, days: int) -> tuple[date, date, int, int]:
    """Start/end days and [start_ms, cutoff_ms): nothing may happen after now or after `end`."""
    if days < 1:
        raise ValueError("days must be >= 1")
    now = datetime.now(UTC).replace(tzinfo=None)
    end = end or now.date()
    start = end - timedelta(days=days - 1)
    now_ms = (now - EPOCH) // timedelta(milliseconds=1)
    cutoff = min(epoch_ms(end) + DAY, now_ms)
    if cutoff <= epoch_ms(start):
        raise ValueError(f"simulation window starting {start} lies entirely in the future")
    return start, end, epoch_ms(start), cutoff
