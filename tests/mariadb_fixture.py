"""`mysql_url`: one MariaDB for the whole test session (tests/mariadb.py), or the server
MYSQL_TEST_URL names. Shared through tests/conftest.py, so the MySQL tests do not each
start their own; a test creates and drops its own database there."""

from __future__ import annotations

import pytest

from tests.mariadb import server_url


@pytest.fixture(scope="session")
def mysql_url():
    """MYSQL_TEST_URL, else a private MariaDB; without a database, so a test appends its
    own."""
    with server_url() as url:
        yield url
