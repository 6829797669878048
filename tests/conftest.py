"""Test services: the real embedded PostgreSQL and Redis (or WAREHOUSE_URL / REDIS_URL).

With the embedded default, tests use their own database `warehouse_test` and Redis db 15,
so `make demo` data is left alone; under `pytest -n N` (as `make test` runs them) each
worker gets `warehouse_test_gwK` and a Redis db of its own (`_isolate_worker`). With
URLs set, point them at a throwaway database: tests drop and rebuild the project's schemas
there. Redis keys are always under a
per-test prefix, so even a shared Redis only sees `test:…` keys come and go.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import psycopg
import pytest
import redis

from tests.mariadb_fixture import mysql_url  # noqa: F401  (a fixture: pytest finds it here)

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

REPO_ROOT = Path(__file__).resolve().parent.parent
PROJECT_SCHEMAS = ("raw", "quarantine", "ops", "staging", "intermediate", "marts", "embed", "pii")


def drop_schemas(url: str, *schemas: str) -> None:
    """Drop these schemas (e.g. PROJECT_SCHEMAS and a simulated app's) if they exist."""
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f"drop schema if exists {schema} cascade")


MAY_DROP = "ANALYTICS_TESTS_MAY_DROP"


def _refuse_a_warehouse_that_may_matter(url: str) -> None:
    """Tests drop the project's schemas: only in a database named for tests, or when told."""
    from urllib.parse import urlsplit

    database = urlsplit(url).path.lstrip("/")
    if "test" not in database and os.environ.get(MAY_DROP) != "1":
        pytest.exit(
            f"WAREHOUSE_URL names database {database!r}: the tests drop and rebuild the "
            f"project's schemas there. Use a database whose name contains 'test', or set "
            f"{MAY_DROP}=1 if this one is a throwaway.",
            returncode=4,
        )


def _embedded_test_urls() -> None:
    from dagster_project.local import services

    if os.environ.get("WAREHOUSE_URL"):
        _refuse_a_warehouse_that_may_matter(os.environ["WAREHOUSE_URL"])
    else:
        # ANALYTICS_TEST_DATABASE lets two test runs share the embedded server
        database = os.environ.get("ANALYTICS_TEST_DATABASE", "warehouse_test")
        ports = services.start_postgres()
        with psycopg.connect(ports.postgres_url("postgres"), autocommit=True) as conn:
            if not conn.execute(
                "select 1 from pg_database where datname = %s", (database,)
            ).fetchone():
                conn.execute(f'create database "{database}"')
        os.environ["WAREHOUSE_URL"] = ports.postgres_url(database)
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = services.start_redis().redis_url(15)


def pytest_configure(config):
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1 … under `pytest -n N`
    if worker is None:  # a plain run, or xdist's controller before it starts the workers
        _embedded_test_urls()
        from dagster_project.local.environment import apply_env

        apply_env(dagster_home=False)
        os.environ.pop("DAGSTER_HOME", None)  # tests use ephemeral Dagster instances
        from dagster_project.project import ensure_manifest

        ensure_manifest()  # once, before any worker reads it
    else:
        _isolate_worker(worker)  # the controller's environment, made this worker's own


