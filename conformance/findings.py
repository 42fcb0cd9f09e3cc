"""A finding: one broken rule, where it was broken, and what was seen."""

from __future__ import annotations

from dataclasses import dataclass

from conformance.rules import RULES, Severity

__all__ = ("Finding",)

_EXCERPT = 300


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule broken once.

    Attributes:
        rule: the rule id (a key of :data:`conformance.rules.RULES`).
        message: what was wrong, in words.
        scenario: the scenario or probe that found it.
        event_index: the 0-based index of the offending event in the stream, when there is one.
        frame: the offending frame (or an excerpt of it), when there is one.
    """

    rule: str
    message: str
    scenario: str = ""
    event_index: int | None = None
    frame: str | None = None

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown rule id {self.rule!r}")
        if self.frame is not None and len(self.frame) > _EXCERPT:
            object.__setattr__(self, "frame", self.frame[:_EXCERPT] + "…")

    @property
    def severity(self) -> Severity:
        """How bad it is: ``error`` fails the run, ``warning`` does not."""
        return RULES[self.rule].severity

    def as_dict(self) -> dict[str, object]:
        """The finding as JSON-able data."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "scenario": self.scenario,
            "message": self.message,
            "eventIndex": self.event_index,
            "frame": self.frame,
        }
