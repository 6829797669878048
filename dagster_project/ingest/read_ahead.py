"""Read a source on a thread while the warehouse writes: the next chunk is fetched and
converted while the one before is upserted, so the two servers work at once.

The queue is bounded (memory stays a few chunks whatever the table's size); an error on
the reading side is raised on the writing side; a writer that stops early stops the reader
and waits for it, so the source connection is never used by two threads at once.

Both sides are Python, and one interpreter runs one thread at a time: while the writer
formats its COPY rows (`writer_busy()`), the reader waits at its next `checkpoint()`, so
the COPY is over quickly and the upsert, which PostgreSQL does alone, starts early;
the reader reads meanwhile. Shared evenly instead, the COPY would take several times as
long, with PostgreSQL idle through it."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

DEPTH = 2  # chunks read ahead of the writer
_POLL_S = 0.1  # how often a blocked reader looks whether the writer has stopped
_DONE = object()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class ReadAhead:
    """`chunks(make)` yields what `make(self.checkpoint)` yields, run on a thread."""

    def __init__(self, depth: int = DEPTH) -> None:
        self._ready: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._go = threading.Event()  # cleared while the writer is busy
        self._go.set()

    def checkpoint(self) -> None:
        """The reader, between two blocks: wait while the writer is busy."""
        self._go.wait()

    @contextlib.contextmanager
    def writer_busy(self) -> Iterator[None]:
        self._go.clear()
        try:
            yield
        finally:
            self._go.set()

    def chunks(self, make: Callable[[Callable[[], None]], Iterator[T]]) -> Iterator[T]:
        reader = threading.Thread(target=self._read, args=(make,), name="el-read-ahead")
        reader.daemon = True
        reader.start()
        try:
            while (item := self._ready.get()) is not _DONE:
                if isinstance(item, _Failed):
                    raise item.exc
                yield item
        finally:
            self._stop.set()
            self._go.set()  # a reader waiting at a checkpoint sees the stop
            reader.join()

    def _read(self, make: Callable[[Callable[[], None]], Iterator[T]]) -> None:
        chunks = None
        try:
            chunks = make(self.checkpoint)
            for chunk in chunks:
                if not self._put(chunk):
                    return
            self._put(_DONE)
        except BaseException as exc:  # raised again in the writer's thread
            self._put(_Failed(exc))
        finally:
            close = getattr(chunks, "close", None)
            if close:  # a generator's cleanup (its cursor) runs here, in the thread it ran in
                close()

    def _put(self, item) -> bool:
        """Wait for room; False when the writer stopped listening."""
        while not self._stop.is_set():
            try:
                self._ready.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False


def read_ahead(chunks: Iterator[T], depth: int = DEPTH) -> Iterator[T]:
    """Yield what `chunks` yields, in order, `chunks` running on a thread of its own."""
    return ReadAhead(depth).chunks(lambda _checkpoint: chunks)
