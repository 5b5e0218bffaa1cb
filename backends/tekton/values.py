"""Values as they travel in Tekton parameters and results.

Canonical encoding as on Argo (docs/design.md): an int is `3`, a double `0.5`, lists and dicts
compact JSON. Tekton substitutes `$(...)` variables in several passes (pipeline parameters,
then contexts and results) and the kubelet expands `$(VAR)` and `$$` in env values and args:
see `protect`, the rule values the pod shim produces follow too (podshim.for_tekton).
"""
from __future__ import annotations

import base64
import json
from typing import Any

from translator import graph as g

from translator.runtime.podshim import B64_PREFIX  # the pod contract owns the transport prefix
ABSENT = "\uffff"  # KFP's None for an optional input (see backends/argo/values.py)


def _ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    return value


def encode(value: Any, ptype: str) -> str:
    """The exact string a value of KFP type `ptype` travels as."""
    if ptype == g.STRING:
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if ptype == g.INTEGER:
        return str(int(value))
    if ptype == g.DOUBLE:
        return json.dumps(float(value))
    if ptype == g.BOOLEAN:
        return "true" if value else "false"
    return json.dumps(_ints(value), separators=(",", ":"))


def protect(text: str) -> str:
    """A constant on its way into a Tekton parameter, which Tekton substitutes into env values
    or args, where the kubelet expands `$(VAR)` and turns `$$` into `$`: every `$` doubled
    arrives exactly; text that spells `$(` travels base64 (a later Tekton pass could read it
    as a variable), as do values that already look encoded. Same rule as podshim.for_tekton."""
    if "$(" in text or text.startswith(B64_PREFIX):
        return B64_PREFIX + base64.b64encode(text.encode()).decode()
    return text.replace("$", "$$")


def kube_escape(text: str) -> str:
    """Literal text in command, args and env: the kubelet turns `$$` back into `$`."""
    return text.replace("$", "$$")
