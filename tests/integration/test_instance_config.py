"""The committed dagster.yaml: a real instance from it stores runs in PostgreSQL, limits
every pool to one step, monitors runs; `analytics` keeps DAGSTER_HOME's copy current."""

import os
import subprocess

import psycopg
import pytest
from dagster import DagsterInstance, DagsterRunStatus, job, op
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

from dagster_project.local.environment import INSTANCE_YAML, _ensure_dagster_home
from dagster_project.run_policies import all_pools
from tests.conftest import REPO_ROOT, python_bin


@pytest.fixture
def dagster_db(warehouse_url, monkeypatch):
    """A Dagster storage database of this test run's own, next to its warehouse."""
    base, _, warehouse = warehouse_url.rpartition("/")
    name = f"{warehouse}_dagster"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", f"{base}/{name}")
    return f"{base}/{name}"


@pytest.fixture
def dagster_home(tmp_path, monkeypatch, dagster_db):
    _ensure_dagster_home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    return tmp_path


@op
def say_ok() -> str:
    return "ok"


@job
def ping():
    say_ok()


def test_the_instance_stores_runs_in_postgres_and_limits_each_pool_to_one(dagster_home):
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert instance.run_monitoring_enabled
        assert not instance.nux_enabled
        config = instance.get_concurrency_config()
        assert config.run_queue_config.max_concurrent_runs == 4
        assert config.pool_config.pool_granularity.value == "op"
        for pool in all_pools():
            assert instance.event_log_storage.get_concurrency_info(pool).limit == 1, pool
        # a run lands in the test's own Dagster database
        result = ping.execute_in_process(instance=instance)
        assert instance.get_run_by_id(result.run_id).status == DagsterRunStatus.SUCCESS
    with psycopg.connect(os.environ["DAGSTER_POSTGRES_URL"]) as conn:
        stored = conn.execute("select status from runs where run_id = %s", [result.run_id])
        assert stored.fetchone() == ("SUCCESS",)


def test_a_stale_copy_in_the_projects_own_dagster_home_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("ANALYTICS_HOME", str(tmp_path))
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    _ensure_dagster_home(home)
    assert (home / "dagster.yaml").read_text() == INSTANCE_YAML.read_text()


def test_a_dagster_home_of_your_own_is_written_only_when_it_has_no_dagster_yaml(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("ANALYTICS_HOME", str(tmp_path / "analytics"))
    yours, empty = tmp_path / "deployment", tmp_path / "new"
    yours.mkdir()
    edited = INSTANCE_YAML.read_text() + "run_launcher:\n  module: dagster_k8s.launcher\n"
    (yours / "dagster.yaml").write_text(edited)
    _ensure_dagster_home(yours)
    _ensure_dagster_home(empty)
    assert (yours / "dagster.yaml").read_text() == edited
    assert (empty / "dagster.yaml").read_text() == INSTANCE_YAML.read_text()


def test_analytics_pools_prints_each_pool_with_its_limit(dagster_home):
    out = subprocess.run(
        [python_bin("analytics"), "pools"],
        cwd=REPO_ROOT,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]}
    assert rows == dict.fromkeys(all_pools(), "1")
