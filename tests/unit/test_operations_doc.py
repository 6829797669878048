"""docs/OPERATIONS.md lists every job, schedule and sensor of `defs`, and says truthfully
whether each schedule and sensor starts on or off; each has a description the UI shows."""

from __future__ import annotations

import re

import pytest
from dagster import DefaultScheduleStatus, DefaultSensorStatus

from dagster_project.definitions import defs
from tests.conftest import REPO_ROOT

DOC = REPO_ROOT / "docs" / "OPERATIONS.md"
RUNNING = {DefaultScheduleStatus.RUNNING, DefaultSensorStatus.RUNNING}


def doc_table(header: list[str]) -> list[dict[str, str]]:
    """The rows of the markdown table whose header row is `header`, names unquoted."""
    rows: list[dict[str, str]] = []
    lines = iter(DOC.read_text().splitlines())
    for line in lines:
        if _cells(line) == header:
            next(lines)  # |---|---|
            for row in lines:
                if not row.startswith("|"):
                    break
                cells = _cells(row)
                assert len(cells) == len(header), f"OPERATIONS.md: malformed row {row!r}"
                rows.append(dict(zip(header, cells, strict=True)))
            return rows
    raise AssertionError(f"docs/OPERATIONS.md has no table with header {header}")


def _cells(line: str) -> list[str]:
    return [c.strip().strip("`") for c in line.strip().strip("|").split("|")]


JOBS = doc_table(["job", "what it runs"])
AUTOMATION = doc_table(["name", "type", "trigger", "runs", "default"])
AUTOMATION_BY_NAME = {row["name"]: row for row in AUTOMATION}

SCHEDULES = list(defs.get_repository_def().schedule_defs)
SENSORS = list(defs.get_repository_def().sensor_defs)
INSTIGATORS = [*SCHEDULES, *SENSORS]


def test_every_job_is_documented():
    jobs = {job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")}
    documented = {row["job"] for row in JOBS}
    assert jobs - documented == set(), "jobs missing from docs/OPERATIONS.md"
    assert documented - jobs == set(), "docs/OPERATIONS.md lists jobs that do not exist"
    assert all(row["what it runs"] for row in JOBS)


def test_every_schedule_and_sensor_is_documented():
    names = {d.name for d in INSTIGATORS}
    assert names - AUTOMATION_BY_NAME.keys() == set(), "missing from docs/OPERATIONS.md"
    assert AUTOMATION_BY_NAME.keys() - names == set(), "documented but not defined"
    for schedule in SCHEDULES:
        assert AUTOMATION_BY_NAME[schedule.name]["type"] == "schedule", schedule.name
    for sensor in SENSORS:
        assert AUTOMATION_BY_NAME[sensor.name]["type"] == "sensor", sensor.name


@pytest.mark.parametrize("definition", INSTIGATORS, ids=lambda d: d.name)
def test_each_schedule_and_sensor_has_a_description(definition):
    assert definition.description and len(definition.description.strip()) > 20


@pytest.mark.parametrize("definition", INSTIGATORS, ids=lambda d: d.name)
def test_documented_default_matches_the_definition(definition):
    stated = AUTOMATION_BY_NAME[definition.name]["default"]
    assert stated in ("on", "off"), f"{definition.name}: default must be on|off, not {stated!r}"
    actual = "on" if definition.default_status in RUNNING else "off"
    assert stated == actual, f"{definition.name} starts {actual}, OPERATIONS.md says {stated}"


@pytest.mark.parametrize("definition", INSTIGATORS, ids=lambda d: d.name)
def test_documented_job_is_the_one_it_runs(definition):
    runs = AUTOMATION_BY_NAME[definition.name]["runs"]
    # a sensor without a job (one that only reports, e.g. on freshness) has no job to name
    targets = {getattr(definition, "job_name", None)} | {
        target.job_name for target in getattr(definition, "targets", [])
    }
    targets.discard(None)
    if not targets:
        assert runs, f"{definition.name}: say what it does in the runs column"
        return
    assert any(re.search(rf"(?<!\w){re.escape(t)}(?!\w)", runs) for t in targets), (
        f"{definition.name} runs {sorted(targets)}; OPERATIONS.md says {runs!r}"
    )


def test_doc_shows_the_screenshots():
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", DOC.read_text()):
        assert (DOC.parent / image).is_file(), f"OPERATIONS.md shows a missing {image}"
    assert "images/asset-graph.png" in DOC.read_text()
