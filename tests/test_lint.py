"""`make lint` as a test: ruff for Python, sqlfluff (postgres, dbt templater) for the models."""

from __future__ import annotations

import os
import subprocess

from tests.conftest import REPO_ROOT, python_bin


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, env=os.environ)


def test_ruff_check_and_format():
    check = _run(python_bin("ruff"), "check", ".")
    assert check.returncode == 0, check.stdout
    fmt = _run(python_bin("ruff"), "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout


def test_sqlfluff_lints_the_dbt_models():
    out = _run(python_bin("sqlfluff"), "lint", "dbt_project", "--disable-progress-bar")
    assert out.returncode == 0, out.stdout[-4000:]
    assert "FAIL" not in out.stdout
