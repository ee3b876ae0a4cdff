"""YAML 1.2 text -> plain Python values plus the line and column of every node.

libyaml (PyYAML's C parser) gives us events with marks; we compose the node graph from them
ourselves (with a depth limit: libyaml's composer recurses in C) and construct values from it,
so that duplicate keys are *reported* (every one, with its position) instead of aborting the
parse, alias bombs and self-referencing aliases are bounded, and plain scalars follow YAML
1.2's rules (``yes``, ``on`` and sexagesimals like ``1:30`` stay strings; PyYAML's resolver is
YAML 1.1's, so ``_tag`` resolves them here). One difference from the 1.2 text remains: libyaml,
a YAML 1.1 parser, breaks lines at U+2028/U+2029 too. This reads a 200-step flow ~10x faster
than ruamel.yaml's pure-Python composer, which relay used before (BENCHMARKS.md, figure 5).
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml
from attrs import define, field
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runtime.errors import Problem
from runtime.schema_messages import key_path

Path = tuple[str | int, ...]

#: More nodes than this (after alias expansion) is refused: a flow is never that large.
MAX_NODES = 200_000

_INT = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
_TAG = "tag:yaml.org,2002:"
#: The tag the composer gives every plain (unquoted, untagged) scalar; ``_tag`` resolves it.
_PLAIN = "tag:relay,2026:plain"

#: YAML 1.2 implicit types of plain scalars, in the order they are tried.
_IMPLICIT = (
    (_TAG + "bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")),
    (
        _TAG + "float",
        re.compile(
            r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
            r"|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)"
            r"|\.(?:nan|NaN|NAN))$"
        ),
    ),
    (
        _TAG + "int",
        re.compile(r"^[-+]?(?:0b[01_]+|0o?[0-7_]+|[0-9_]+|0x[0-9a-fA-F_]+)$"),
    ),
    (_TAG + "merge", re.compile(r"^<<$")),
    (_TAG + "null", re.compile(r"^(?:~|null|Null|NULL|)$")),
)


#: libyaml's parser when PyYAML was built with it (its wheels are), else the same in Python.
_Parser: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Deeper nesting than this is refused (a flow is a few levels deep; deeper input would only
#: exhaust the stack of whatever walks it).
MAX_DEPTH = 100


def _tag(node: Node) -> str:
    """A node's tag, plain scalars resolved by the YAML 1.2 rules."""
    tag: str = node.tag or ""
    if tag == _PLAIN:
        value = node.value
        for implicit, pattern in _IMPLICIT:
            if pattern.match(value):
                return implicit
        return _TAG + "str"
    return tag


class _TooDeep(Exception):
    """Nesting over ``MAX_DEPTH`` while composing; ``mark`` is where the deepest one opens."""

    def __init__(self, mark: Any) -> None:
        self.mark = mark


def _compose(text: str) -> Node | None:
    """The single document of ``text`` as a node graph, from libyaml's events (libyaml's own
    composer recurses in C, and deep enough nesting crashes the process). Plain scalars get
    ``_PLAIN``; anchors are registered when their node starts, as YAML composers do."""
    parser = _Parser(text)
    try:
        parser.get_event()  # stream start
        if parser.check_event(yaml.StreamEndEvent):
            return None
        parser.get_event()  # document start
        root = _compose_node(parser)
        parser.get_event()  # document end
        if not parser.check_event(yaml.StreamEndEvent):
            extra = parser.get_event()
            raise yaml.composer.ComposerError(
                None, None, "expected one document, found another", extra.start_mark
            )
        return root
    finally:
        parser.dispose()


_COLLECTION_START = yaml.SequenceStartEvent | yaml.MappingStartEvent


def _compose_node(parser: Any) -> Node:
    """The node tree of one document's events, each collection closed at its end event."""
    anchors: dict[str, Node] = {}
    open_nodes: list[Node] = []
    while True:
        event = parser.get_event()
        node: Node
        if isinstance(event, yaml.AliasEvent):
            node = _aliased(event, anchors)
        elif isinstance(event, yaml.ScalarEvent | _COLLECTION_START):
            node = _fresh_node(event)
            if event.anchor is not None:
                anchors[event.anchor] = node
        else:  # the end of the innermost open collection
            done = _closed(open_nodes.pop())
            if not open_nodes:
                return done
            continue
        if open_nodes:
            open_nodes[-1].value.append(node)
        if isinstance(event, _COLLECTION_START):
            open_nodes.append(node)  # its items follow, up to its end event
            if len(open_nodes) > MAX_DEPTH:
                raise _TooDeep(event.start_mark)
        elif not open_nodes:
            return node


