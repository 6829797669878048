"""Read a source on a thread while the warehouse writes: the next chunk is fetched and
converted while the one before is COPYed and upserted, so the two servers work at once.

The queue is bounded (memory stays a few chunks whatever the table's size); an error on
the reading side is raised on the writing side; a writer that stops early stops the reader
and waits for it, so the source connection is never used by two threads at once."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

DEPTH = 2  # chunks read ahead of the writer
_POLL_S = 0.1  # how often a blocked reader looks whether the writer has stopped
_DONE = object()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def read_ahead(chunks: Iterator[T], depth: int = DEPTH) -> Iterator[T]:
    """Yield what `chunks` yields, in order, `chunks` running on a thread of its own."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    reader = threading.Thread(
        target=_read, args=(chunks, ready, stop), name="el-read-ahead", daemon=True
    )
    reader.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        stop.set()
        reader.join()


def _read(chunks: Iterator[T], ready: queue.Queue, stop: threading.Event) -> None:
    try:
        for chunk in chunks:
            if not _put(ready, chunk, stop):
                return
        _put(ready, _DONE, stop)
    except BaseException as exc:  # raised again in the writer's thread
        _put(ready, _Failed(exc), stop)
    finally:
        close = getattr(chunks, "close", None)
        if close:  # a generator's cleanup (its cursor) runs here, in the thread it ran in
            close()


def _put(ready: queue.Queue, item, stop: threading.Event) -> bool:
    """Wait for room; False when the writer stopped listening."""
    while not stop.is_set():
        try:
            ready.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False
