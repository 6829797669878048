"""docs/SOURCES.md lists exactly the property names staging accepts: the table of names
per app and column equals the declaration in dbt_project/macros/props.sql."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT

MACRO = REPO_ROOT / "dbt_project" / "macros" / "props.sql"
DOC = REPO_ROOT / "docs" / "SOURCES.md"


def declared() -> dict[tuple[str, str], list[str]]:
    """(app, column) -> names, read from the macro's dict literal."""
    text = MACRO.read_text()
    names: dict[tuple[str, str], list[str]] = {}
    for app, body in re.findall(r'"(\w+)": \{(.*?)\}', text, re.S):
        for column, listed in re.findall(r'"(\w+)": \[(.*?)\]', body):
            names[(app, column)] = re.findall(r'"(\w+)"', listed)
    return names


def documented() -> dict[tuple[str, str], list[str]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] in {"yesgoddess", "everreach", "mashups"}:
            rows[(cells[0], cells[1])] = re.findall(r"`(\w+)`", cells[3])
    return rows


def test_the_doc_lists_the_names_staging_accepts():
    assert len(declared()) >= 10
    assert documented() == declared()
