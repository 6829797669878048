"""Exports (seed 002's Export Service) against the real warehouse: a simulated wallet (plus a
user and an entry whose text needs CSV escaping), YesGoddess and EverReach apps and a dozen
Redis gifts, landed and built by dbt; each dataset × format read back and compared with an
independent query; the validation rules and their messages; SQL injection through every
filter; the sensor and the real Dagster jobs; expiry and stuck requests."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import time
import uuid
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
import redis
from dagster import AssetKey, DagsterInstance, build_sensor_context, materialize

from dagster_project.assets.exports import ml_responses_export, ml_window
from dagster_project.exports.cleanup import expire_exports
from dagster_project.exports.datasets import DATASETS
from dagster_project.exports.ops import EXPORT_REQUEST_TAG, export_cleanup_job, export_file_job
from dagster_project.exports.service import (
    create_request,
    get_request,
    new_id,
    preparing_ids,
    run_export,
)
from dagster_project.ingest.extract_load import extract_load, source_engine
from dagster_project.ingest.redis_gifts import GiftKeys, sync_gifts
from dagster_project.ingest.source_tables import SOURCE_TABLES
from dagster_project.resources import WarehouseResource
from dagster_project.sensors import export_request_sensor
from dagster_project.simulate import everreach, yesgoddess
from dagster_project.simulate.wallet import create_tables, simulate_wallet
from tests import gift_fixture
from tests.conftest import PROJECT_SCHEMAS, run_dbt

SRC = "wallet_src"  # the wallet app database: a schema of the test database
APP_SCHEMAS = {"wallet": SRC, "yesgoddess": "yg_src", "everreach": "er_src"}
END = date(2026, 3, 31)
RANGE = {"from": "2026-03-01", "to": "2026-03-31"}
TRICKY_NAME = 'O\'Brien, "Bob"\nsecond line, ünïcødé ✓ 🚀'
TRICKY_METADATA = {"note": 'a, b "quoted"\nnew line', "emoji": "🚀", "nested": {"k": [1, 2]}}
INJECTION = "x' or '1'='1'; drop table ops.export_requests; --"
EXPORT_MODELS = (
    "fct_wallet_transactions", "fct_wallet_authorizations", "fct_purchases",
    "fct_wallet_referrals", "dim_wallet_users", "stg_yesgoddess__unredacted_events",
    "ml_response_samples", "fct_gift_funnel_daily",
)  # fmt: skip
# the gift fixture's days are relative to today
GIFT_RANGE = {
    "from": (gift_fixture.BASE - timedelta(days=110)).isoformat(),
    "to": gift_fixture.d(10).isoformat(),
}


def _drop(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in (*PROJECT_SCHEMAS, *APP_SCHEMAS.values()):
            conn.execute(f"drop schema if exists {schema} cascade")


@pytest.fixture(scope="module")
def warehouse():
    """Every export dataset built: 3 simulated days of each app, one hand-made awkward
    wallet user, the gift fixture synced from Redis."""
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
        _simulate_apps(app)
    engine = source_engine(url)
    try:
        with psycopg.connect(url) as conn:
            for spec in SOURCE_TABLES:
                if spec.system in APP_SCHEMAS:
                    extract_load(conn, engine, replace(spec, schema=APP_SCHEMAS[spec.system]))
            _sync_gifts(conn)
    finally:
        engine.dispose()
    run_dbt(
        "build", "--quiet", "--exclude-resource-type", "test",
        "--select", *(f"+{model}" for model in EXPORT_MODELS),
    )  # fmt: skip
    yield url
    _drop(url)


def _simulate_apps(app) -> None:
    yesgoddess.create_tables(app, schema=APP_SCHEMAS["yesgoddess"])
    yesgoddess.simulate_yesgoddess(
        app, days=3, events_per_day=400, seed=3, end=END, schema=APP_SCHEMAS["yesgoddess"],
        pii_share=0.2,
    )  # fmt: skip
    everreach.create_tables(app, schema=APP_SCHEMAS["everreach"])
    everreach.simulate_everreach(
        app, days=3, events_per_day=400, seed=3, end=END, schema=APP_SCHEMAS["everreach"]
    )


def _sync_gifts(conn) -> None:
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    prefix = f"test:{uuid.uuid4().hex[:8]}:gift:analytics:"
    try:
        gift_fixture.load(client, prefix)
        sync_gifts(conn, client, keys=GiftKeys(prefix))
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.unlink(*keys)


@pytest.fixture
def conn(warehouse):
    with psycopg.connect(warehouse) as connection:
        yield connection


def _request(conn, dataset, type_="csv", filters=None, **kwargs) -> dict:
    return create_request(conn, dataset, type_, RANGE if filters is None else filters, **kwargs)


def _filters(dataset: str) -> dict:
    return {"users": {}, "gift_funnel": dict(GIFT_RANGE)}.get(dataset, dict(RANGE))


def _reference(conn, dataset: str, as_text: bool) -> list:
    """The dataset's rows by an independent, hand-written query (UTC text, or jsonb)."""
    ds = DATASETS[dataset]
    schema, table = ds.relation
    cols = ", ".join(f"{c}::text" if as_text else c for c in ds.columns)
    where = {
        "users": "true",
        "gift_funnel": f"date between '{GIFT_RANGE['from']}' and '{GIFT_RANGE['to']}'",
    }.get(dataset, f"{ds.date_column} >= '2026-03-01 00:00+00' and {ds.date_column} < '2026-04-01'")
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
         "authorizations, users, events, ml_responses, gift_funnel"),
        ("transactions", {**RANGE, "include_pii": True}, "validation_error",
         "Unknown filter 'include_pii' for dataset transactions: allowed are from, to, "
         "user_id, token_type, direction, reason"),
        ("events", {**RANGE, "include_pii": "yes please"}, "validation_error",
         "Option include_pii must be true or false, got 'yes please'"),
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


