"""Launch a run through the webserver's GraphQL API (what the UI's Materialize button
sends) and wait for it to finish."""

from __future__ import annotations

import time

from tests.browser.webserver import Webserver

ASSET_JOB = "__ASSET_JOB"  # the implicit job the UI launches asset materializations in
PARTITION_TAG = "dagster/partition"
DONE = {"SUCCESS", "FAILURE", "CANCELED"}

_LOCATIONS = """
{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError {
  ... on RepositoryLocation { repositories { name } } } } } } }
"""

_LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}
"""

_RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status tags { key value } }
    ... on Error { message }
  }
}
"""

_FAILURE_EVENTS = """
query Logs($runId: ID!) {
  logsForRun(runId: $runId) { ... on EventConnection { events {
    __typename ... on MessageEvent { message level } } } }
}
"""


def repository(server: Webserver) -> tuple[str, str]:
    """(code location, repository) of the project's one Definitions."""
    entries = server.graphql(_LOCATIONS)["workspaceOrError"]["locationEntries"]
    found = [
        (entry["name"], repo["name"])
        for entry in entries
        for repo in (entry["locationOrLoadError"] or {}).get("repositories", [])
    ]
    if len(found) != 1:
        raise AssertionError(f"expected one repository in workspace.yaml, found {found}")
    return found[0]


def launch_partition(server: Webserver, asset_key: list[str], partition: str) -> str:
    """Materialize one partition of one asset; the run's id."""
    location, repo = repository(server)
    params = {
        "selector": {
            "repositoryLocationName": location,
            "repositoryName": repo,
            "jobName": ASSET_JOB,
            "assetSelection": [{"path": asset_key}],
        },
        "mode": "default",
        "executionMetadata": {"tags": [{"key": PARTITION_TAG, "value": partition}]},
        "runConfigData": {},
    }
    result = server.graphql(_LAUNCH, {"params": params})["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        raise AssertionError(f"launchRun answered {result['__typename']}: {result}")
    return result["run"]["runId"]


def wait_for_run(server: Webserver, run_id: str, timeout_s: float) -> dict:
    """Poll the run until it ends; its status and tags."""
    deadline = time.monotonic() + timeout_s
    while True:
        run = server.graphql(_RUN, {"runId": run_id})["runOrError"]
        if run["__typename"] != "Run":
            raise AssertionError(f"run {run_id}: {run}")
        if run["status"] in DONE or time.monotonic() > deadline:
            return run
        time.sleep(2)


def failure_messages(server: Webserver, run_id: str, limit: int = 15) -> list[str]:
    """The run's error-level log messages, to explain a failed run."""
    events = server.graphql(_FAILURE_EVENTS, {"runId": run_id})["logsForRun"].get("events", [])
    errors = [e["message"] for e in events if e.get("level") in ("ERROR", "CRITICAL")]
    return errors[-limit:]
