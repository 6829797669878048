"""The figures table: one line per figure, grouped by what it compares."""

from __future__ import annotations

from dataclasses import dataclass, field

STATUS = "status"  # the unit of a FAILED / SKIPPED line: printed whole, not in columns


@dataclass
class Table:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)

    def section(self, title: str) -> None:
        self.rows.append((title, "", "", ""))

    def status(self, text: str) -> None:
        """A section's FAILED: … or SKIPPED: … line."""
        self.rows.append((text, "", STATUS, ""))

    def add(self, label: str, value: float | str, unit: str = "", note: str = "") -> None:
        if isinstance(value, float):
            value = f"{value:,.0f}" if value >= 1000 else f"{value:,.2f}"
        elif isinstance(value, int):
            value = f"{value:,}"
        self.rows.append((label, value, unit, note))

    def render(self) -> str:
        width = max((len(r[0]) for r in self.rows if r[1]), default=0) + 2
        lines = []
        for label, value, unit, note in self.rows:
            if unit == STATUS:
                lines.append(f"  {label}")
                continue
            if not value:
                lines.append(f"\n{label}")
                continue
            line = f"  {label:<{width}}{value:>12} {unit:<8}"
            lines.append(f"{line}  {note}".rstrip())
        return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def header(machine: list[tuple[str, str]], where: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in machine + where)
    return "\n".join(f"  {k:<{width}}  {v}" for k, v in machine + where)
