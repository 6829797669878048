"""Exports (seed 002's Export Service) against the real warehouse: a simulated wallet (plus a
user and an entry whose text needs CSV escaping) landed and built by dbt; each dataset ×
format read back and compared with an independent query; the validation rules and their
messages; SQL injection through every filter; the sensor and the real Dagster job."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import replace
from datetime import date
from pathlib import Path

import psycopg
import pytest
from dagster import DagsterInstance, build_sensor_context

from dagster_project.exports.datasets import DATASETS
from dagster_project.exports.service import create_request, get_request, new_id, run_export
from dagster_project.ingest.extract_load import extract_load, source_engine
from dagster_project.ingest.source_tables import SOURCE_TABLES
from dagster_project.jobs import export_file_job
from dagster_project.resources import WarehouseResource
from dagster_project.sensors import export_request_sensor
from dagster_project.simulate.wallet import create_tables, simulate_wallet
from tests.conftest import PROJECT_SCHEMAS, run_dbt

SRC = "wallet_src"  # the wallet app database: a schema of the test database
END = date(2026, 3, 31)
RANGE = {"from": "2026-03-01", "to": "2026-03-31"}
TRICKY_NAME = 'O\'Brien, "Bob"\nsecond line, ünïcødé ✓ 🚀'
TRICKY_METADATA = {"note": 'a, b "quoted"\nnew line', "emoji": "🚀", "nested": {"k": [1, 2]}}
INJECTION = "x' or '1'='1'; drop table ops.export_requests; --"
EXPORT_MODELS = (
    "fct_wallet_transactions", "fct_wallet_authorizations", "fct_purchases",
    "fct_wallet_referrals", "dim_wallet_users",
)  # fmt: skip


def _drop(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in (*PROJECT_SCHEMAS, SRC):
            conn.execute(f"drop schema if exists {schema} cascade")


@pytest.fixture(scope="module")
def wallet():
    """The wallet datasets built from 3 simulated days and one hand-made awkward user."""
    url = os.environ["WAREHOUSE_URL"]
    _drop(url)
    with psycopg.connect(url) as app:
        create_tables(app, schema=SRC)
        simulate_wallet(app, days=3, events_per_day=300, seed=11, end=END, schema=SRC)
        app.execute(
            f"insert into {SRC}.users values (999999, %s, 'odd@example.com', 'user', "
            "'2026-03-30 08:00:00+00')",
            [TRICKY_NAME],
        )
        app.execute(
            f"insert into {SRC}.wallet_ledger values ('01KZZZZZZZZZZZZZZZZZZZZZZZ', 999999, "
            "'regular', 'credit', 'purchase', 100, 100, 0, %s, %s, '2026-03-30 09:00:00+00')",
            ['ref,with "quotes"', json.dumps(TRICKY_METADATA)],
        )
        app.commit()
    engine = source_engine(url)
    try:
        with psycopg.connect(url) as conn:
            for spec in SOURCE_TABLES:
                if spec.system == "wallet":
                    extract_load(conn, engine, replace(spec, schema=SRC))
    finally:
        engine.dispose()
    run_dbt("run", "--quiet", "--select", *(f"+{model}" for model in EXPORT_MODELS))
    yield url
    _drop(url)


@pytest.fixture
def conn(wallet):
    with psycopg.connect(wallet) as connection:
        yield connection


def _request(conn, dataset, type_="csv", filters=None, **kwargs) -> dict:
    return create_request(conn, dataset, type_, RANGE if filters is None else filters, **kwargs)


def _filters(dataset: str) -> dict:
    return {} if dataset == "users" else dict(RANGE)


def _reference(conn, dataset: str, as_text: bool) -> list:
    """The dataset's rows by an independent, hand-written query (UTC text, or jsonb)."""
    ds = DATASETS[dataset]
    schema, table = ds.relation
    cols = ", ".join(f"{c}::text" if as_text else c for c in ds.columns)
    where = (
        "true"
        if dataset == "users"
        else f"{ds.date_column} >= '2026-03-01 00:00+00' and {ds.date_column} < '2026-04-01'"
    )
    query = f"select {cols} from {schema}.{table} where {where} order by {', '.join(ds.order_by)}"
    conn.execute("set timezone = 'UTC'")
    if as_text:
        rows = conn.execute(query).fetchall()
        return [["" if v is None else v for v in row] for row in rows]
    return [r[0] for r in conn.execute(f"select to_jsonb(t) from ({query}) as t").fetchall()]


