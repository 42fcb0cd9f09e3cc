"""Reports: a summary for people, JSON and JUnit XML for CI systems."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conformance.rules import RULES

if TYPE_CHECKING:
    from pathlib import Path

    from conformance.findings import Finding

__all__ = ("CheckResult", "Report")


@dataclass(slots=True)
class CheckResult:
    """One scenario or probe and what it found."""

    name: str
    kind: str
    """``scenario`` or ``probe``."""
    description: str = ""
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        """Whether an error-level rule was broken."""
        return any(f.severity == "error" for f in self.findings)


@dataclass(slots=True)
class Report:
    """Everything one run of the runner found."""

    url: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Whether any check failed."""
        return any(result.failed for result in self.results)

    @property
    def findings(self) -> list[Finding]:
        """Every finding, in order."""
        return [f for result in self.results for f in result.findings]

    def summary(self) -> str:
        """A summary for people: one line per check, then each finding with its rule, event and frame."""
        lines = [f"AG-UI conformance: {self.url}", ""]
        for result in self.results:
            mark = "FAIL" if result.failed else ("warn" if result.findings else " ok ")
            lines.append(f"  [{mark}] {result.kind:8} {result.name}  ({result.seconds:.2f} s)")
        findings = self.findings
        if findings:
            lines.append("")
            for finding in findings:
                where = f" event #{finding.event_index}" if finding.event_index is not None else ""
                lines.append(
                    f"{finding.severity.upper()} {finding.rule} [{finding.scenario}]{where}: {finding.message}"
                )
                lines.append(f"    rule: {RULES[finding.rule].summary}")
                if finding.frame:
                    frame = finding.frame.replace("\r", "\\r").replace("\n", "\\n")
                    lines.append(f"    frame: {frame}")
        errors = sum(1 for f in findings if f.severity == "error")
        warnings = len(findings) - errors
        checks = len(self.results)
        failed = sum(1 for r in self.results if r.failed)
        lines += ["", f"{checks - failed} passed, {failed} failed ({errors} errors, {warnings} warnings)"]
        return "\n".join(lines)

    def to_json(self) -> str:
        """The report as JSON."""
        return json.dumps(
            {
                "url": self.url,
                "passed": not self.failed,
                "checks": [
                    {
                        "name": r.name,
                        "kind": r.kind,
                        "description": r.description,
                        "passed": not r.failed,
                        "seconds": round(r.seconds, 3),
                        "findings": [f.as_dict() for f in r.findings],
                    }
                    for r in self.results
                ],
            },
            indent=2,
            ensure_ascii=False,
        )

    def to_junit(self) -> str:
        """The report as JUnit XML: one test case per check, one failure per error finding."""
        suite = ET.Element(
            "testsuite",
            name="ag-ui-conformance",
            tests=str(len(self.results)),
            failures=str(sum(1 for r in self.results if r.failed)),
            errors="0",
            time=f"{sum(r.seconds for r in self.results):.3f}",
        )
        for result in self.results:
            case = ET.SubElement(suite, "testcase", classname=f"conformance.{result.kind}", name=result.name)
            case.set("time", f"{result.seconds:.3f}")
            for finding in result.findings:
                where = f" (event #{finding.event_index})" if finding.event_index is not None else ""
                text = finding.frame or ""
                if finding.severity == "error":
                    failure = ET.SubElement(case, "failure", message=f"{finding.rule}: {finding.message}{where}")
                    failure.set("type", finding.rule)
                    failure.text = text
                else:
                    out = ET.SubElement(case, "system-out")
                    out.text = f"warning {finding.rule}: {finding.message}{where}\n{text}"
        suites = ET.Element("testsuites")
        suites.append(suite)
        return ET.tostring(suites, encoding="unicode", xml_declaration=True)

    def write(self, json_path: Path | None = None, junit_path: Path | None = None) -> None:
        """Write the JSON and JUnit reports where asked."""
        if json_path is not None:
            json_path.write_text(self.to_json() + "\n", encoding="utf-8")
        if junit_path is not None:
            junit_path.write_text(self.to_junit() + "\n", encoding="utf-8")
