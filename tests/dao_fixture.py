"""CryptoGift DAO test data: app tables in a `test_dao_*` schema of the app database,
landed in `raw` by the shared extract-load, and the dbt build of the DAO marts."""

from __future__ import annotations

import os
from dataclasses import replace

import psycopg

from dagster_project.ingest.extract_load import extract_load, source_engine
from dagster_project.ingest.source_tables import SOURCE_TABLES
from dagster_project.settings import libpq_url
from tests.conftest import run_dbt

DAO_TABLES = ("tasks", "referral_codes", "referrals", "referral_rewards")
MARTS = (
    "fct_task_operations_daily",
    "fct_referral_network_daily",
    "fct_referrer_leaderboard",
    "fct_referral_network_growth_daily",
)
QUARANTINE = ("cryptogift__tasks", "cryptogift__referrals")


def app_url() -> str:
    """The CryptoGift app database (the test warehouse database when none is set)."""
    return libpq_url(os.environ.get("SOURCE_CRYPTOGIFT_URL") or os.environ["WAREHOUSE_URL"])


def extract_load_dao(conn: psycopg.Connection, schema: str) -> None:
    """The shared extract-load of the four DAO tables from `schema` of the app database."""
    engine = source_engine(app_url())
    try:
        for spec in SOURCE_TABLES:
            if spec.system == "cryptogift" and spec.table in DAO_TABLES:
                extract_load(conn, engine, replace(spec, schema=schema))
    finally:
        engine.dispose()


def build_dao(*extra: str):
    """dbt build of the DAO marts, their staging and the two quarantine tables."""
    selection = [f"+{m}" for m in MARTS] + list(QUARANTINE)
    return run_dbt("build", "--quiet", "--select", *selection, *extra)


def drop_app_schema(schema: str) -> None:
    with psycopg.connect(app_url(), autocommit=True) as app:
        app.execute(f"drop schema if exists {schema} cascade")
