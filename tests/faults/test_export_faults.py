"""Hostile export requests: ids, dataset names, filters and file paths nobody planned for.

The rule (docs/RELIABILITY.md): a bad value gets a clear error naming the value and the
rule, the other requests go on, the next run is green, and no file is ever written (or
deleted) outside ANALYTICS_HOME/exports/. Every test compares a listing of this run's temp
dirs before and after; rows are inserted by hand as an admin tool would.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from pathlib import Path

import psycopg
import pytest
from dagster import DagsterInstance, build_sensor_context
from psycopg.types.json import Jsonb

from dagster_project.exports import service
from dagster_project.exports.datasets import DATASETS
from dagster_project.exports.ops import export_file_job
from dagster_project.exports.service import (
    ULID_RULE,
    ExportError,
    create_request,
    export_now,
    get_request,
    plan,
    resolve_inside,
    run_export,
)
from dagster_project.ingest.extract_load import extract_load_system
from dagster_project.resources import WarehouseResource
from dagster_project.sensors import export_request_sensor
from dagster_project.simulate.wallet import create_tables, simulate_wallet
from tests.conftest import PROJECT_SCHEMAS, run_dbt
from tests.integration.test_exports import run_cleanup_job

SRC = "wallet_faults_src"
RANGE = {"from": "2026-03-01", "to": "2026-03-31"}
DATASET_LIST = ", ".join(DATASETS)
# 26 characters, so the table's length check lets it in: with the old name builder it
# climbed from exports/ into ANALYTICS_HOME/x/x/…/x.csv
TRAVERSAL_ID = "../../../" + "x/" * 8 + "x"
POISON_IDS = ("../../../" + "y/" * 8 + "y", "01jzzzzzzzzzzzzzzzzzzzzzzz")  # not in BAD_IDS
BAD_IDS = [
    TRAVERSAL_ID,
    "../../etc/passwd",
    "01kzzzzzzzzzzzzzzzzzzzzzzz",  # lower case
    "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",  # first character past 7: more than 128 bits
    "01KZZZZZZZZZZZZZZZZZZZZZZU",  # U is not Crockford base32
    "01KZZZZZZZZZZZZZZZZZZZZZZ",  # 25 characters
    "",
]
SYSTEM_TARGETS = ("/etc/passwd.csv", "/etc/passwd.json", "/x")
INJECTION = "x' or '1'='1'; drop table ops.export_requests; --"


def _id_message(request_id: str) -> str:
    return f"Export id {request_id!r} is not valid: {ULID_RULE}"


@pytest.fixture(scope="module")
def warehouse():
    """Two simulated wallet days landed, and the two export relations these tests read."""
    url = os.environ["WAREHOUSE_URL"]
    _drop(url)
    with psycopg.connect(url) as app:
        create_tables(app, schema=SRC)
        simulate_wallet(app, days=2, events_per_day=200, seed=5, end=date(2026, 3, 31), schema=SRC)
        app.commit()
    with psycopg.connect(url) as conn:
        extract_load_system(conn, url, "wallet", schema=SRC)
    run_dbt("run", "--quiet", "--select", "+fct_purchases", "+dim_wallet_users")
    yield url
    _drop(url)


def _drop(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in (*PROJECT_SCHEMAS, SRC):
            conn.execute(f"drop schema if exists {schema} cascade")


@pytest.fixture
def conn(warehouse):
    with psycopg.connect(warehouse) as connection:
        # earlier tests' requests are settled: each test sees only its own preparing ones
        connection.execute("update ops.export_requests set status = 'expired' "
                           "where status = 'preparing'")  # fmt: skip
        connection.commit()
        yield connection


class Home:
    """ANALYTICS_HOME of one test, and every file and folder of this pytest run's temp
    dirs that is not in ANALYTICS_HOME/exports/ (plus a few system paths a traversal
    would reach)."""

    def __init__(self, tmp_path: Path):
        self.root, self.path = tmp_path.parent, tmp_path / "home"
        self.exports = self.path / "exports"
        self.snapshot()

    def outside(self) -> set[str]:
        found = {str(p) for p in self.root.rglob("*") if not p.is_relative_to(self.exports)}
        return found | {target for target in SYSTEM_TARGETS if os.path.lexists(target)}

    def snapshot(self) -> None:
        self.before = self.outside()

    def assert_nothing_outside(self) -> None:
        assert self.outside() == self.before


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ANALYTICS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster"))
    tmp_path.joinpath("home", "dagster").mkdir(parents=True)
    return Home(tmp_path)


def _insert(conn, dataset="purchases", filters=None, request_id=None, type_="csv") -> str:
    """A row as an admin tool writes it: no validation on the way in."""
    (rid,) = conn.execute(
        "insert into ops.export_requests (id, type, dataset, filters) "
        "values (coalesce(%s, ops.new_ulid()), %s, %s, %s) returning id",
        [request_id, type_, dataset, Jsonb(RANGE if filters is None else filters)],
    ).fetchone()
    conn.commit()
    return rid


def _failed_with(conn, request_id: str) -> tuple[str, str]:
    status, code, message, path = conn.execute(
        "select status, error_code, error_message, file_path from ops.export_requests "
        "where id = %s",
        [request_id],
    ).fetchone()
    conn.commit()
    assert (status, path) == ("failed", None)
    return code, message


def _tick(warehouse: str, instance: DagsterInstance):
    resources = {"warehouse": WarehouseResource(url=warehouse)}
    return export_request_sensor(build_sensor_context(instance=instance, resources=resources))


@pytest.mark.parametrize("bad", BAD_IDS)
def test_an_id_that_is_no_ulid_is_refused_wherever_it_enters(conn, home, capsys, bad):
    from dagster_project.cli import main

    with pytest.raises(ExportError, match="is not valid") as raised:
        get_request(conn, bad)
    assert raised.value.message == _id_message(bad)
    p = plan("purchases", RANGE)
    with pytest.raises(ExportError) as raised:
        service._file_path(p, "csv", bad, None)
    assert raised.value.message == _id_message(bad)
    assert main(["export", "status", bad]) == 1
    err = capsys.readouterr().err
    assert f"validation_error: {_id_message(bad)}" in err and "Traceback" not in err
    if len(bad) == 26:  # the table's own check lets exactly these in by hand
        request_id = _insert(conn, request_id=bad)
        assert run_export(conn, request_id)["status"] == "failed"
        assert _failed_with(conn, request_id) == ("validation_error", _id_message(bad))
    home.assert_nothing_outside()


def test_a_dataset_name_that_climbs_out_is_refused(conn, home):
    request = create_request(conn, "../../etc/passwd", "csv", RANGE)
    assert request["error_message"] == (
        f"Unknown dataset '../../etc/passwd': choose from {DATASET_LIST}"
    )
    with pytest.raises(ExportError, match=r"Unknown dataset '\.\./\.\./etc/passwd'"):
        export_now(conn, "../../etc/passwd", "csv", RANGE, "ana")
    with pytest.raises(ExportError) as raised:
        create_request(conn, "purchases\x00/../x", "csv", RANGE)
    assert raised.value.message == (
        "dataset must not contain a NUL byte, got 'purchases\\x00/../x'"
    )
    # the path builder checks the name again, whatever reached it
    renamed = replace(plan("purchases", RANGE), dataset=replace(DATASETS["purchases"],
                      name="../../etc/passwd"))  # fmt: skip
    with pytest.raises(ExportError) as raised:
        service._file_path(renamed, "csv", service.new_id(), None)
    assert raised.value.message == (
        "Dataset name '../../etc/passwd' must not contain '/', '\\', '..' or a NUL byte"
    )
    home.assert_nothing_outside()


def test_requested_by_is_a_label_never_a_path(conn, home):
    request = create_request(conn, "purchases", "csv", RANGE, requested_by="../../etc/passwd")
    done = run_export(conn, request["id"])
    assert done["status"] == "ready" and done["requested_by"] == "../../etc/passwd"
    assert Path(done["file_path"]).parent == home.exports
    assert "etc" not in Path(done["file_path"]).name
    direct = export_now(conn, "users", "json", {}, "../../etc/passwd")
    assert Path(direct["file_path"]).parent == home.exports
    with pytest.raises(ExportError) as raised:
        create_request(conn, "purchases", "csv", RANGE, requested_by="ana\x00/../../x")
    assert raised.value.message == (
        "requested_by must not contain a NUL byte, got 'ana\\x00/../../x'"
    )
    home.assert_nothing_outside()


@pytest.mark.parametrize(
    ("dataset", "filters", "message"),
    [
        ("users", {"from": None, "to": None}, "Filters from, to must not be null"),
        ("purchases", {**RANGE, "status": None}, "Filter status must not be null"),
        ("purchases", {"from": "2026-03-01", "to": None}, "Filter to must not be null"),
        ("events", {**RANGE, "include_pii": None}, "Filter include_pii must not be null"),
    ],
)
def test_a_null_filter_is_refused_not_ignored(conn, home, dataset, filters, message):
    message += ": give it a value or leave it out"
    request = create_request(conn, dataset, "csv", filters)
    assert (request["status"], request["error_message"]) == ("failed", message)
    by_hand = _insert(conn, dataset, filters)
    run_export(conn, by_hand)
    assert _failed_with(conn, by_hand) == ("validation_error", message)
    home.assert_nothing_outside()


def test_an_unknown_format_is_refused(conn, home):
    with pytest.raises(ExportError) as raised:
        create_request(conn, "purchases", "xml", RANGE)
    assert raised.value.message == "Unknown format 'xml': choose from csv, json"
    with pytest.raises(ExportError) as raised:
        export_now(conn, "purchases", "../../x", RANGE, "ana")
    assert raised.value.message == "Unknown format '../../x': choose from csv, json"
    # the table refuses one by hand too (the sensor's screening covers a table without it)
    with pytest.raises(psycopg.errors.CheckViolation):
        _insert(conn, type_="xml")
    conn.rollback()
    home.assert_nothing_outside()


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"from": "2026-03-31", "to": "2026-03-01"}, "from (2026-03-31) is after to (2026-03-01)"),
        ({"from": -30, "to": -1}, "Filter from must be a date YYYY-MM-DD, got -30"),
        ({"from": "2026-03-01", "to": "-2026-03-31"},
         "Filter to must be a date YYYY-MM-DD, got '-2026-03-31'"),
        ({"from": "2026-03-01", "to": "../../etc/passwd"},
         "Filter to must be a date YYYY-MM-DD, got '../../etc/passwd'"),
    ],
)  # fmt: skip
def test_a_negative_or_reversed_range_is_refused(conn, home, filters, message):
    request = create_request(conn, "purchases", "csv", filters)
    assert (request["status"], request["error_message"]) == ("failed", message)
    by_hand = _insert(conn, "purchases", filters)
    run_export(conn, by_hand)
    assert _failed_with(conn, by_hand) == ("validation_error", message)
    home.assert_nothing_outside()


def test_sql_injection_in_each_filter_is_a_plain_value_or_a_named_error(conn, home):
    before = conn.execute("select count(*) from marts.fct_purchases").fetchone()
    for dataset, base in (("purchases", RANGE), ("users", {})):
        for name in DATASETS[dataset].filters:
            done = run_export(
                conn, create_request(conn, dataset, "csv", {**base, name: INJECTION})["id"]
            )
            assert (done["status"], done["actual_rows"]) == ("ready", 0), done
            assert done["filters"][name] == INJECTION
    as_name = create_request(conn, "purchases", "csv", {**RANGE, INJECTION: "1"})
    assert as_name["error_message"] == (
        f"Unknown filter {INJECTION!r} for dataset purchases: allowed are from, to, user_id, "
        "status, provider"
    )
    as_date = create_request(conn, "purchases", "csv", {**RANGE, "from": INJECTION})
    assert as_date["error_message"] == f"Filter from must be a date YYYY-MM-DD, got {INJECTION!r}"
    as_dataset = create_request(conn, INJECTION, "csv", RANGE)
    assert (
        as_dataset["error_message"] == f"Unknown dataset {INJECTION!r}: choose from {DATASET_LIST}"
    )
    assert conn.execute("select count(*) from marts.fct_purchases").fetchone() == before
    home.assert_nothing_outside()


def test_poison_rows_are_failed_by_the_sensor_and_the_good_one_completes(conn, warehouse, home):
    # a table made before the format check (or with it dropped) takes any type by hand
    conn.execute("alter table ops.export_requests drop constraint export_requests_type_check")
    conn.commit()
    try:
        poison = {_insert(conn, request_id=bad): _id_message(bad) for bad in POISON_IDS}
        poison |= {
            _insert(conn, "../../etc/passwd"): (
                f"Unknown dataset '../../etc/passwd': choose from {DATASET_LIST}"
            ),
            _insert(conn, type_="../x"): "Unknown format '../x': choose from csv, json",
            _insert(conn, filters={"from": "2026-03-31", "to": "2026-03-01"}): (
                "from (2026-03-31) is after to (2026-03-01)"
            ),
            _insert(conn, filters={"from": -1, "to": -5}): (
                "Filter from must be a date YYYY-MM-DD, got -1"
            ),
            _insert(conn, "users", {"role": None}): (
                "Filter role must not be null: give it a value or leave it out"
            ),
        }
        good = _insert(conn)
        instance = DagsterInstance.ephemeral()

        (launched,) = _tick(warehouse, instance)

        assert launched.run_key == good
        for request_id, message in poison.items():
            assert _failed_with(conn, request_id) == ("validation_error", message)
        result = export_file_job.execute_in_process(
            run_config=launched.run_config, instance=instance, tags=launched.tags,
            resources={"warehouse": WarehouseResource(url=warehouse)},
        )  # fmt: skip
        assert result.success
        done = get_request(conn, good)
        assert done["status"] == "ready" and done["actual_rows"] > 0
        assert Path(done["file_path"]).parent == home.exports
        assert "no export request is preparing" in _tick(warehouse, instance).skip_message
    finally:
        conn.rollback()
        conn.execute("delete from ops.export_requests where type not in ('csv', 'json')")
        conn.execute("alter table ops.export_requests add constraint export_requests_type_check "
                     "check (type in ('csv', 'json'))")  # fmt: skip
        conn.commit()
    home.assert_nothing_outside()


def _insert_huge(conn, template: str) -> str:
    """A row whose filters hold a 5,000-digit number (`HUGE`): Python's int() refuses more
    than 4,300 digits, so it is written in SQL."""
    (request_id,) = conn.execute(
        "insert into ops.export_requests (dataset, filters) values ('purchases', "
        "replace(%s, 'HUGE', repeat('9', 5000))::jsonb) returning id",
        [template],
    ).fetchone()
    conn.commit()
    return request_id


def test_a_5000_digit_number_neither_crashes_a_tick_nor_a_read(conn, warehouse, home, capsys):
    from dagster_project.cli import main

    as_value = _insert_huge(conn, '{"from": "2026-03-01", "to": "2026-03-31", "user_id": HUGE}')
    as_date = _insert_huge(conn, '{"from": HUGE, "to": "2026-03-31"}')

    (launched,) = _tick(warehouse, DagsterInstance.ephemeral())

    assert launched.run_key == as_value  # a plain value, compared as text like any other
    assert _failed_with(conn, as_date) == (
        "validation_error", f"Filter from must be a date YYYY-MM-DD, got '{'9' * 5000}'",
    )  # fmt: skip
    done = run_export(conn, as_value)
    assert (done["status"], done["actual_rows"]) == ("ready", 0)
    assert main(["export", "list", "--limit", "5"]) == 0 and as_date in capsys.readouterr().out
    home.assert_nothing_outside()


def test_cleanup_deletes_only_inside_the_exports_dir(conn, warehouse, home, tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("not an export")
    home.exports.mkdir(parents=True)
    (home.exports / "link.csv").symlink_to(precious)
    ours = run_export(conn, create_request(conn, "purchases", "csv", RANGE)["id"])
    foreign = [
        str(precious),
        str(home.exports / ".." / ".." / "precious.txt"),
        str(home.exports / "link.csv"),
    ]
    ids = [
        conn.execute(
            "insert into ops.export_requests (type, dataset, status, file_path, expires_at) "
            "values ('csv', 'purchases', 'ready', %s, now() - interval '1 hour') returning id",
            [path],
        ).fetchone()[0]
        for path in foreign
    ]
    conn.execute("update ops.export_requests set expires_at = now() where id = %s", [ours["id"]])
    conn.commit()
    home.snapshot()

    meta = run_cleanup_job(warehouse)

    assert meta["files_refused"] == 3 and meta["files_deleted"] == 1
    for request_id, path in zip(ids, foreign, strict=True):
        assert f"{request_id}: {path}" in meta["refused"]
        assert get_request(conn, request_id)["status"] == "expired"
    assert precious.read_text() == "not an export" and (home.exports / "link.csv").is_symlink()
    assert not Path(ours["file_path"]).exists()
    home.assert_nothing_outside()


def test_the_resolved_path_must_lie_inside(home, tmp_path):
    home.exports.mkdir(parents=True)
    outside = tmp_path / "outside.csv"
    (home.exports / "planted.csv").symlink_to(outside)
    assert resolve_inside(home.exports, home.exports / "a.csv") == home.exports.resolve() / "a.csv"
    assert resolve_inside(home.exports, home.exports / "x" / ".." / ".." / "a.csv") is None
    assert resolve_inside(home.exports, home.exports / "planted.csv") is None
    assert resolve_inside(home.exports, home.exports) is None
    assert resolve_inside(home.exports, "a\x00.csv") is None
    home.assert_nothing_outside()


def test_fifty_requests_at_once_all_complete(conn, warehouse, home):
    ids = [
        create_request(conn, "purchases", ("csv", "json")[i % 2], RANGE)["id"] for i in range(50)
    ]
    launched = _tick(warehouse, DagsterInstance.ephemeral())
    assert sorted(r.run_key for r in launched) == sorted(ids)

    def run(request_id):
        with psycopg.connect(warehouse) as own:
            return run_export(own, request_id)

    with ThreadPoolExecutor(10) as pool:
        done = list(pool.map(run, ids))
    assert {d["status"] for d in done} == {"ready"}
    assert sorted(p.name for p in home.exports.iterdir()) == sorted(
        Path(d["file_path"]).name for d in done
    )
    home.assert_nothing_outside()
