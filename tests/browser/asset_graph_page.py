"""Page object for Dagster's global asset lineage page (`/asset-groups`, Dagster 1.13).

The graph is one SVG: each asset is a `<foreignObject>` titled with the last part of its
key (`data-tooltip`), drawn inside its group's `<foreignObject class="group">` (titled
with the group name), and each edge a `<path>` stroked with `--color-lineage-edge` from
the right middle of its upstream node to the left middle of its downstream node. A node
carries no full key (never-materialized ones have no link at all), so an asset is found
by (group, name), which is unique in a graph; the page reads that geometry back.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

RENDER_TIMEOUT_S = 60
EDGE_TOLERANCE_PX = 12  # the arrow head ends a few pixels short of its node

# Geometry of every asset node and edge, read in the browser in one call.
_READ_GRAPH_JS = """
const box = (fo) => {
  const tip = fo.querySelector('[data-tooltip]');
  return {label: tip ? tip.getAttribute('data-tooltip') : '',
    x: +fo.getAttribute('x'), y: +fo.getAttribute('y'),
    width: +fo.getAttribute('width'), height: +fo.getAttribute('height')};
};
const nodes = [...document.querySelectorAll('svg foreignObject:not(.group)')].map(box);
const groups = [...document.querySelectorAll('svg foreignObject.group')].map(box);
const edges = [];
for (const p of document.querySelectorAll('svg path[stroke^="var(--color-lineage-edge"]')) {
  const nums = (p.getAttribute('d').match(/-?[0-9.]+/g) || []).map(Number);
  if (nums.length >= 4) edges.push({x1: nums[0], y1: nums[1],
    x2: nums[nums.length - 2], y2: nums[nums.length - 1]});
}
return {nodes, groups, edges};
"""


@dataclass(frozen=True)
class Box:
    label: str
    x: float
    y: float
    width: float
    height: float

    def contains(self, other: Box) -> bool:
        return (
            self.x <= other.x
            and self.y <= other.y
            and other.x + other.width <= self.x + self.width
            and other.y + other.height <= self.y + self.height
        )


@dataclass(frozen=True)
class Node:
    group: str  # the asset group whose box holds the node
    name: str  # the last part of the asset key
    box: Box

    @property
    def out_port(self) -> tuple[float, float]:
        return self.box.x + self.box.width, self.box.y + self.box.height / 2

    @property
    def in_port(self) -> tuple[float, float]:
        return self.box.x, self.box.y + self.box.height / 2


@dataclass(frozen=True)
class Edge:
    x1: float
    y1: float
    x2: float
    y2: float


def _near(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return abs(a[0] - b[0]) <= EDGE_TOLERANCE_PX and abs(a[1] - b[1]) <= EDGE_TOLERANCE_PX


class AssetGraphPage:
    def __init__(self, driver, base_url: str):
        self.driver = driver
        self.base_url = base_url

    def open(self, selection: str | None = None) -> AssetGraphPage:
        """The global lineage, filtered by an asset selection (`+key:"marts/x"`) if given."""
        path = "/asset-groups"
        if selection:
            path += "~" + quote(selection, safe="") + "/"
        self.driver.get(self.base_url + path)
        # the heading, not document.title: a second visit keeps the title "Dagster"
        self._wait_for(
            lambda: self.driver.find_elements(
                By.XPATH, "//*[not(*)][normalize-space()='Global asset lineage']"
            ),
            "the 'Global asset lineage' heading",
        )
        self._wait_for(
            lambda: self.driver.find_elements(By.CSS_SELECTOR, "svg foreignObject"),
            "graph nodes",
        )
        self.dismiss_community_dialog()
        return self

    def dismiss_community_dialog(self) -> None:
        """A fresh browser profile gets Dagster's newsletter dialog over the graph."""
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            buttons = self.driver.find_elements(By.XPATH, "//button[normalize-space()='Skip']")
            if buttons:
                buttons[0].click()
                return
            time.sleep(0.3)

    def expand_all_groups(self) -> None:
        """Settings (gear) → "Expand all groups", so each asset is drawn, not its group."""
        self._set_groups_expanded(True)
        self._wait_for(lambda: self.asset_nodes(), "asset nodes after expanding the groups")

    def collapse_all_groups(self) -> None:
        """One box per group: the whole graph, sources to exports, fits one screen."""
        self._set_groups_expanded(False)

    def _set_groups_expanded(self, expanded: bool) -> None:
        # the UI remembers the last choice, so the menu offers the other one
        gear = self.driver.find_elements(By.CSS_SELECTOR, "button [aria-label=settings]")
        if not gear:
            raise AssertionError("the graph's settings button is missing")
        gear[-1].find_element(By.XPATH, "./ancestor::button[1]").click()
        item = self._wait_for(
            lambda: self.driver.find_elements(
                By.XPATH, "//*[@role='menuitem'][contains(., 'all groups')]"
            ),
            "the 'Expand/Collapse all groups' menu item",
        )[0]
        # textContent: .text is empty while the menu is still fading in
        if ("Expand" if expanded else "Collapse") in item.get_attribute("textContent"):
            item.click()
        self.driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)

    def wait_for_assets(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Node]:
        """The asset nodes once every one of `keys` is drawn (the layout animates in)."""
        deadline = time.monotonic() + RENDER_TIMEOUT_S
        while True:
            nodes = self.asset_nodes()
            missing = [key for key in keys if key not in nodes]
            if not missing:
                return nodes
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"asset nodes {missing} not drawn on {self.driver.current_url} within "
                    f"{RENDER_TIMEOUT_S} s; drawn: {sorted(nodes)}"
                )
            time.sleep(0.5)

    def read(self) -> tuple[list[Node], list[Edge]]:
        graph = self.driver.execute_script(_READ_GRAPH_JS)
        groups = [Box(**g) for g in graph["groups"]]
        nodes = []
        for raw in graph["nodes"]:
            box = Box(**raw)
            holders = [g for g in groups if g.label != box.label and g.contains(box)]
            if holders and box.label:  # group boxes themselves also appear unclassed
                nodes.append(Node(holders[0].label, box.label, box))
        return nodes, [Edge(**e) for e in graph["edges"]]

    def asset_nodes(self) -> dict[tuple[str, str], Node]:
        """Drawn asset nodes by (group, name)."""
        return {(n.group, n.name): n for n in self.read()[0]}

    def edge_between(self, upstream: tuple[str, str], downstream: tuple[str, str]) -> Edge | None:
        """The drawn edge from one asset's node to another's, by geometry."""
        nodes = self.asset_nodes()
        source, target = nodes.get(upstream), nodes.get(downstream)
        if source is None or target is None:
            return None
        for edge in self.read()[1]:
            if _near((edge.x1, edge.y1), source.out_port) and _near(
                (edge.x2, edge.y2), target.in_port
            ):
                return edge
        return None

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        time.sleep(1)  # let the last layout animation settle
        if not self.driver.save_screenshot(str(path)):
            raise AssertionError(f"Chromium could not save a screenshot to {path}")
        return path

    def _wait_for(self, condition, what: str):
        deadline = time.monotonic() + RENDER_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                result = condition()
            except WebDriverException:
                result = None
            if result:
                return result
            time.sleep(0.5)
        shot = Path(tempfile.gettempdir()) / "asset-graph-timeout.png"
        self.driver.save_screenshot(str(shot))
        raise AssertionError(
            f"{what} did not appear on {self.driver.current_url} within {RENDER_TIMEOUT_S} s "
            f"(the page is titled {self.driver.title!r}; screenshot: {shot})"
        )