def test_sensor_then_the_real_dagster_job(conn, warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("ANALYTICS_HOME", str(tmp_path))
    _pending(conn)
    warehouse = WarehouseResource(url=warehouse)
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
        # each file is a materialization of its dataset's export asset
        (event,) = instance.fetch_materializations(
            AssetKey(["exports", request["dataset"]]), limit=10
        ).records
        assert event.asset_materialization.metadata["request_id"].value == request["id"]
        path = Path(done["file_path"])
        assert path.parent == tmp_path / "exports" and path.exists()
    # nothing left preparing: the next tick launches nothing
    skipped = export_request_sensor(build_sensor_context(resources={"warehouse": warehouse}))
    assert "no export request is preparing" in str(skipped.skip_message)


def test_the_sensor_never_launches_a_request_twice(conn, warehouse):
    _pending(conn)
    warehouse = WarehouseResource(url=warehouse)
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


def test_the_job_fails_a_run_whose_request_is_invalid(conn, warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("ANALYTICS_HOME", str(tmp_path))
    conn.execute(
        "insert into ops.export_requests (id, dataset, filters) "
        "values ('01KZZZZZZZZZZZZZZZZZZZZZZ1', 'users', '{\"shoe_size\": 42}')"
    )
    conn.commit()
    result = export_file_job.execute_in_process(
        run_config={"ops": {"write_export_file": {"config": {
            "request_id": "01KZZZZZZZZZZZZZZZZZZZZZZ1"}}}},
        resources={"warehouse": WarehouseResource(url=warehouse)},
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


def test_two_requests_at_once_both_complete(conn, warehouse, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    ids = [_request(conn, "transactions", t)["id"] for t in ("csv", "json")]

    def run(request_id):
        with psycopg.connect(warehouse) as own:
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


EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def test_events_redact_pii_unless_the_request_includes_it(conn, tmp_path):
    redacted = run_export(conn, _request(conn, "events", "json")["id"], directory=tmp_path)
    unredacted_request = _request(conn, "events", "json", {**RANGE, "include_pii": "true"})
    unredacted = run_export(conn, unredacted_request["id"], directory=tmp_path)
    plain = json.loads(Path(redacted["file_path"]).read_text())
    full = json.loads(Path(unredacted["file_path"]).read_text())
    assert [r["event_id"] for r in plain] == [r["event_id"] for r in full]
    assert not any(EMAIL.search(json.dumps(r["props"])) for r in plain)
    with_email = [r for r in full if EMAIL.search(json.dumps(r["props"]))]
    assert with_email, "the simulator's PII share should put emails in some props"
    # the unredacted props are as they landed: some arrival of the event in raw has them
    pairs = [[r["event_id"], json.dumps(r["props"])] for r in with_email]
    matched = conn.execute(
        "select count(distinct pair.id) from jsonb_to_recordset(%s::jsonb) "
        "as pair(id text, props text) join raw.yesgoddess__events as raw "
        "on raw.id = pair.id and raw.props_json = pair.props::jsonb",
        [json.dumps([{"id": i, "props": p} for i, p in pairs])],
    ).fetchone()[0]
    assert matched == len(with_email)


def _ready_export(conn, tmp_path) -> dict:
    return run_export(conn, _request(conn, "purchases")["id"], directory=tmp_path)


def test_expiry_deletes_the_file_and_marks_the_row(conn, tmp_path):
    old, fresh = _ready_export(conn, tmp_path), _ready_export(conn, tmp_path)
    conn.execute(
        "update ops.export_requests set expires_at = now() - interval '1 second' where id = %s",
        [old["id"]],
    )
    conn.commit()
    killed = tmp_path / ".purchases_x.csv.partial"  # a writer killed an hour ago
    killed.write_text("half")
    os.utime(killed, (time.time() - 7200, time.time() - 7200))
    done = expire_exports(conn, tmp_path)
    assert old["id"] in done.expired and fresh["id"] not in done.expired
    assert done.files_deleted >= 1 and done.partials_deleted == 1
    assert not Path(old["file_path"]).exists() and not killed.exists()
    assert Path(fresh["file_path"]).exists()
    assert get_request(conn, old["id"])["status"] == "expired"
    assert get_request(conn, fresh["id"])["status"] == "ready"
    assert old["id"] not in expire_exports(conn, tmp_path).expired  # once


def _age(conn, request_id: str, minutes: int) -> None:
    conn.execute(
        "update ops.export_requests set created_at = now() - make_interval(mins => %s) "
        "where id = %s",
        [minutes, request_id],
    )
    conn.commit()


def test_a_request_whose_run_died_is_failed_with_the_reason(conn, warehouse):
    _pending(conn)
    resource = WarehouseResource(url=warehouse)
    instance = DagsterInstance.ephemeral()
    died, young, never_run = (_request(conn, "purchases")["id"] for _ in range(3))
    for request_id in (died, young):
        run = instance.create_run_for_job(
            export_file_job,
            run_config={"ops": {"write_export_file": {"config": {"request_id": request_id}}}},
            tags={EXPORT_REQUEST_TAG: request_id},
        )
        instance.report_run_failed(run)  # the process died before it marked the request
    for request_id in (died, never_run):
        _age(conn, request_id, 6)

    context = build_sensor_context(instance=instance, resources={"warehouse": resource})
    launched = export_request_sensor(context)
    # a request no run has tried yet is launched, however old; the dead one is failed
    assert [r.run_key for r in launched] == [never_run]
    failed = get_request(conn, died)
    assert (failed["status"], failed["error_code"]) == ("failed", "export_error")
    assert failed["error_message"].startswith("Timeout: no live export_file run for 5 minutes")
    assert f"export_request_id={died}" in failed["error_message"]
    assert get_request(conn, young)["status"] == "preparing"  # not 5 minutes yet
    _pending(conn)


def run_cleanup_job(warehouse: str) -> dict:
    """export_cleanup_job through Dagster; its output's metadata."""
    result = export_cleanup_job.execute_in_process(
        resources={"warehouse": WarehouseResource(url=warehouse)},
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    (output,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    return {k: v.value for k, v in output.step_output_data.metadata.items()}


def test_the_cleanup_job_runs_in_dagster(conn, warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("ANALYTICS_HOME", str(tmp_path))
    _pending(conn)
    ready = run_export(conn, _request(conn, "referrals")["id"])
    stuck = _request(conn, "referrals")["id"]
    _age(conn, stuck, 10)  # no run at all, and the sensor is off
    conn.execute("update ops.export_requests set expires_at = now() where id = %s", [ready["id"]])
    conn.commit()
    meta = run_cleanup_job(warehouse)
    assert meta["expired"] >= 1 and meta["files_deleted"] >= 1 and meta["stuck_failed"] == 1
    assert ready["id"] in meta["expired_ids"] and meta["stuck_ids"] == stuck
    assert not Path(ready["file_path"]).exists()
    assert get_request(conn, stuck)["status"] == "failed"


def test_the_nightly_ml_dataset_asset_writes_the_window(conn, warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("ANALYTICS_HOME", str(tmp_path))
    _pending(conn)
    window = ml_window(date.today(), 365)  # the simulated March lies in the last year
    result = materialize(
        [ml_responses_export],
        resources={"warehouse": WarehouseResource(url=warehouse)},
        run_config={"ops": {"exports__ml_responses": {"config": {"days": 365}}}},
    )
    assert result.success
    (mat,) = result.asset_materializations_for_node("exports__ml_responses")
    meta = {k: v.value for k, v in mat.metadata.items()}
    request = get_request(conn, meta["request_id"])
    assert request["status"] == "ready" and request["requested_by"].startswith("dagster run ")
    assert (meta["from"], meta["to"]) == (window["from"], window["to"])
    expected = conn.execute(
        "select count(*) from marts.ml_response_samples where created_at >= %s::date "
        "and created_at < %s::date + 1",
        [window["from"], window["to"]],
    ).fetchone()[0]
    with open(meta["file"], newline="") as f:
        assert len(list(csv.reader(f))) - 1 == expected == meta["rows"] > 0
    assert (request["expires_at"] - request["completed_at"]).total_seconds() == 48 * 3600
    # finished when recorded: the export_request_sensor has nothing to launch
    assert preparing_ids(conn) == []


def test_every_export_asset_is_executable_so_ui_and_cli_agree():
    from dagster_project.definitions import defs

    graph = defs.resolve_asset_graph()
    exports = {key for key in graph.get_all_asset_keys() if key.path[0] == "exports"}
    assert exports == {AssetKey(["exports", name]) for name in DATASETS}
    assert exports <= set(graph.executable_asset_keys)


def test_materializing_a_wallet_export_asset_writes_its_window(
    conn, warehouse, tmp_path, monkeypatch
):
    from dagster_project.assets.exports import EXPORT_ASSETS

    monkeypatch.setenv("ANALYTICS_HOME", str(tmp_path))
    _pending(conn)
    (transactions,) = [a for a in EXPORT_ASSETS if a.key == AssetKey(["exports", "transactions"])]
    window = ml_window(date.today(), 365)
    result = materialize(
        [transactions],
        resources={"warehouse": WarehouseResource(url=warehouse)},
        run_config={"ops": {"exports__transactions": {"config": {"days": 365}}}},
    )
    assert result.success
    (mat,) = result.asset_materializations_for_node("exports__transactions")
    meta = {k: v.value for k, v in mat.metadata.items()}
    expected = conn.execute(
        "select count(*) from marts.fct_wallet_transactions where occurred_at >= %s::date "
        "and occurred_at < %s::date + 1",
        [window["from"], window["to"]],
    ).fetchone()[0]
    with open(meta["file"], newline="") as f:
        assert len(list(csv.reader(f))) - 1 == expected == meta["rows"] > 0
    assert get_request(conn, meta["request_id"])["status"] == "ready"