def _isolate_worker(worker: str) -> None:
    """Everything two workers could both change, one per worker: the database, the Redis
    db, the Metabase role (roles are cluster-wide) and dbt's target folder (`dbt run`
    rewrites manifest.json there, which every Dagster import reads)."""
    from urllib.parse import urlsplit, urlunsplit

    from dagster_project.settings import DBT_PROJECT_DIR, metabase_role

    index = int(worker.removeprefix("gw"))
    parts = urlsplit(os.environ["WAREHOUSE_URL"])
    database = f"{parts.path.lstrip('/')}_{worker}"
    with psycopg.connect(os.environ["WAREHOUSE_URL"], autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", [database]).fetchone():
            conn.execute(f'create database "{database}"')
    if os.environ.get("DAGSTER_POSTGRES_URL") == os.environ["WAREHOUSE_URL"]:
        del os.environ["DAGSTER_POSTGRES_URL"]  # the controller's fallback: follow the move
    os.environ["WAREHOUSE_URL"] = urlunsplit(parts._replace(path=f"/{database}"))
    from dagster_project.local.environment import apply_env

    apply_env(dagster_home=False)  # dbt's variables follow WAREHOUSE_URL
    os.environ.pop("DAGSTER_HOME", None)

    redis_parts = urlsplit(os.environ["REDIS_URL"])
    db = int(redis_parts.path.lstrip("/") or 0)
    db = db - index if db >= index else db + index
    os.environ["REDIS_URL"] = urlunsplit(redis_parts._replace(path=f"/{db}"))
    os.environ["METABASE_ROLE"] = f"{metabase_role()}_{worker}"

    target = DBT_PROJECT_DIR / "target" / f"pytest-{worker}"
    target.mkdir(parents=True, exist_ok=True)
    state = DBT_PROJECT_DIR / "target" / "partial_parse.msgpack"
    if state.exists():  # saves each worker dbt's first full parse
        shutil.copy2(state, target / state.name)
    os.environ["DBT_TARGET_PATH"] = str(target)


@pytest.fixture
def warehouse_url() -> str:
    return os.environ["WAREHOUSE_URL"]


@pytest.fixture
def fresh_warehouse(warehouse_url):
    """Drop every project schema, so each test starts from an empty warehouse."""
    drop_schemas(warehouse_url, *PROJECT_SCHEMAS)
    return warehouse_url


@pytest.fixture
def conn(fresh_warehouse):
    with psycopg.connect(fresh_warehouse) as connection:
        yield connection


@pytest.fixture
def redis_client():
    return redis.Redis.from_url(os.environ["REDIS_URL"])


@pytest.fixture
def gift_prefix(redis_client, monkeypatch):
    """A Redis key prefix of this test's own; the sync asset and sensor read it from env."""
    prefix = f"test:{uuid.uuid4().hex[:8]}:gift:analytics:"
    monkeypatch.setenv("GIFT_REDIS_PREFIX", prefix)
    monkeypatch.setenv("GIFT_COUNTER_PREFIX", f"{prefix}campaign:")
    yield prefix
    keys = list(redis_client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        redis_client.unlink(*keys)


def run_dbt(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real dbt CLI on the project; fail the test with dbt's output on error."""
    from dagster_project.project import DBT_EXECUTABLE

    cmd = [DBT_EXECUTABLE, *args, "--project-dir", "dbt_project", "--profiles-dir", "dbt_project"]
    result = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, env=os.environ)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}")
    return result


@pytest.fixture
def dbt_build():
    """`dbt build` of the gift lineage (other systems' tests build their own); the DAO marts
    (marts/dao) also read gifts but need the DAO tables: test_dao_marts builds them."""
    return lambda *extra: run_dbt(
        "build", "--quiet", "--select", "source:cryptogift.gift_analytics+",
        "--exclude", "path:models/marts/dao", *extra,
    )  # fmt: skip


def python_bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def land_empty_sources(conn, url: str, systems=("yesgoddess", "everreach", "mashups")) -> None:
    """Land each system's app tables, empty, so models that union systems build in a test
    about one of them. Tables already in raw are left as they are."""
    from dataclasses import replace
    from importlib import import_module

    from dagster_project.ingest.extract_load import extract_load, source_engine
    from dagster_project.ingest.source_tables import SOURCE_TABLES

    engine = source_engine(url)
    with psycopg.connect(url, autocommit=True) as app:
        for system in systems:
            schema = f"empty_{system}"
            app.execute(f"drop schema if exists {schema} cascade")
            import_module(f"dagster_project.simulate.{system}").create_tables(app, schema=schema)
            for spec in SOURCE_TABLES:
                exists = conn.execute("select to_regclass(%s)", [f"raw.{spec.raw_table}"])
                if spec.system == system and not exists.fetchone()[0]:
                    extract_load(conn, engine, replace(spec, schema=schema))
            app.execute(f"drop schema {schema} cascade")
    engine.dispose()
