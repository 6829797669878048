"""PGOPTIONS for dbt's sessions: our timeouts first, so the environment's own settings win."""

import pytest

from dagster_project.dbt_session import dbt_pgoptions, explain_lock_timeouts


def test_defaults_then_the_environments_pgoptions(monkeypatch):
    monkeypatch.delenv("DBT_LOCK_TIMEOUT", raising=False)
    monkeypatch.delenv("DBT_STATEMENT_TIMEOUT", raising=False)
    assert dbt_pgoptions({}) == "-c lock_timeout=5min -c statement_timeout=4h"
    assert dbt_pgoptions({"PGOPTIONS": "-c lock_timeout=1s"}).endswith("-c lock_timeout=1s")


def test_a_timeout_from_the_environment(monkeypatch):
    monkeypatch.setenv("DBT_LOCK_TIMEOUT", "30s")
    monkeypatch.setenv("DBT_STATEMENT_TIMEOUT", "0")
    assert dbt_pgoptions({}) == "-c lock_timeout=30s -c statement_timeout=0"


@pytest.mark.parametrize("value", ["5 min", "-1s", "1s; drop table x", "ten"])
def test_a_timeout_that_is_not_a_duration_is_refused(monkeypatch, value):
    monkeypatch.setenv("DBT_STATEMENT_TIMEOUT", value)
    with pytest.raises(ValueError, match=rf"DBT_STATEMENT_TIMEOUT={value!r} is not"):
        dbt_pgoptions({})


def test_no_lock_timeout_opens_no_connection():
    results = {"results": [{"status": "error", "message": "division by zero",
                            "relation_name": '"w"."marts"."x"'}]}  # fmt: skip
    assert explain_lock_timeouts(results, connect=lambda: pytest.fail("connected")) == {}