@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("type_", ["csv", "json"])
def test_dataset_reads_back_equal_to_its_query(conn, tmp_path, dataset, type_):
    request = _request(conn, dataset, type_, _filters(dataset))
    assert request["status"] == "preparing", request
    done = run_export(conn, request["id"], directory=tmp_path)
    assert done["status"] == "ready", done
    path = Path(done["file_path"])
    assert path.parent == tmp_path
    assert path.name.startswith(f"{dataset}_") and path.name.endswith(f"_{done['id']}.{type_}")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no partial file left
    assert done["completed_at"] is not None
    assert (done["expires_at"] - done["completed_at"]).total_seconds() == 24 * 3600
    if type_ == "csv":
        with open(path, newline="", encoding="utf-8") as f:
            header, *rows = list(csv.reader(f))
        assert header == list(DATASETS[dataset].columns)
        expected = _reference(conn, dataset, as_text=True)
    else:
        rows = json.loads(path.read_text(encoding="utf-8"))
        assert all(list(row) == list(DATASETS[dataset].columns) for row in rows)
        expected = _reference(conn, dataset, as_text=False)
    assert len(rows) > 0
    assert rows == expected
    assert done["actual_rows"] == done["estimated_rows"] == len(rows)


def test_csv_escapes_commas_quotes_newlines_and_unicode(conn, tmp_path):
    request = _request(conn, "transactions", filters={**RANGE, "user_id": "999999"})
    done = run_export(conn, request["id"], directory=tmp_path)
    text = Path(done["file_path"]).read_text(encoding="utf-8")
    # seed 002's Test Scenario 3: quotes doubled inside a quoted field
    assert '"O\'Brien, ""Bob""\nsecond line, ünïcødé ✓ 🚀"' in text
    assert '"ref,with ""quotes"""' in text
    (row,) = list(csv.DictReader(io.StringIO(text, newline="")))
    assert row["username"] == TRICKY_NAME
    assert row["reference_id"] == 'ref,with "quotes"'
    assert json.loads(row["metadata"]) == TRICKY_METADATA
    assert row["occurred_at"] == "2026-03-30 09:00:00+00"
    assert done["actual_rows"] == 1


def test_json_is_valid_and_keeps_types(conn, tmp_path):
    request = _request(conn, "transactions", "json", {**RANGE, "user_id": 999999})
    done = run_export(conn, request["id"], directory=tmp_path)
    (row,) = json.loads(Path(done["file_path"]).read_text(encoding="utf-8"))
    assert row["username"] == TRICKY_NAME
    assert row["metadata"] == TRICKY_METADATA  # jsonb stays an object, not a string
    assert row["amount"] == 100
    empty = _request(conn, "transactions", "json", {**RANGE, "user_id": "-1"})
    done = run_export(conn, empty["id"], directory=tmp_path)
    assert json.loads(Path(done["file_path"]).read_text()) == []
    assert done["actual_rows"] == 0


@pytest.mark.parametrize(
    ("dataset", "filters", "code", "message"),
    [
        ("transactions", {"from": "2025-01-01", "to": "2026-01-01"}, "business_rule_violation",
         "Date range cannot exceed 365 days (2025-01-01 … 2026-01-01 is 366)"),
        ("ledger", RANGE, "validation_error",
         "Unknown dataset 'ledger': choose from transactions, purchases, referrals, "
         "authorizations, users"),
        ("purchases", {**RANGE, "direction": "debit"}, "validation_error",
         "Unknown filter 'direction' for dataset purchases: allowed are from, to, user_id, "
         "status, provider"),
        ("transactions", {"from": "2026-03-01"}, "validation_error",
         "from and to date parameters are required"),
        ("transactions", {"from": "2026-02-30", "to": "2026-03-31"}, "validation_error",
         "Filter from must be a date YYYY-MM-DD, got '2026-02-30'"),
        ("transactions", {"from": "2026-03-31", "to": "2026-03-01"}, "validation_error",
         "from (2026-03-31) is after to (2026-03-01)"),
        ("referrals", {**RANGE, "status": ["pending"]}, "validation_error",
         "Filter status must be a single text or integer value, got ['pending']"),
    ],
)  # fmt: skip
def test_invalid_requests_fail_with_a_clear_message(conn, dataset, filters, code, message):
    request = _request(conn, dataset, filters=filters)
    assert request["status"] == "failed"
    assert (request["error_code"], request["error_message"]) == (code, message)
    # a row inserted directly (an admin tool) fails the same way when the job runs it
    direct_id = new_id()
    conn.execute(
        "insert into ops.export_requests (id, dataset, filters) values (%s, %s, %s)",
        [direct_id, dataset, json.dumps(filters)],
    )
    conn.commit()
    direct = run_export(conn, direct_id)
    assert (direct["status"], direct["error_code"], direct["error_message"]) == (
        "failed", code, message,
    )  # fmt: skip
    assert direct["file_path"] is None


