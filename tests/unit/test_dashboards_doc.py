"""Every query docs/DASHBOARDS.md publishes is run by a test: a query no test names could
drift from the marts unnoticed (the tests read the blocks from the file and compare their
results with their own computation)."""

from __future__ import annotations

from tests.conftest import REPO_ROOT
from tests.dashboards_doc import BLOCK, DOC


def test_every_dashboard_query_is_named_by_a_test():
    names = [name for name, _ in BLOCK.findall(DOC.read_text())]
    assert len(names) == len(set(names)) >= 10, names  # one block per name
    tests = "".join(
        path.read_text() for path in (REPO_ROOT / "tests" / "integration").glob("test_*.py")
    )
    untested = [name for name in names if f'"{name}"' not in tests]
    assert untested == []
