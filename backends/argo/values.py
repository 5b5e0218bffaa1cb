"""Canonical string encoding of KFP parameter values in Argo parameters (docs/design.md)."""
from __future__ import annotations

import json
from typing import Any

from translator import graph as g


# The value of an optional input that was given none (KFP's None): the pod shim leaves such an
# input out of the ExecutorInput, so the function's own default applies. U+FFFF is a Unicode
# noncharacter, never part of interchanged text; unlike NUL it survives Argo's substitution
# (which escapes it as valid JSON) and Kubernetes env values.
ABSENT = "\uffff"


def _ints(value: Any) -> Any:
    """Integral floats inside lists and structs are ints, as KFP's executor receives them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    return value


def encode(value: Any, ptype: str) -> str:
    """The exact string a value of KFP type `ptype` travels as: an int is `3`, never `3.0`."""
    if ptype == g.STRING:
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if ptype == g.INTEGER:
        return str(int(value))
    if ptype == g.DOUBLE:
        return json.dumps(float(value))
    if ptype == g.BOOLEAN:
        return "true" if value else "false"
    return json.dumps(_ints(value), separators=(",", ":"))