def test_a_year_is_allowed_and_the_row_limit_is_a_business_rule(conn, tmp_path):
    year = _request(conn, "transactions", filters={"from": "2025-04-01", "to": "2026-03-31"})
    assert year["status"] == "preparing" and year["estimated_rows"] > 2
    over = _request(conn, "transactions", max_rows=2)
    assert over["status"] == "failed"
    assert over["error_code"] == "business_rule_violation"
    assert over["error_message"].startswith("Export of transactions would have ")
    assert "rows; the limit is 2 rows per export" in over["error_message"]
    # the job checks again: rows may have landed since the request
    assert run_export(conn, year["id"], directory=tmp_path, max_rows=2)["status"] == "failed"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_sql_injection_in_every_filter_is_a_plain_value(conn, tmp_path, dataset):
    for name in DATASETS[dataset].filters:
        request = _request(conn, dataset, "csv", {**_filters(dataset), name: INJECTION})
        done = run_export(conn, request["id"], directory=tmp_path)
        assert done["status"] == "ready", done
        assert done["actual_rows"] == 0
        with open(done["file_path"], newline="") as f:
            header = list(csv.reader(f))
        assert header == [list(DATASETS[dataset].columns)]
        assert get_request(conn, request["id"])["filters"][name] == INJECTION
    assert conn.execute("select count(*) from marts.fct_wallet_transactions").fetchone()[0] > 0


def test_a_request_runs_once(conn, tmp_path):
    request = _request(conn, "purchases")
    first = run_export(conn, request["id"], directory=tmp_path)
    again = run_export(conn, request["id"], directory=tmp_path)
    assert again == first
    assert len(list(tmp_path.iterdir())) == 1


def _pending(conn) -> None:
    """Nothing else preparing: earlier tests' requests are settled."""
    conn.execute("update ops.export_requests set status = 'expired' where status = 'preparing'")
    conn.commit()


def test_sensor_then_the_real_dagster_job(conn, wallet, tmp_path, monkeypatch):
    monkeypatch.setenv("ANALYTICS_HOME", str(tmp_path))
    _pending(conn)
    warehouse = WarehouseResource(url=wallet)
    requests = [
        _request(conn, "transactions", "csv", {**RANGE, "direction": "debit"}),
        _request(conn, "users", "json", {"role": "user"}),
    ]
    _request(conn, "ledger")  # failed at once: never launched
    instance = DagsterInstance.ephemeral()
    context = build_sensor_context(instance=instance, resources={"warehouse": warehouse})
    run_requests = export_request_sensor(context)
    assert [r.run_key for r in run_requests] == [r["id"] for r in requests]
    assert len({r.run_key for r in run_requests}) == len(run_requests)
    for run_request in run_requests:
        result = export_file_job.execute_in_process(
            run_config=run_request.run_config,
            resources={"warehouse": warehouse},
            instance=instance,
            tags=run_request.tags,
        )
        assert result.success
    for request in requests:
        done = get_request(conn, request["id"])
        assert done["status"] == "ready"
        path = Path(done["file_path"])
        assert path.parent == tmp_path / "exports" and path.exists()
    # nothing left preparing: the next tick launches nothing
    skipped = export_request_sensor(build_sensor_context(resources={"warehouse": warehouse}))
    assert "no export request is preparing" in str(skipped.skip_message)


def test_the_sensor_never_launches_a_request_twice(conn, wallet):
    _pending(conn)
    warehouse = WarehouseResource(url=wallet)
    instance = DagsterInstance.ephemeral()
    first, second = (_request(conn, "purchases")["id"] for _ in range(2))

    def tick():
        context = build_sensor_context(instance=instance, resources={"warehouse": warehouse})
        return export_request_sensor(context)

    (launched,) = [r for r in tick() if r.run_key == first]
    # the run starts but dies before it marks the request (still preparing)
    instance.create_run_for_job(export_file_job, run_config=launched.run_config, tags=launched.tags)
    assert [r.run_key for r in tick()] == [second]
    (launched,) = [r for r in tick() if r.run_key == second]
    instance.create_run_for_job(export_file_job, run_config=launched.run_config, tags=launched.tags)
    assert "2 preparing export request(s) already have a run" in tick().skip_message
    _pending(conn)


