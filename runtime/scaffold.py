"""What ``relay new`` writes: a component's plugin package, and a flow started by a trigger.

``component_files`` renders the templates shipped in ``runtime.scaffold_templates`` (plain
``string.Template`` text) for one component name; ``write_component`` puts them in a folder.
``trigger_flow`` writes a flow whose trigger has each of its required inputs in place: a
connection and any value relay cannot choose become config variables, a choice its first
choice, a default its default.
"""

from __future__ import annotations

import json
import keyword
import math
import re
from importlib import resources
from string import Template
from typing import TYPE_CHECKING, Any

from runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from pathlib import Path

    from runtime.declarations import Input
    from runtime.registry import Registry

_TEMPLATES = "runtime.scaffold_templates"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: Names a new component may not take: they would shadow a module it imports.
_TAKEN = frozenset({"relay", "runtime", "components", "test", "tests", "pytest", "src"})

#: Template file -> where it goes in the package (``{package}`` is the module's name).
_LAYOUT = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "init.py.tmpl": "src/{package}/__init__.py",
    "component.py.tmpl": "src/{package}/component.py",
    "test_component.py.tmpl": "tests/test_{key}.py",
}


def check_name(name: str, installed: set[str] | frozenset[str] = frozenset()) -> str:
    """``name`` if a new component may be called that; else a ``ConfigurationError`` saying
    what a name must be (``installed``: the component keys already taken)."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise ConfigurationError(
            f"{name!r} is not a usable component name: lower-case letters, digits and "
            "underscores, starting with a letter, at most 40 characters (e.g. acme or "
            "acme_crm), not a Python keyword"
        )
    if name in _TAKEN:
        raise ConfigurationError(f"{name!r} is reserved: choose another name")
    if name in installed:
        raise ConfigurationError(f"{name!r}: a component with that key is already installed")
    return name


def component_files(name: str, directory: str | None = None) -> dict[str, str]:
    """The package of the component ``name`` as {relative path: text}."""
    values = {
        "key": name,
        "label": " ".join(part.capitalize() for part in name.split("_") if part),
        "package": f"relay_{name}",
        "dist": f"relay-{name.replace('_', '-')}",
        "directory": directory or name,
    }
    files: dict[str, str] = {}
    folder = resources.files(_TEMPLATES)
    for template, target in _LAYOUT.items():
        text = (folder / template).read_text(encoding="utf-8")
        files[target.format(**values)] = Template(text).substitute(values)
    files[f"src/{values['package']}/py.typed"] = ""
    return files


def write_component(target: Path, name: str, *, force: bool = False) -> list[Path]:
    """Write the package of ``name`` into the folder ``target`` (refused when it exists,
    unless ``force``: then its files are written over, others left alone); what it wrote."""
    if target.exists() and not force:
        raise ConfigurationError(
            f"{target} already exists: choose another place, or give --force to write over it"
        )
    if target.exists() and not target.is_dir():
        raise ConfigurationError(f"{target} exists and is not a folder")
    written: list[Path] = []
    for relative, text in component_files(name, str(target)).items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def trigger_flow(registry: Registry, ref: str, *, name: str | None = None) -> str:
    """A flow (YAML text) started by the component trigger ``ref`` (``component.trigger``)
    with the trigger's required inputs in place and one step that keeps the payload."""
    component_key, _, trigger_key = ref.partition(".")
    if not component_key or not trigger_key:
        raise ConfigurationError(f"--trigger {ref!r}: expected COMPONENT.TRIGGER")
    registered = registry.get(component_key)
    if registered is None:
        raise ConfigurationError(f"--trigger {ref!r}: {registry.unknown_component(component_key)}")
    component = registered.component
    trigger = component.trigger(trigger_key)
    if trigger is None:
        known = ", ".join(t.key for t in component.triggers) or "none"
        raise ConfigurationError(
            f"--trigger {ref!r}: component {component_key!r} has no trigger {trigger_key!r} "
            f"(its triggers: {known})"
        )
    config: dict[str, None] = {}  # in order, once each
    inputs: list[str] = []
    optional: list[str] = []
    connection = component.connections[0].key if component.connections else None
    for spec in trigger.inputs:
        if not spec.required:
            optional.append(f"    # {_printable(spec.key)}: {_words(spec)}")
            continue
        value, variable = _value(spec, component_key, connection)
        if variable is not None:
            config[variable] = None
        inputs.append(f"    {_yaml_key(spec.key)}: {value}" + _comment(spec))
    lines = [f"name: {_yaml(name or f'{trigger.label} flow')}"]
    if config:
        lines += ["config:", *config]
    lines += [
        "trigger:",
        f"  component: {component_key}",
        f"  trigger: {trigger_key}",
        "  inputs:" if inputs else "  inputs: {}",
        *inputs,
    ]
    if optional:
        lines += ["    # optional:", *optional]
    lines += [
        "steps:",
        "  - id: payload",
        "    description: What the trigger handed the flow; replace with your steps.",
        "    action: relay.value",
        "    inputs:",
        "      value: ${{ trigger }}",
    ]
    return "\n".join(lines) + "\n"


