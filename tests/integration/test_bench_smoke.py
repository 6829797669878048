"""`python -m bench.run --smoke` as a user runs it: every section of `make bench` on tiny
data, in a fresh database of its own on the tests' server (named after the tests'
database, so neither `make demo`'s data nor `make bench`'s is touched) and the tests'
Redis, under a key prefix of its own. It must exit 0 with every section's figures in the
table. (The full `make bench` is not run by the tests: it takes half an hour.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

from tests.conftest import REPO_ROOT

# the table's headings of every section (the naive loop's rows are under the sync's)
SECTIONS = {
    "gift sync": r"Gift sync: ",
    "floors": r"Floors and the sync's other stages",
    "gift marts": r"Gift marts over ",
    "extract-load": r"Extract-load: ",
    "mysql extract-load": r"Extract-load from MariaDB: ",
    "event day": r"Event marts: partition \S+ with ",
    "event history": r"Event marts: partition \S+ of .* with history",
    "tokens": r"Token economy: ",
    "exports": r"Exports of dataset ",
    "retention": r"Raw retention ",
}
# the MariaDB extract-load's rows: both rates and their ratio
MYSQL_EL_ROWS = (
    "driver-only throughput",
    "extract-load throughput, MariaDB",
    "ratio extract-load / driver-only (rows/s)",
)
FIGURE = re.compile(r"^  \S.*?\s(-?[\d,]+\.?\d*|True|False)\s")  # label, then a value


def _blocks(table: str) -> dict[str, list[str]]:
    """heading -> its rows (the table is headings and indented rows, blank line between)."""
    blocks: dict[str, list[str]] = {}
    for chunk in table.strip().split("\n\n"):
        heading, *rows = chunk.splitlines()
        blocks[heading] = rows
    return blocks


def test_the_smoke_bench_runs_every_section(warehouse_url):
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke"],
        cwd=REPO_ROOT,
        env=os.environ,  # the tests' WAREHOUSE_URL and REDIS_URL (conftest)
        capture_output=True,
        text=True,
        timeout=1200,
    )
    out = proc.stdout
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{out[-8000:]}\n{proc.stderr[-3000:]}"

    tests_db = urlsplit(warehouse_url).path.lstrip("/")
    assert f"/{tests_db}_bench_smoke (fresh smoke database" in out  # not the tests' database
    assert re.search(r"redis keys\s+bench:smoke:gift:analytics:\*", out)

    start = out.index("bench keys from Redis\n") + len("bench keys from Redis\n")
    table = out[start : out.index("\n(total bench time")]
    assert "FAILED" not in table and "SKIPPED" not in table, table
    blocks = _blocks(table)
    for name, pattern in SECTIONS.items():
        found = [h for h in blocks if re.match(pattern, h)]
        assert found, f"no {name} section in the table:\n{table}"
        figures = [row for row in blocks[found[0]] if FIGURE.match(row)]
        assert figures, f"{name}: no figures under {found[0]!r}:\n{table}"
    sync_rows = blocks[next(h for h in blocks if h.startswith("Gift sync: "))]
    assert any(row.strip().startswith("naive throughput") for row in sync_rows), table
    mysql_rows = blocks[next(h for h in blocks if h.startswith("Extract-load from MariaDB: "))]
    for label in MYSQL_EL_ROWS:
        assert any(row.strip().startswith(label) for row in mysql_rows), table
    assert "MariaDB extract-load: " in out  # its summary line
