"""Shared by the flow-test tests: a generic flow (relay's built-in actions, no component),
the shipped flows' folder, and running a test file's cases."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from runtime.flowtests import CaseResult, Session

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "flows"
#: A flow using a loop, a branch with an else, state and an ``on_error: continue`` step.
TALLY = """\
name: tally
config:
  limit: {type: integer, default: 2}
steps:
  - id: items
    action: relay.value
    inputs: {value: "${{ trigger.items }}"}
  - id: each
    for_each: ${{ steps.items.data }}
    steps:
      - id: double
        action: relay.value
        inputs: {value: "${{ item * 2 }}"}
  - id: pick
    branch:
      - name: many
        when: ${{ size(steps.items.data) > config.limit }}
        steps:
          - id: remember
            action: relay.setState
            inputs: {scope: flow, key: seen, value: "${{ size(steps.items.data) }}"}
    else:
      - id: few
        action: relay.value
        inputs: {value: few}
  - id: risky
    action: relay.value
    on_error: continue
    inputs: {value: "${{ steps.items.data[3] }}"}
"""

#: A flow with its own ``tests:`` section (two cases, both passing).
EMBEDDED = """\
name: embedded
config:
  greeting: {type: string, default: hello}
steps:
  - id: say
    action: relay.value
    inputs: {value: "${{ config.greeting + ' ' + trigger.name }}"}
tests:
  - name: says hello
    payload: {name: Ann}
    expect: [steps.say.output.data == 'hello Ann']
  - name: says what it is told to
    payload: {name: Bo}
    config: {greeting: hi}
    expect: [steps.say.output.data == 'hi Bo', branches.size() == 0]
"""


Write = Callable[[str, str], Path]


def run_file(path: Path, session: Session | None = None) -> list[CaseResult]:
    """Every case of the test file at ``path``, run one after another."""
    session = session or Session()
    loaded = session.load(str(path))

    async def main() -> list[CaseResult]:
        return [await session.run(loaded, case) for case in loaded.cases]

    return asyncio.run(main())
