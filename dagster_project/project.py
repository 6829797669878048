"""The dbt project as Dagster sees it, and keeping its manifest current."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from dagster_project.settings import DBT_PROJECT_DIR, REPO_ROOT

# dagster-dbt runs the `dbt` executable by name: make the one beside this Python win,
# even when the venv is not activated (`.venv/bin/dagster …`).
_VENV_BIN = str(Path(sys.executable).parent)
if _VENV_BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _VENV_BIN + os.pathsep + os.environ.get("PATH", "")

DBT_EXECUTABLE = str(Path(_VENV_BIN) / "dbt")

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

_SOURCES = ("models", "macros", "tests", "dbt_project.yml")


def _newest_source_mtime() -> float:
    newest = 0.0
    for name in _SOURCES:
        path = DBT_PROJECT_DIR / name
        files = [path] if path.is_file() else path.rglob("*")
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    for seed in (REPO_ROOT / "seeds").glob("*.csv"):
        newest = max(newest, seed.stat().st_mtime)
    return newest


def ensure_manifest() -> Path:
    """`dbt parse` when the manifest is missing or older than the project's files.

    `dagster dev` does this itself; the CLI (`dagster asset materialize`) and tests do not,
    and a stale manifest would silently run yesterday's models.
    """
    manifest = dbt_project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime():
        dbt_project.preparer.prepare(dbt_project)
    return manifest
