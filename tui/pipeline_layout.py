"""The `after` graph laid out in layers by dependency depth, for the pipeline view; pure, no Textual.

An agent with no known dependency sits in layer 0, every other one a layer right of its deepest
dependency. An edge that spans several layers passes through a placeholder slot in each layer between,
so every drawn edge joins adjacent layers. Names in `after` that are not agents of the fleet become
ghost slots in layer 0; a cycle (which a valid plan never has) is cut where it closes, never followed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

SlotKind = Literal["agent", "ghost", "pass"]


@dataclass(frozen=True)
class Slot:
    """One place in a layer: an agent, an unknown name in someone's `after`, or an edge passing through."""

    key: str
    kind: SlotKind
    layer: int
    agent: str  # the agent's or ghost's name; for a pass, the agent whose edge passes


@dataclass(frozen=True)
class Edge:
    """A drawn edge between slots of adjacent layers, part of the dependency `origin` -> `waiter`."""

    source: str
    target: str
    origin: str
    waiter: str


@dataclass
class Layout:
    """Slots per layer, top to bottom, and the edges between slots of adjacent layers."""

    layers: list[list[Slot]] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def slot(self, key: str) -> Slot:
        return next(s for layer in self.layers for s in layer if s.key == key)

    def position(self, name: str) -> tuple[int, int] | None:
        """(layer, index in layer) of the agent or ghost called `name`."""
        for layer_index, layer in enumerate(self.layers):
            for index, slot in enumerate(layer):
                if slot.kind != "pass" and slot.agent == name:
                    return layer_index, index
        return None

    def selectable(self, layer: int) -> list[Slot]:
        """The agents and ghosts of one layer, top to bottom."""
        return [s for s in self.layers[layer] if s.kind != "pass"] if 0 <= layer < len(self.layers) else []


def depths(after: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Each agent's layer: 0 without known dependencies, else one past its deepest known dependency."""
    found: dict[str, int] = {}
    for name in after:
        _depth(name, after, found, set())
    return found


def _depth(name: str, after: Mapping[str, Sequence[str]], found: dict[str, int], open_: set[str]) -> int:
    if name in found:
        return found[name]
    if name not in after:
        return 0
    open_.add(name)
    layer = 0
    for dep in after[name]:
        if dep not in open_:
            layer = max(layer, 1 + _depth(dep, after, found, open_))
    open_.discard(name)
    found[name] = layer
    return layer


def lay_out(after: Mapping[str, Sequence[str]]) -> Layout:
    """The layers of the graph whose agents (in plan order) wait on the names in their `after`."""
    layer_of = depths(after)
    ghosts = list(dict.fromkeys(dep for deps in after.values() for dep in deps if dep not in after))
    layout = Layout(layers=[[] for _ in range(1 + max(layer_of.values(), default=0))])
    layout.layers[0] = [Slot(f"?{name}", "ghost", 0, name) for name in ghosts]
    slots: dict[str, Slot] = {f"?{name}": layout.layers[0][i] for i, name in enumerate(ghosts)}
    for name in after:
        slots[name] = Slot(name, "agent", layer_of[name], name)
    upstream: dict[str, list[str]] = {}
    for name, deps in after.items():
        for dep in dict.fromkeys(deps):
            source = slots.get(dep if dep in after else f"?{dep}")
            if source is not None and source.layer < slots[name].layer:
                _join(layout, upstream, source, slots[name])
    _order(layout, [slots[name] for name in after], upstream)
    return layout


def _join(layout: Layout, upstream: dict[str, list[str]], source: Slot, target: Slot) -> None:
    """Edges from `source` to `target`, through one pass slot per layer between them."""
    previous = source
    for layer in range(source.layer + 1, target.layer):
        passing = Slot(f"{source.key}>{target.key}@{layer}", "pass", layer, source.agent)
        layout.layers[layer].append(passing)
        layout.edges.append(Edge(previous.key, passing.key, source.agent, target.agent))
        upstream.setdefault(passing.key, []).append(previous.key)
        previous = passing
    layout.edges.append(Edge(previous.key, target.key, source.agent, target.agent))
    upstream.setdefault(target.key, []).append(previous.key)


def _order(layout: Layout, agents: list[Slot], upstream: dict[str, list[str]]) -> None:
    """Layer 0 in plan order after the ghosts; each later layer by the mean place of what feeds it, agents first."""
    for agent in agents:
        if agent.layer == 0:
            layout.layers[0].append(agent)
    for slot in agents:
        if slot.layer > 0:
            layout.layers[slot.layer].append(slot)
    for index in range(1, len(layout.layers)):
        above = {s.key: i for i, s in enumerate(layout.layers[index - 1])}
        ranked = [(_mean(above, upstream.get(s.key, []), i), s.kind == "pass", i, s) for i, s in enumerate(layout.layers[index])]
        layout.layers[index] = [s for *_, s in sorted(ranked, key=lambda r: r[:3])]


def _mean(places: dict[str, int], keys: list[str], fallback: int) -> float:
    known = [places[k] for k in keys if k in places]
    return sum(known) / len(known) if known else float(fallback)
