"""numpy -> plain Python, the one conversion used for metadata, JSON summaries and records."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np


def plain(obj: Any, *, json: bool = False) -> Any:
    """Plain Python from numpy scalars and arrays, recursively: dict keys -> str, tuples and
    lists -> lists, sets -> sorted lists, bytes -> str, paths -> str. With ``json``, NaN and
    infinities become None and any other object its ``str``; without, other objects pass through."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.generic):
        return plain(obj.item(), json=json)
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if not json or math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): plain(v, json=json) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v, json=json) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((plain(v, json=json) for v in obj), key=repr)
    if isinstance(obj, np.ndarray):
        return plain(obj.tolist(), json=json)
    if isinstance(obj, bytes):
        return obj.decode("utf8", "replace")
    if isinstance(obj, Path):
        return str(obj)
    return str(obj) if json else obj
