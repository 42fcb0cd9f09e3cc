"""Small statistics helpers."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ("percentile",)


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile: the smallest value with at least ``pct`` % of the values at or below it."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]
