"""YAML 1.2 text -> plain Python values plus the line and column of every node.

ruamel's composer gives us the node graph with marks; we construct values ourselves so that
duplicate keys are *reported* (every one, with its position) instead of aborting the parse,
and so that alias bombs are bounded.
"""

from __future__ import annotations

import math
import re
from typing import Any

from attrs import define, field
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runtime.errors import Problem

Path = tuple[str | int, ...]

#: More nodes than this (after alias expansion) is refused: a flow is never that large.
MAX_NODES = 200_000

_INT = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
_TAG = "tag:yaml.org,2002:"


@define
class YamlDocument:
    """A parsed document: its data, where each path came from, and what went wrong."""

    file: str
    data: Any = None
    positions: dict[Path, tuple[int, int]] = field(factory=dict)
    key_positions: dict[Path, tuple[int, int]] = field(factory=dict)
    problems: list[Problem] = field(factory=list)

    def where(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """The nearest known position of ``path`` (walking up to a parent when needed)."""
        table = self.key_positions if key else self.positions
        probe = tuple(path)
        while True:
            if probe in table:
                return table[probe]
            if probe in self.positions:
                return self.positions[probe]
            if not probe:
                return (1, 1)
            probe = probe[:-1]

    def problem(self, path: Path, message: str, *, key: bool = False) -> Problem:
        line, column = self.where(path, key=key)
        return Problem(message=message, file=self.file, line=line, column=column)


def parse_yaml(text: str, file: str) -> YamlDocument:
    """Parse ``text``; syntax errors and duplicate keys land in ``problems``."""
    doc = YamlDocument(file=file)
    yaml = YAML(typ="rt", pure=True)
    yaml.version = (1, 2)
    try:
        node = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"YAML syntax error: {exc.problem or exc.context}"
        doc.problems.append(Problem(message=message, file=file, line=line, column=column))
        return doc
    except YAMLError as exc:
        doc.problems.append(Problem(message=f"YAML error: {exc}", file=file, line=1, column=1))
        return doc
    if node is None:
        doc.problems.append(Problem(message="the file is empty", file=file, line=1, column=1))
        return doc
    builder = _Builder(doc)
    try:
        doc.data = builder.build(node, ())
    except _TooLarge:
        doc.problems.append(
            Problem(message=f"document exceeds {MAX_NODES} nodes", file=file, line=1, column=1)
        )
        doc.data = None
    return doc


class _TooLarge(Exception):
    pass


class _Builder:
    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.count = 0

    def build(self, node: Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge
        self.doc.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        return _scalar(node)

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                self.doc.problems.append(self._at(key_node, "merge keys (<<) are not supported"))
                continue
            key = _scalar(key_node) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str | int | float | bool) or key is None:
                self.doc.problems.append(self._at(key_node, "mapping keys must be plain scalars"))
                continue
            name = str(key) if not isinstance(key, bool) else str(key).lower()
            child = (*path, name)
            if name in out:
                self.doc.problems.append(self._at(key_node, f"duplicate key {name!r}"))
                continue
            self.doc.key_positions[child] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            out[name] = self.build(value_node, child)
        return out

    def _at(self, node: Node, message: str) -> Problem:
        return Problem(
            message=message,
            file=self.doc.file,
            line=node.start_mark.line + 1,
            column=node.start_mark.column + 1,
        )


def _scalar(node: ScalarNode) -> Any:
    tag = node.tag or ""
    # ruamel's composer keeps fold points of ">" scalars as BEL characters; folding drops them
    value: str = node.value.replace("\a", "") if node.style == ">" else node.value
    if tag == _TAG + "null":
        return None
    if tag == _TAG + "bool":
        return value.lower() == "true"
    if tag == _TAG + "int":
        return _to_int(value)
    if tag == _TAG + "float":
        return _to_float(value)
    return value


def _to_int(value: str) -> int | str:
    text = value.replace("_", "")
    try:
        if text.lower().startswith(("0x", "+0x", "-0x")):
            return int(text, 16)
        if text.lower().startswith(("0o", "+0o", "-0o")):
            return int(text.replace("o", "").replace("O", ""), 8)
        if _INT.match(value) or text.lstrip("+-").isdigit():
            return int(text)
    except ValueError:
        pass
    return value


def _to_float(value: str) -> float | str:
    lowered = value.lower()
    if lowered in (".inf", "+.inf"):
        return math.inf
    if lowered == "-.inf":
        return -math.inf
    if lowered == ".nan":
        return math.nan
    try:
        return float(value.replace("_", ""))
    except ValueError:
        return value
