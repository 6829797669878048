"""`dagster-webserver` on a free local port against workspace.yaml, for the browser tests.

Storage is the project's: the committed dagster_project/dagster.yaml (runs, events and
schedules in PostgreSQL through dagster-postgres, DAGSTER_POSTGRES_URL, the pools), and
the webserver and its code server inherit the test warehouse's URLs.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

QUEUED = "class: QueuedRunCoordinator"
STARTUP_TIMEOUT_S = 180  # the code server loads the dbt manifest: ~20 s on 2 busy cores


def write_instance_yaml(dagster_home: Path) -> None:
    """The project's dagster.yaml (same PostgreSQL storage), except that the webserver
    launches runs itself: the queued coordinator needs dagster-daemon, which would also
    tick every default-on sensor and schedule against the test warehouse."""
    from dagster_project.local.environment import INSTANCE_YAML

    committed = INSTANCE_YAML.read_text()
    if QUEUED not in committed:
        raise AssertionError(f"{INSTANCE_YAML} no longer names {QUEUED!r}")
    dagster_home.mkdir(parents=True, exist_ok=True)
    yaml = committed.replace(QUEUED, "class: DefaultRunCoordinator")
    (dagster_home / "dagster.yaml").write_text(yaml)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Webserver:
    def __init__(self, url: str, log: Path):
        self.url = url
        self.log = log

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = json.load(response)
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def _loaded(server: Webserver) -> bool:
    """True once the webserver answers and the code location has loaded (not erroring)."""
    try:
        data = server.graphql(
            "{ workspaceOrError { ... on Workspace { locationEntries {"
            " name locationOrLoadError { __typename ... on PythonError { message } } } } } }"
        )
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
    entries = data["workspaceOrError"].get("locationEntries") or []
    for entry in entries:
        error = entry["locationOrLoadError"]
        if error and error["__typename"] == "PythonError":
            raise AssertionError(f"code location {entry['name']} failed: {error['message']}")
    return any(
        (e["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation" for e in entries
    )


@contextmanager
def running_webserver(repo_root: Path, dagster_home: Path, log: Path):
    """Start dagster-webserver on workspace.yaml; yield it once it serves; stop it."""
    from dagster_project.local.environment import apply_env

    # the URLs only: apply_env() would put the committed (queued) dagster.yaml back
    apply_env(dagster_home=False)
    write_instance_yaml(dagster_home)
    env = dict(os.environ, PYTHONPATH=str(repo_root), DAGSTER_HOME=str(dagster_home))
    port = free_port()
    webserver = str(Path(sys.executable).parent / "dagster-webserver")
    cmd = [webserver, "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
            cmd, cwd=repo_root, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    server = Webserver(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _loaded(server):
            if process.poll() is not None:
                raise AssertionError(
                    f"{' '.join(cmd)} exited with {process.returncode}:\n{server.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"dagster-webserver did not serve {server.url} within "
                    f"{STARTUP_TIMEOUT_S} s:\n{server.log_tail()}"
                )
            time.sleep(1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
