"""InputFilter and OutputFilter: the JSONPath subset SageMaker documents for batch transform.

``$`` the record; ``.name`` or ``['name']`` a child; ``['a','b']`` several children (an object of
them); ``[2]`` an element (negative from the end); ``[1:]``, ``[:-1]`` slices; ``[0,5:]`` several
indexes and slices (one array of them); ``*`` or ``[*]`` every element. As AWS, only the last step
may select several elements (no nesting inside brackets), and an index outside the record fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"\.(?P<name>[A-Za-z0-9_$@-]+|\*)")
_BRACKET = re.compile(r"\.?\[(?P<inside>[^\]]*)\]")
_QUOTED = re.compile(r"""^\s*(?:'([^']*)'|"([^"]*)")\s*$""")
_INDEX = re.compile(r"^\s*-?\d+\s*$")
_SLICE = re.compile(r"^\s*(-?\d+)?\s*:\s*(-?\d+)?\s*$")


class FilterError(ValueError):
    """A record the filter cannot select from (a missing member, an index outside the array)."""


@dataclass(frozen=True)
class Step:
    """One step of a path: names of children, or indexes and slices of an array, or every element."""

    names: tuple[str, ...] = ()
    indexes: tuple[int | slice, ...] = ()
    every: bool = False

    @property
    def selects_several(self) -> bool:
        return (
            self.every
            or len(self.names) > 1
            or len(self.indexes) > 1
            or any(isinstance(index, slice) for index in self.indexes)
        )


@dataclass(frozen=True)
class JsonPath:
    text: str
    steps: tuple[Step, ...]

    @property
    def is_root(self) -> bool:
        return not self.steps or all(step.every for step in self.steps)

    def select(self, value: Any) -> Any:
        for step in self.steps:
            value = _apply(step, value)
        return value


def parse_path(text: str) -> JsonPath:
    """The path, or ValueError saying what in it SageMaker does not accept."""
    if not text.startswith("$"):
        raise ValueError(f"JSONPath {text!r} must start with $.")
    steps: list[Step] = []
    position = 1
    while position < len(text):
        match = _BRACKET.match(text, position) or _NAME.match(text, position)
        if match is None:
            raise ValueError(f"JSONPath {text!r} is not supported at {text[position:]!r}.")
        if steps and steps[-1].selects_several:
            raise ValueError(f"JSONPath {text!r}: only its last step may select several elements.")
        steps.append(
            _bracket(text, match["inside"]) if "inside" in match.groupdict() else _named(match["name"])
        )
        position = match.end()
    return JsonPath(text, tuple(steps))


def _named(name: str) -> Step:
    return Step(every=True) if name == "*" else Step(names=(name,))


def _bracket(text: str, inside: str) -> Step:
    if inside.strip() == "*":
        return Step(every=True)
    parts = inside.split(",")
    quoted = [_QUOTED.match(part) for part in parts]
    if all(quoted):
        return Step(
            names=tuple(
                match.group(1) if match.group(1) is not None else match.group(2) for match in quoted if match
            )
        )
    indexes: list[int | slice] = []
    for part in parts:
        if _INDEX.match(part):
            indexes.append(int(part))
        elif (bounds := _SLICE.match(part)) is not None:
            start, stop = (int(bound) if bound is not None else None for bound in bounds.groups())
            indexes.append(slice(start, stop))
        else:
            raise ValueError(f"JSONPath {text!r}: [{inside}] is neither names nor indexes and slices.")
    return Step(indexes=tuple(indexes))


def _apply(step: Step, value: Any) -> Any:
    if step.every:
        return value
    if step.names:
        if not isinstance(value, dict):
            raise FilterError(f"cannot select {list(step.names)} from a record that is not a JSON object")
        missing = [name for name in step.names if name not in value]
        if missing:
            raise FilterError(f"the record has no member {missing[0]!r}")
        if len(step.names) == 1:
            return value[step.names[0]]
        return {name: value[name] for name in step.names}
    if not isinstance(value, list):
        raise FilterError("cannot index a record that is not an array")
    if not step.selects_several:
        return _element(value, step.indexes[0])
    selected: list[Any] = []
    for index in step.indexes:
        selected.extend(value[index] if isinstance(index, slice) else [_element(value, index)])
    return selected


def _element(array: list[Any], index: int | slice) -> Any:
    assert isinstance(index, int)
    if not -len(array) <= index < len(array):
        raise FilterError(f"index {index} is outside the record's {len(array)} elements")
    return array[index]
