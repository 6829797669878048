"""Mashups test data: simulate into a schema of the test database, land it in `raw`."""

from __future__ import annotations

from dataclasses import replace

import psycopg

from dagster_project.ingest.extract_load import extract_load, source_engine
from dagster_project.ingest.source_tables import SOURCE_TABLES
from dagster_project.simulate.mashups import MashupsSimulation, simulate_mashups
from tests.conftest import PROJECT_SCHEMAS

SRC = "mashups_src"  # the simulated app database: a schema of the test database


def extract_load_mashups(url: str) -> None:
    """The shared extract-load of both Mashups tables from SRC into raw (incremental)."""
    engine = source_engine(url)
    try:
        with psycopg.connect(url) as conn:
            for spec in SOURCE_TABLES:
                if spec.system == "mashups":
                    extract_load(conn, engine, replace(spec, schema=SRC))
    finally:
        engine.dispose()


def land(url: str, **simulation) -> MashupsSimulation:
    """Simulate into SRC (emptied first), then land it in raw."""
    with psycopg.connect(url) as app:
        app.execute(f"drop schema if exists {SRC} cascade")
        summary = simulate_mashups(app, schema=SRC, **simulation)
    extract_load_mashups(url)
    return summary


def drop_project_schemas(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in (*PROJECT_SCHEMAS, SRC):
            conn.execute(f"drop schema if exists {schema} cascade")
