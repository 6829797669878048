"""`make lint` as a test, run as the README shows it: ruff for Python (check and format),
sqlfluff (postgres, dbt templater) for the models."""

from __future__ import annotations

import os
import subprocess

from tests.conftest import REPO_ROOT


def test_make_lint_passes():
    out = subprocess.run(
        ["make", "lint"], cwd=REPO_ROOT, capture_output=True, text=True, env=os.environ
    )
    assert out.returncode == 0, f"{out.stdout[-4000:]}\n{out.stderr[-2000:]}"
    assert "All checks passed!" in out.stdout and "FAIL" not in out.stdout
