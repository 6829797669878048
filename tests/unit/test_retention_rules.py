"""Retention windows: the seeds' defaults, env overrides, clear errors for bad values, and
that every model reading a retained raw table keeps its own rows (is incremental)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from dagster_project.ingest.retention import (
    RULES,
    RetentionConfigError,
    batch_rows,
    horizon_for,
    window_days,
    windows,
)
from dagster_project.ingest.source_tables import SOURCE_TABLES


def _rule(raw_table: str):
    return next(r for r in RULES if r.raw_table == raw_table)


def test_seed_windows_are_the_defaults():
    assert windows({}) == {
        "yesgoddess__events": 730,  # seed 001: two years
        "yesgoddess__attribution": 730,  # 1:1 with its event
        "everreach__app_events": 90,  # seed 003: cleanup_old_events(90)
        "everreach__responses": 180,  # seed 003: cleanup_old_responses(180)
        "everreach__prompts": 180,  # … and the prompts it orphans
    }


def test_env_var_names_follow_system_and_table():
    assert _rule("everreach__app_events").env_var == "RETENTION_EVERREACH__APP_EVENTS_DAYS"
    assert _rule("yesgoddess__events").env_var == "RETENTION_YESGODDESS__EVENTS_DAYS"


def test_an_env_override_changes_only_its_table():
    got = windows({"RETENTION_EVERREACH__APP_EVENTS_DAYS": "30", "UNRELATED": "x"})
    assert got["everreach__app_events"] == 30
    assert got["everreach__responses"] == 180
    assert window_days(_rule("everreach__responses"), {}) == 180
    # an empty value is "not set", like an unset variable
    events, var = _rule("yesgoddess__events"), "RETENTION_YESGODDESS__EVENTS_DAYS"
    assert window_days(events, {var: ""}) == 730
    assert window_days(events, {var: " 365 "}) == 365


@pytest.mark.parametrize("value", ["0", "-5", "abc", "90d", "1.5", "1e3", "+30"])
def test_a_bad_window_names_the_variable_and_the_value(value):
    env = {"RETENTION_EVERREACH__RESPONSES_DAYS": value}
    with pytest.raises(RetentionConfigError) as error:
        windows(env)
    message = str(error.value)
    assert "RETENTION_EVERREACH__RESPONSES_DAYS" in message
    assert repr(value) in message
    assert "positive whole number" in message


def test_batch_size_default_override_and_error():
    assert batch_rows({}) == 20_000
    assert batch_rows({"RETENTION_BATCH_ROWS": "500"}) == 500
    with pytest.raises(RetentionConfigError, match="RETENTION_BATCH_ROWS='0'"):
        batch_rows({"RETENTION_BATCH_ROWS": "0"})


def test_horizon_is_the_first_day_kept():
    assert horizon_for(date(2026, 3, 31), 90) == date(2025, 12, 31)
    assert horizon_for(date(2026, 3, 1), 1) == date(2026, 2, 28)
    assert horizon_for(date(2024, 2, 29), 730) == date(2022, 3, 1)


def test_each_rule_is_a_landed_table_deleted_through_an_index():
    specs = {spec.raw_table: spec for spec in SOURCE_TABLES}
    for rule in RULES:
        spec = specs[rule.raw_table]
        assert rule.time_column in spec.raw_indexes, rule
        if rule.unless_referenced_by:
            ref_table, column = rule.unless_referenced_by
            assert column in specs[ref_table].raw_indexes, rule
            # the referencing table is trimmed first, so its orphans go in the same run
            assert [r.raw_table for r in RULES].index(ref_table) < RULES.index(rule)


def _models_reading(manifest: dict, sources: set[str]) -> dict[str, set[str]]:
    """Model → retained sources it reads through views/ephemerals (as macros/retention.sql
    walks: an incremental model upstream keeps its own rows, so the walk stops there)."""
    nodes, by_id = manifest["nodes"], manifest["sources"]

    def walk(node_id: str, seen: set[str]) -> set[str]:
        found: set[str] = set()
        for parent in nodes[node_id]["depends_on"]["nodes"]:
            if parent in seen:
                continue
            seen.add(parent)
            if parent in by_id:
                found |= {by_id[parent]["name"]} & sources
            elif (
                nodes.get(parent, {}).get("resource_type") == "model"
                and nodes[parent]["config"]["materialized"] != "incremental"
            ):
                found |= walk(parent, seen)
        return found

    return {
        node["name"]: walk(node_id, set())
        for node_id, node in nodes.items()
        if node["resource_type"] == "model"
    }


def test_every_table_model_reading_retained_raw_rows_keeps_its_rows():
    """A `table` rebuilt from staging over all history would lose the days retention
    deleted: each model reading a retained table must be incremental (window_replace)
    and refuse --full-refresh. Quarantine tables are raw rows themselves and follow
    retention; views hold no rows."""
    from dagster_project.project import ensure_manifest

    manifest = json.loads(ensure_manifest().read_text())
    retained = {rule.raw_table for rule in RULES}
    reading = _models_reading(manifest, retained)
    by_name = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    stored = {
        name
        for name, tables in reading.items()
        if tables and by_name[name]["config"]["materialized"] not in ("view", "ephemeral")
    }
    quarantine = {n for n in stored if by_name[n]["schema"] == "quarantine"}
    kept = stored - quarantine
    assert {"fct_onboarding_funnel", "fct_trial_conversion", "ml_response_samples"} <= kept
    for name in kept:
        config = by_name[name]["config"]
        assert config["materialized"] == "incremental", name
        assert config["incremental_strategy"] == "window_replace", name
        assert config["full_refresh"] is False, name


def test_a_later_today_than_the_current_utc_date_is_refused_before_anything_is_deleted():
    from datetime import UTC, datetime, timedelta

    from dagster import Failure

    from dagster_project.assets.maintenance import RetentionConfig, _today

    now = datetime.now(UTC).date()
    assert _today(RetentionConfig()) is None
    assert _today(RetentionConfig(today=str(now - timedelta(days=3)))) == now - timedelta(days=3)
    with pytest.raises(Failure, match=r"today='\d{4}-\d{2}-\d{2}' is after the current UTC date"):
        _today(RetentionConfig(today=str(now + timedelta(days=1))))
    with pytest.raises(Failure, match=r"today='2026-13-01' is not an ISO date"):
        _today(RetentionConfig(today="2026-13-01"))