def _value(spec: Input, component: str, connection: str | None) -> tuple[str, str | None]:
    """How a required input is filled: (its value in the flow, a config variable or None)."""
    variable = _variable_name(spec.key)
    if spec.type == "connection":
        if connection is None:
            return "${{ config.connection }}", None
        line = (
            f"  {component}: {{type: connection, component: {component}, connection: {connection}}}"
        )
        return f"${{{{ config.{component} }}}}", line
    if spec.has_default and spec.default is not None:
        return _yaml(spec.default), None
    if spec.choices:
        first = spec.choices[0].value
        return _yaml([first] if spec.collection else first), None
    kind = {"number": "number", "integer": "integer", "boolean": "boolean"}.get(spec.type)
    if spec.collection is not None or spec.type == "code":
        kind = "json"
    secret = ", secret: true" if spec.type == "password" else ""
    description = f", description: {_yaml(spec.label)}"
    line = f"  {variable}: {{type: {kind or 'string'}{secret}{description}}}"
    return f"${{{{ config.{variable} }}}}", line


def _yaml_key(key: str) -> str:
    """``key`` as a mapping key: plain where YAML reads it back as the same string."""
    return key if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key) else _yaml(key)


def _yaml(value: Any) -> str:
    """A JSON value as YAML flow text that reads back as the same value."""
    if isinstance(value, str):
        return '"' + "".join(_yaml_char(c) for c in value) + '"'
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_yaml(str(k))}: {_yaml(v)}" for k, v in value.items()) + "}"
    return _yaml(str(value))


def _yaml_char(c: str) -> str:
    """One character inside a double-quoted YAML scalar: as it is where YAML allows it."""
    code = ord(c)
    if c in '"\\':
        return "\\" + c
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD:
        return c
    if code >= 0x10000:
        return c
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _variable_name(key: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", key)
    return cleaned if re.match(r"^[A-Za-z_]", cleaned) else f"_{cleaned}"


def _printable(text: str) -> str:
    """``text`` fit for a YAML comment: one line, no control characters."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _comment(spec: Input) -> str:
    choices = [c.value for c in spec.choices]
    if len(choices) > 1:
        return f"  # {_printable(spec.label)}; one of: {_printable(', '.join(choices))}"
    return f"  # {_printable(spec.label)}"


def _words(spec: Input) -> str:
    said: list[Any] = [spec.label]
    if spec.has_default and spec.default is not None:
        said.append(f"default {json.dumps(spec.default)}")
    if spec.choices:
        said.append("one of: " + ", ".join(c.value for c in spec.choices))
    return _printable("; ".join(str(s) for s in said))
