"""Every shell command README.md and docs/*.md show runs as written, in doc order, on a
fresh warehouse: its own ANALYTICS_HOME (embedded PostgreSQL and Redis, nothing set), so
a doc edit that breaks a command fails the suite.

The docs' first command, `make demo`, fills the warehouse; the test gives it a small size
through `DEMO_ARGS` (a documented make variable), so the commands after it run on a few
days of every app instead of 30. Placeholder hosts in the docs (`db.internal`,
`mysql.internal`) stand for the reader's own servers: the test puts the embedded ones (and
the tests' MariaDB) in their place.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.docs.doc_blocks import REPO_ROOT, SHELL_TAGS, blocks, shell_blocks

SMALL_DEMO = "--days 3 --gifts 3000 --events-per-day 600"
BLOCK_TIMEOUT_S = 900
UI_URL = "http://127.0.0.1:3000"

# Commands this test does not run, each with where it does run. Nothing else is left out.
RUN_ELSEWHERE = {
    r"^make test\b": "the suite itself: .ci/run runs it on a clean clone",
    r"^make bench\b|-m bench\.run(?!.*--smoke)|-m bench\.dbt_threads": (
        "the full bench takes minutes to hours and stays out of CI; "
        "tests/integration/test_bench_smoke.py runs every bench section at smoke size"
    ),
    r"-m bench\.run --smoke\s*(#.*)?$": "tests/integration/test_bench_smoke.py runs it as written",
    r"pytest -m browser": "make test runs the browser tests (tests/browser/)",
    r"^make lint\b": "tests/test_lint.py runs it as written",
    r"^make faults\b": "make test runs tests/faults/, which is all `make faults` runs",
}

# the reader's own servers in the docs -> the test's embedded ones (from `analytics env`)
PLACEHOLDERS = {
    "postgresql://analyst:secret@db.internal:5432/warehouse": "WAREHOUSE_URL",
    "redis://cache.internal:6379/0": "REDIS_URL",
}

# the reader's MySQL in the docs -> an empty database on the tests' MariaDB (tests/mariadb.py)
MYSQL_PLACEHOLDER = "mysql+pymysql://wallet:secret@mysql.internal:3306/wallet"

# a user's variables would point the commands away from the fresh embedded services
USER_VARIABLES = re.compile(
    r"^(WAREHOUSE_|REDIS_URL|SOURCE_\w+_URL|DAGSTER_|GIFT_|MASHUP_|ANALYTICS_|METABASE_)"
)


def _excluded(command: str) -> str | None:
    return next((why for rule, why in RUN_ELSEWHERE.items() if re.search(rule, command)), None)


@pytest.fixture(scope="module")
def docs_env():
    home = Path(tempfile.mkdtemp(prefix="docs-commands-"))
    env = {k: v for k, v in os.environ.items() if not USER_VARIABLES.match(k)}
    env |= {"ANALYTICS_HOME": str(home), "DEMO_ARGS": SMALL_DEMO}
    yield env
    subprocess.run([".venv/bin/analytics", "down"], cwd=REPO_ROOT, env=env, check=False)
    shutil.rmtree(home, ignore_errors=True)


def _embedded_urls(env: dict) -> dict[str, str]:
    out = subprocess.run(
        [".venv/bin/analytics", "env"], cwd=REPO_ROOT, env=env, capture_output=True,
        text=True, check=True,
    ).stdout  # fmt: skip
    return dict(re.findall(r"^export (\w+)=(\S+)$", out, re.M))


@pytest.fixture(scope="module")
def docs_mysql_url(mysql_url):
    """An empty `wallet` database on the MariaDB of the tests, for the docs' MySQL commands."""
    root = sa.create_engine(mysql_url + "/")
    with root.begin() as conn:
        conn.exec_driver_sql("drop database if exists docs_wallet")
        conn.exec_driver_sql("create database docs_wallet")
    root.dispose()
    return f"{mysql_url}/docs_wallet"


def _script(commands: list[str], env: dict, mysql: str | None = None) -> str:
    lines = ["set -euxo pipefail"]  # -x: the log shows each command as it runs
    urls = None
    for command in commands:
        if why := _excluded(command):
            lines.append(": " + shlex.quote(f"not run here ({command}): {why}"))
            continue
        for placeholder, variable in PLACEHOLDERS.items():
            if placeholder in command:
                urls = urls or _embedded_urls(env)
                command = command.replace(placeholder, urls[variable])
        if mysql:
            command = command.replace(MYSQL_PLACEHOLDER, mysql)
        lines.append(command)
    return "\n".join(lines) + "\n"


def _run_ui(env: dict) -> None:
    """`make ui` serves until stopped: it must answer on its URL, then it is stopped."""
    with tempfile.TemporaryFile("w+") as log:
        ui = subprocess.Popen(
            ["make", "ui"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                assert ui.poll() is None, f"make ui exited {ui.returncode}:\n{_tail(log)}"
                try:
                    with urllib.request.urlopen(f"{UI_URL}/server_info", timeout=5) as r:
                        assert r.status == 200
                        return
                except OSError:
                    time.sleep(2)
            pytest.fail(f"make ui did not answer on {UI_URL} within 180 s:\n{_tail(log)}")
        finally:
            os.killpg(ui.pid, signal.SIGTERM)
            try:
                ui.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(ui.pid, signal.SIGKILL)


def _tail(log) -> str:
    log.seek(0)
    return log.read()[-4000:]


BLOCKS = shell_blocks()


def test_the_docs_show_commands():
    assert len(BLOCKS) >= 8, [b.where for b in BLOCKS]


def test_every_code_block_says_what_it_holds():
    untagged = [block.where for block in blocks() if not block.tag]
    assert untagged == [], (
        "fenced blocks without a language: tag commands `sh` (the docs test runs them) and "
        "output or listings `text`"
    )


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
def test_doc_commands_run_as_written(block, docs_env, request):
    assert block.tag in SHELL_TAGS
    # a MariaDB starts only for the blocks that name the reader's MySQL
    mysql = request.getfixturevalue("docs_mysql_url") if MYSQL_PLACEHOLDER in block.body else None
    if any(command.startswith("make ui") for command in block.commands):
        assert len(block.commands) == 1, f"{block.where}: keep `make ui` in a block of its own"
        _run_ui(docs_env)
        return
    result = subprocess.run(
        ["bash", "-c", _script(block.commands, docs_env, mysql)], cwd=REPO_ROOT, env=docs_env,
        capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S,
    )  # fmt: skip
    assert result.returncode == 0, (
        f"{block.where} failed (exit {result.returncode}):\n"
        f"{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
    )
