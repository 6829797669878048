"""The shell commands README.md and docs/*.md show, read from their fenced code blocks.

A block tagged `sh` holds commands a reader may paste: the docs test runs them. Output,
diagrams and file listings go in blocks tagged `text` (or another language), which are
never run; an untagged block is an error, so a command cannot hide in one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
SHELL_TAGS = {"sh", "bash", "shell"}
FENCE = re.compile(r"^```(?P<tag>[\w-]*)[^\n]*\n(?P<body>.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence
    tag: str
    body: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO_ROOT)}:{self.line}"

    @property
    def commands(self) -> list[str]:
        return commands(self.body)


def blocks(paths=DOCS) -> list[Block]:
    found = []
    for path in paths:
        text = path.read_text()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(Block(path, line, match["tag"], match["body"]))
    return found


def shell_blocks(paths=DOCS) -> list[Block]:
    return [block for block in blocks(paths) if block.tag in SHELL_TAGS]


def commands(body: str) -> list[str]:
    """One entry per command: continuation lines joined, blank and comment lines dropped,
    a trailing `# comment` kept (the shell ignores it)."""
    joined = re.sub(r"\\\n\s*", "", body)
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
