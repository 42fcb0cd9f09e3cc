"""The AG-UI conformance runner: judges any AG-UI endpoint, on the command line and in CI.

Run it as ``agui-server check URL`` or ``python -m conformance URL``; see ``conformance/RULES.md``
for every rule id.
"""

from __future__ import annotations

from conformance.findings import Finding
from conformance.report import CheckResult, Report
from conformance.rules import RULES, Rule
from conformance.runner import EndpointUnreachable, run_conformance
from conformance.scenarios import BUILTIN_SCENARIOS, Expectations, Scenario, load_scenarios

__all__ = (
    "BUILTIN_SCENARIOS",
    "RULES",
    "CheckResult",
    "EndpointUnreachable",
    "Expectations",
    "Finding",
    "Report",
    "Rule",
    "Scenario",
    "load_scenarios",
    "run_conformance",
)
