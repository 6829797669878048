"""Wall-clock helpers: time a call, keep the best of a few repetitions."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run `fn` `repeat` times; the fastest time (the least disturbed by other load)."""
    runs = [timed(fn) for _ in range(max(1, repeat))]
    return min(runs, key=lambda run: run[0])


LOG: list[str] = []  # every progress line of the run (a failed section shows its own)


def progress(message: str) -> None:
    LOG.append(message)
    print(f"  .. {message}", flush=True)
