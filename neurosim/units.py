"""SI formatting of quantities for reports and descriptions: ``1.0605e-09 J`` -> ``1.061 nJ``."""

from __future__ import annotations

import math

_PREFIXES = [
    (1e-18, "a"),
    (1e-15, "f"),
    (1e-12, "p"),
    (1e-9, "n"),
    (1e-6, "µ"),
    (1e-3, "m"),
    (1.0, ""),
    (1e3, "k"),
    (1e6, "M"),
    (1e9, "G"),
    (1e12, "T"),
]


def si_scale(value: float | None, smallest: float = 0.0) -> tuple[float, str]:
    """``(factor, prefix)`` such that ``value / factor`` lies in [1, 1000) where possible, using
    no prefix below ``smallest`` (``smallest=1`` scales large values only)."""
    if value is None or not math.isfinite(value) or value == 0:
        return 1.0, ""
    mag = abs(value)
    prefixes = [p for p in _PREFIXES if p[0] >= smallest]
    chosen = prefixes[0]
    for factor, prefix in prefixes:
        if mag >= factor * (1 - 1e-12):
            chosen = (factor, prefix)
    return chosen


def fmt_si(value: float | None, unit: str, digits: int = 4, smallest: float = 0.0) -> str:
    """``1.0605e-09, "J"`` -> ``"1.061 nJ"``; None -> ``"n/a"``; ``smallest`` as in :func:`si_scale`."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    factor, prefix = si_scale(value, smallest)
    return f"{value / factor:.{digits}g} {prefix}{unit}"