def _aliased(event: Any, anchors: dict[str, Node]) -> Node:
    """The node an alias names (the same object, not a copy); an undefined one is an error."""
    found = anchors.get(event.anchor)
    if found is None:
        raise yaml.composer.ComposerError(
            None, None, f"found undefined alias {event.anchor!r}", event.start_mark
        )
    return found


def _fresh_node(event: Any) -> Node:
    """A new scalar, or an empty sequence or mapping whose items follow, with its resolved tag."""
    tag = event.tag
    if isinstance(event, yaml.ScalarEvent):
        if tag is None or tag == "!":
            tag = _PLAIN if tag is None and event.implicit[0] else _TAG + "str"
        return ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    sequence = isinstance(event, yaml.SequenceStartEvent)
    if tag is None or tag == "!":
        tag = _TAG + ("seq" if sequence else "map")
    kind = SequenceNode if sequence else MappingNode
    return kind(tag, [], event.start_mark, None, event.flow_style)


def _closed(done: Node) -> Node:
    """A finished collection; a mapping's flat key, value list becomes its pairs."""
    if isinstance(done, MappingNode):
        flat = done.value
        done.value = list(zip(flat[0::2], flat[1::2], strict=True))
    return done


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
        """A problem with ``message`` placed at ``path`` (or its key), for the flow report."""
        line, column = self.where(path, key=key)
        return Problem(message=message, file=self.file, line=line, column=column)


def parse_yaml(text: str, file: str) -> YamlDocument:
    """Parse ``text``; syntax errors and duplicate keys land in ``problems``."""
    doc = YamlDocument(file=file)
    try:
        node = _compose(text)
    except _TooDeep as exc:
        line, column = exc.mark.line + 1, exc.mark.column + 1
        message = f"nesting deeper than {MAX_DEPTH} levels"
        doc.problems.append(Problem(message=message, file=file, line=line, column=column))
        return doc
    except UnicodeEncodeError as exc:  # a lone surrogate: libyaml reads UTF-8
        line, column = _line_column(text, exc.start)
        message = f"unacceptable character #x{ord(text[exc.start]):04x}"
        doc.problems.append(Problem(message=message, file=file, line=line, column=column))
        return doc
    except yaml.reader.ReaderError as exc:
        line, column = _line_column(text, exc.position)
        message = f"unacceptable character #x{exc.character:04x}: {exc.reason}"
        doc.problems.append(Problem(message=message, file=file, line=line, column=column))
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"YAML syntax error: {exc.problem or exc.context}"
        doc.problems.append(Problem(message=message, file=file, line=line, column=column))
        return doc
    except yaml.YAMLError as exc:
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


def _line_column(text: str, position: int) -> tuple[int, int]:
    """1-based line and column of the character at ``position`` in ``text``."""
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


class _TooLarge(Exception):
    pass


class _Builder:
    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.count = 0
        self._open: set[int] = set()  # the collections being built (an alias may point up)

    def build(self, node: Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge
        if len(path) > MAX_DEPTH:  # aliases can nest what each anchor keeps shallow
            self.doc.problems.append(self._at(node, f"nesting deeper than {MAX_DEPTH} levels"))
            return None
        self.doc.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, ScalarNode):
            return _scalar(node)
        if id(node) in self._open:
            self.doc.problems.append(self._at(node, "an alias refers to a node that contains it"))
            return None
        self._open.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            assert isinstance(node, SequenceNode)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self._open.discard(id(node))

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        where = f"{key_path(path)}: " if path else ""  # the mapping's key path, for messages
        for key_node, value_node in node.value:
            tag = _tag(key_node)
            if tag == _TAG + "merge":
                message = f"{where}merge keys (<<) are not supported"
                self.doc.problems.append(self._at(key_node, message))
                continue
            key = _scalar(key_node, tag) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str | int | float | bool) or key is None:
                message = f"{where}mapping keys must be plain scalars"
                self.doc.problems.append(self._at(key_node, message))
                continue
            name = str(key) if not isinstance(key, bool) else str(key).lower()
            child = (*path, name)
            if name in out:
                self.doc.problems.append(self._at(key_node, f"{where}duplicate key {name!r}"))
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


def _scalar(node: ScalarNode, tag: str | None = None) -> Any:
    """The scalar's value by its tag (``tag``: already resolved by the caller)."""
    tag = _tag(node) if tag is None else tag
    value: str = node.value
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
