"""Canonical string encoding of KFP parameter values in Argo parameters (docs/design.md)."""
from __future__ import annotations

import json
from typing import Any

from translator import graph as g


def encode(value: Any, ptype: str) -> str:
    """The exact string a value of KFP type `ptype` travels as: an int is `3`, never `3.0`."""
    if ptype == g.STRING:
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if ptype == g.INTEGER:
        return str(int(value))
    if ptype == g.DOUBLE:
        return json.dumps(float(value))
    if ptype == g.BOOLEAN:
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
