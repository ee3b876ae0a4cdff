"""How a suite is told: a failure with its assertion, the values it saw and the step timeline;
JUnit XML for CI; the coverage table and its JSON and HTML reports."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.flowtests.coverage import Coverage
    from runtime.flowtests.runner import CaseResult
    from runtime.flowtests.suite import SuiteResult


def failure_text(result: CaseResult) -> str:
    """One failed or erroring case, as ``relay test`` and pytest show it."""
    lines = [f"{result.outcome.upper()} {result.id}"]
    if result.error:
        lines.append(f"  {result.error}")
    for failure in result.failures:
        lines.append(f"  {failure.place}: assertion {failure.assertion!r} {failure.message}")
        lines.extend(f"    {line}" for line in failure.seen)
    if result.run_error:
        error = result.run_error
        lines.append(f"  the run failed at step {error['step']}: {error['message']}")
    if result.timeline:
        lines.append(f"  steps of the {'last ' if result.runs > 1 else ''}run:")
        width = max(len(step["path"]) for step in result.timeline)
        for step in result.timeline:
            text = f"    {step['path']:<{width}}  {step['status']:<9} {step['what']}"
            if step["attempts"] and step["attempts"] > 1:
                text += f" ({step['attempts']} attempts)"
            if step["error"]:
                text += f": {step['error']}"
            lines.append(text)
    return "\n".join(lines)


#: What XML 1.0 cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def junit_xml(suite: SuiteResult) -> bytes:
    """The suite as JUnit XML (one ``testcase`` per case; file problems as errors)."""
    failures = sum(1 for r in suite.results if r.outcome == "failed")
    errors = sum(1 for r in suite.results if r.outcome == "error") + (1 if suite.problems else 0)
    total = len(suite.results) + (1 if suite.problems else 0)
    seconds = sum(r.seconds for r in suite.results)
    root = ET.Element("testsuites")
    node = ET.SubElement(
        root,
        "testsuite",
        name="relay flow tests",
        tests=str(total),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=f"{seconds:.3f}",
    )
    for result in suite.results:
        case = ET.SubElement(
            node,
            "testcase",
            classname=_xml_text(Path(result.file).stem),
            name=_xml_text(result.name),
            file=_xml_text(result.file),
            time=f"{result.seconds:.3f}",
        )
        if result.outcome != "passed":
            first = result.failures[0] if result.failures else None
            message = f"{first.place}: {first.assertion} {first.message}" if first else result.error
            child = ET.SubElement(
                case,
                "failure" if result.outcome == "failed" else "error",
                message=_xml_text(message),
            )
            child.text = _xml_text(failure_text(result))
    if suite.problems:
        case = ET.SubElement(node, "testcase", classname="relay", name="test files load")
        child = ET.SubElement(case, "error", message=f"{len(suite.problems)} problem(s)")
        child.text = _xml_text("\n".join(str(p) for p in suite.problems))
    ET.indent(root)
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return text


def shown_path(path: str) -> str:
    """``path`` relative to the current folder when it is beneath it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def coverage_rows(coverage: Coverage) -> list[tuple[str, ...]]:
    """(flow, steps, branches, on_error, percent, missing) per flow, then the total."""
    rows: list[tuple[str, ...]] = []
    for path, entry in sorted(coverage.flows.items()):
        cells = [shown_path(path)]
        for kind in ("step", "branch", "on_error"):
            done, total = entry.covered(kind)
            cells.append(f"{done}/{total}")
        missing = ", ".join(f"{kind} {what}" for kind, what in entry.missing)
        rows.append((*cells, f"{entry.percent():.0f}%", missing))
    rows.append(("total", "", "", "", f"{coverage.percent():.0f}%", ""))
    return rows


def coverage_json(coverage: Coverage) -> str:
    """The coverage report as JSON text."""
    return json.dumps(coverage.as_dict(), indent=2, sort_keys=True) + "\n"


def coverage_html(coverage: Coverage) -> str:
    """The coverage report as one self-contained HTML page (no script, no external asset)."""
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<title>relay flow coverage</title><style>",
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}",
        "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}",
        ".hit{background:#e6f4e6}.miss{background:#fbe3e3}",
        "</style></head><body>",
        f"<h1>relay flow coverage: {coverage.percent():.0f}%</h1>",
    ]
    for path, entry in sorted(coverage.flows.items()):
        parts.append(f"<h2>{html.escape(path)}: {entry.percent():.0f}%</h2>")
        parts.append("<table><tr><th>kind</th><th>item</th><th>cases reaching it</th></tr>")
        for kind, what in entry.items:
            count = entry.counts.get((kind, what), 0)
            css = "hit" if count else "miss"
            parts.append(
                f"<tr class={css}><td>{html.escape(kind)}</td><td>{html.escape(what)}</td>"
                f"<td>{count}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "".join(parts)


def write_coverage(coverage: Coverage, kind: str, target: str | None) -> Path:
    """Write the ``json`` or ``html`` report; where (default ``relay-coverage.json`` or
    ``relay-coverage/index.html``) is returned."""
    if kind == "json":
        path = Path(target or "relay-coverage.json")
        text = coverage_json(coverage)
    else:
        folder = Path(target or "relay-coverage")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "index.html"
        text = coverage_html(coverage)
    path.write_text(text, encoding="utf-8")
    return path


def summary(suite: SuiteResult) -> dict[str, Any]:
    """Counts by outcome."""
    out = {"passed": 0, "failed": 0, "error": 0}
    for result in suite.results:
        out[result.outcome] += 1
    return out
