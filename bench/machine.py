"""The machine the figures came from: cores, RAM, CPU model, server versions."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def describe(conn, redis_client) -> list[tuple[str, str]]:
    pg = conn.execute("show server_version").fetchone()[0]
    conn.rollback()
    rv = redis_client.info("server").get("redis_version", "unknown")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        ("cpu", _cpu_model()),
        ("cores", f"{os.cpu_count()} ({usable} usable by this process)"),
        ("ram", _ram_gib()),
        ("os", f"{platform.system()} {platform.release()}"),
        ("python", platform.python_version()),
        ("postgresql", pg),
        ("redis", str(rv)),
        ("load average", load()),
    ]


def load() -> str:
    """Other work on the machine skews the figures; shown at the start and the end."""
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"
