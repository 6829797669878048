"""Mashups test data: simulate into a schema of the test database, land it in `raw`."""

from __future__ import annotations

import psycopg

from dagster_project.ingest.extract_load import extract_load_system
from dagster_project.simulate.mashups import MashupsSimulation, simulate_mashups
from tests.conftest import PROJECT_SCHEMAS, drop_schemas

SRC = "mashups_src"  # the simulated app database: a schema of the test database


def extract_load_mashups(url: str) -> None:
    """The shared extract-load of both Mashups tables from SRC into raw (incremental)."""
    with psycopg.connect(url) as conn:
        extract_load_system(conn, url, "mashups", schema=SRC)


def land(url: str, **simulation) -> MashupsSimulation:
    """Simulate into SRC (emptied first), then land it in raw."""
    with psycopg.connect(url) as app:
        app.execute(f"drop schema if exists {SRC} cascade")
        summary = simulate_mashups(app, schema=SRC, **simulation)
    extract_load_mashups(url)
    return summary


def drop_project_schemas(url: str) -> None:
    drop_schemas(url, *PROJECT_SCHEMAS, SRC)
