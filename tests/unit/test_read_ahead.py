"""read_ahead (ingest/read_ahead.py) on plain generators: the chunks arrive in order, a
reader's error reaches the writer, and a writer that stops early stops the reader (its
cleanup runs, in its own thread) without it having run more than the queue ahead; while
the writer is busy the reader waits at its checkpoints."""

from __future__ import annotations

import threading
import time

import pytest

from dagster_project.ingest.read_ahead import ReadAhead, read_ahead


def _numbers(n: int, log: dict):
    log["thread"] = threading.current_thread().name
    try:
        for i in range(n):
            log["made"] = i + 1
            yield [i]
    finally:
        log["closed_in"] = threading.current_thread().name


def test_every_chunk_arrives_in_order_from_another_thread():
    log: dict = {}
    assert list(read_ahead(_numbers(100, log))) == [[i] for i in range(100)]
    assert log["thread"] != threading.current_thread().name
    assert log["closed_in"] == log["thread"]


def test_a_reader_error_is_raised_to_the_writer_after_the_chunks_before_it():
    def failing():
        yield [1]
        raise ConnectionResetError("source went away")

    got = []
    with pytest.raises(ConnectionResetError, match="source went away"):
        for chunk in read_ahead(failing()):
            got.append(chunk)
    assert got == [[1]]


def test_a_writer_that_stops_stops_the_reader_which_ran_at_most_the_queue_ahead():
    log: dict = {}
    chunks = read_ahead(_numbers(10_000, log), depth=2)
    assert next(chunks) == [0]
    chunks.close()  # joins the reader: its cleanup has run when close returns
    assert log["closed_in"] == log["thread"]
    assert log["made"] <= 1 + 2 + 1  # the one taken, the queue, the one waiting for room


def test_while_the_writer_is_busy_the_reader_waits_at_its_checkpoints():
    ahead = ReadAhead(depth=1000)  # room for every chunk: only the gate holds the reader
    passed = [0]  # checkpoints the reader went past

    def make(checkpoint):
        for i in range(100):
            time.sleep(0.0002)  # a block read from the source
            yield [i]
            checkpoint()
            passed[0] += 1

    got, advanced = [], []
    for chunk in ahead.chunks(make):
        got.append(chunk)
        with ahead.writer_busy():
            before = passed[0]
            time.sleep(0.002)  # a reader not held would go past many checkpoints here
            advanced.append(passed[0] - before)
    assert got == [[i] for i in range(100)]
    assert max(advanced) <= 1  # at most the step it was in when the writer became busy
