"""The queries docs/DASHBOARDS.md publishes, by name, as the tests run them."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT

DOC = REPO_ROOT / "docs" / "DASHBOARDS.md"
BLOCK = re.compile(r"<!-- query: (\w+) -->\n```sql\n(.*?)```", re.S)
QUERIES = dict(BLOCK.findall(DOC.read_text()))
