"""Browser-test fixtures: Chromium (installed when missing), Selenium's driver, a
warehouse with a small Mashups lineage built by real dbt, and dagster-webserver on it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.browser.chromium import QUIET_FLAGS, ChromiumUnavailable, ensure_chromium
from tests.browser.webserver import running_webserver
from tests.conftest import REPO_ROOT, run_dbt
from tests.mashups_fixture import drop_project_schemas, land

# The Mashups lineage: app table → raw → staging → a daily-partitioned mart.
MART = ["marts", "fct_mashup_daily_stats"]
DEMO_END = date(2026, 3, 31)


@pytest.fixture(scope="session")
def chromium():
    try:
        return ensure_chromium()
    except ChromiumUnavailable as exc:  # fail, never skip: the browser test is part of the suite
        pytest.fail(f"the browser tests need Chromium: {exc}", pytrace=False)


@pytest.fixture
def browser(chromium):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium.browser
    for flag in QUIET_FLAGS:
        options.add_argument(flag)
    options.add_argument("--window-size=1920,1080")
    driver = webdriver.Chrome(service=Service(chromium.driver), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def mashups_warehouse(fresh_warehouse):
    """Three days of a few hundred Mashups events landed in raw, then `dbt build` of the
    mart and everything upstream of it (seeds, staging)."""
    land(fresh_warehouse, days=3, events_per_day=300, seed=11, end=DEMO_END)
    run_dbt("build", "--quiet", "--select", f"+{MART[1]}")
    yield fresh_warehouse
    drop_project_schemas(fresh_warehouse)


@pytest.fixture
def webserver(mashups_warehouse, tmp_path: Path):
    log = tmp_path / "dagster-webserver.log"
    with running_webserver(REPO_ROOT, tmp_path / "dagster_home", log) as server:
        yield server
