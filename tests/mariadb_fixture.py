"""`mysql_url`: one MariaDB for the whole test session (tests/mariadb.py), or the server
MYSQL_TEST_URL names. Shared through tests/conftest.py, so the MySQL tests do not each
start their own; a test creates and drops its own database there."""

from __future__ import annotations

import os

import pytest

from tests.mariadb import PrivateMariaDB


@pytest.fixture(scope="session")
def mysql_url():
    """MYSQL_TEST_URL (a server the tests may create a database on), else a private MariaDB;
    without a database (`…/`-less), so a test appends its own."""
    if os.environ.get("MYSQL_TEST_URL"):
        yield os.environ["MYSQL_TEST_URL"].rstrip("/")
        return
    server = PrivateMariaDB()
    server.start()
    try:
        yield server.url().rstrip("/")
    finally:
        server.stop()
