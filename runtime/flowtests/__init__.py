"""Flow tests: YAML files beside the flows saying what a flow must do, run by ``relay test``
and by pytest (the ``relay`` pytest plugin).

A test file names its flow and lists cases; each case starts the flow with a payload or with
a sandbox scenario (whose signed webhooks start the runs), may replace step outcomes and
answer requests (fixtures), and asserts in CEL over the execution. ``Session`` loads and runs
them; ``runtime.flowtests.suite`` runs many (in parallel) with coverage and reports.
"""

from runtime.flowtests.model import Assertion, Case, TestFile
from runtime.flowtests.runner import CaseResult, Failure, Session, discover, is_test_file

__all__ = [
    "Assertion",
    "Case",
    "CaseResult",
    "Failure",
    "Session",
    "TestFile",
    "discover",
    "is_test_file",
]