def test_the_job_fails_a_run_whose_request_is_invalid(conn, wallet, tmp_path, monkeypatch):
    monkeypatch.setenv("ANALYTICS_HOME", str(tmp_path))
    conn.execute(
        "insert into ops.export_requests (id, dataset, filters) "
        "values ('01KZZZZZZZZZZZZZZZZZZZZZZ1', 'users', '{\"shoe_size\": 42}')"
    )
    conn.commit()
    result = export_file_job.execute_in_process(
        run_config={"ops": {"write_export_file": {"config": {
            "request_id": "01KZZZZZZZZZZZZZZZZZZZZZZ1"}}}},
        resources={"warehouse": WarehouseResource(url=wallet)},
        raise_on_error=False,
    )  # fmt: skip
    assert not result.success
    failed = get_request(conn, "01KZZZZZZZZZZZZZZZZZZZZZZ1")
    assert failed["error_code"] == "validation_error"
    assert "Unknown filter 'shoe_size' for dataset users" in failed["error_message"]
    assert not (tmp_path / "exports").exists()


def test_a_failure_while_writing_leaves_no_file_and_fails_the_request(conn, tmp_path, monkeypatch):
    from dagster_project.exports import service

    def broken(conn, p, out):
        out.write(b"id,user_id\n1,2\n")
        raise OSError("disk full")

    monkeypatch.setattr(service, "_write_csv", broken)
    request = _request(conn, "purchases")
    with pytest.raises(OSError, match="disk full"):
        run_export(conn, request["id"], directory=tmp_path)
    failed = get_request(conn, request["id"])
    assert (failed["status"], failed["error_code"]) == ("failed", "export_error")
    assert failed["error_message"] == "OSError: disk full"
    assert list(tmp_path.iterdir()) == []


def test_two_requests_at_once_both_complete(conn, wallet, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    ids = [_request(conn, "transactions", t)["id"] for t in ("csv", "json")]

    def run(request_id):
        with psycopg.connect(wallet) as own:
            return run_export(own, request_id, directory=tmp_path)

    with ThreadPoolExecutor(4) as pool:  # each request twice, all at once
        done = list(pool.map(run, ids + ids))
    assert [d["status"] for d in done] == ["ready"] * 4
    assert done[:2] == done[2:]  # the second run of a request found it written
    assert len(list(tmp_path.iterdir())) == 2


def test_cli_request_wait_status_and_list(conn, tmp_path, monkeypatch, capsys):
    from dagster_project.cli import main

    monkeypatch.setenv("ANALYTICS_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    argv = ["export", "request", "--dataset", "transactions", "--format", "csv",
            "--from", "2026-03-29", "--to", "2026-03-31", "--filter", "direction=debit",
            "--requested-by", "ana", "--wait"]  # fmt: skip
    assert main(argv) == 0
    request_id, path = capsys.readouterr().out.split()
    assert Path(path).parent == tmp_path / "exports" and Path(path).exists()
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and {row["direction"] for row in rows} == {"debit"}

    assert main(["export", "status", request_id]) == 0
    shown = capsys.readouterr().out
    assert "ready" in shown and "ana" in shown and '"direction": "debit"' in shown
    assert main(["export", "list", "--limit", "5"]) == 0
    assert request_id in capsys.readouterr().out

    too_long = ["export", "request", "--dataset", "users", "--from", "2020-01-01",
                "--to", "2026-01-01"]  # fmt: skip
    assert main(too_long) == 1
    assert "business_rule_violation: Date range cannot exceed 365 days" in (capsys.readouterr().err)
    assert main(["export", "status", "01NOSUCHEXPORT0000000000000"]) == 1


def test_a_row_inserted_by_hand_gets_a_ulid_and_is_run(conn, tmp_path):
    from dagster_project.simulate.wallet import ulid_ms

    (request_id,) = conn.execute(
        "insert into ops.export_requests (requested_by, dataset, filters) "
        'values (\'metabase\', \'referrals\', \'{"from": "2026-03-01", "to": "2026-03-31"}\') '
        "returning id"
    ).fetchone()
    now_ms = conn.execute("select (extract(epoch from now()) * 1000)::bigint").fetchone()[0]
    conn.commit()
    assert len(request_id) == 26 and abs(ulid_ms(request_id) - now_ms) < 60_000
    done = run_export(conn, request_id, directory=tmp_path)
    assert done["status"] == "ready" and done["actual_rows"] > 0
