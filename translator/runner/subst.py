"""Argo's `{{...}}` substitution, for the templates kfp-translate emits.

Argo replaces tags in one pass over the template's JSON, inserting each value escaped as a JSON
string body, so a value arrives in the container byte for byte (quotes, newlines, `{{`). The
equivalent on decoded strings is a single-pass replacement whose inserted text is never scanned
again, which is what `substitute` does. `{{=...}}` tags are evaluated with the expression engine.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable

from translator import exprlang

TAG = re.compile(r"\{\{(.*?)\}\}", re.S)
ABSENT = "\x00kfpt-absent-optional\x00"  # an argument that is a pure reference to an absent output


class SubstitutionError(Exception):
    pass


def is_pure_ref(text: str) -> str | None:
    """The key of a value that is exactly one simple tag, e.g. `{{tasks.a.outputs.parameters.b}}`."""
    m = TAG.fullmatch(text or "")
    if not m or m.group(1).startswith("=") or "{{" in m.group(1):
        return None
    return m.group(1).strip()


def expression_result(value: Any) -> str:
    """How Argo renders an expression's value into the template (strings raw, the rest as JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return json.dumps(value, separators=(",", ":"))


def substitute(text: str, flat: dict[str, str | None], expr_scope: Callable[[], dict[str, Any]], where: str,
               lenient: bool = False) -> str:
    """One pass. `lenient`: Argo's passes with allowUnresolved (over a template's input values
    with the globals, over the pod spec): a tag that cannot be resolved stays as written."""
    def one(match: re.Match[str]) -> str:
        tag = match.group(1)
        if tag.startswith("="):
            try:
                return expression_result(exprlang.evaluate(tag[1:], expr_scope()))
            except exprlang.ExprError as exc:
                if lenient:
                    return match.group(0)
                raise SubstitutionError(f"{where}: cannot evaluate {{{{{tag}}}}}: {exc}") from None
        key = tag.strip()
        if key not in flat and lenient:
            return match.group(0)
        if key not in flat:
            raise SubstitutionError(f"{where}: failed to resolve {{{{{key}}}}}")
        value = flat[key]
        if value is None:  # Argo 3.7.16+/4.0.7+: a skipped task's output without a default
            raise SubstitutionError(f"{where}: unable to substitute {{{{{key}}}}}: output is an absent optional "
                                    "(skipped/omitted node with no default)")
        return value

    return TAG.sub(one, text)


def substitute_tree(node: Any, flat: dict[str, str], expr_scope: Callable[[], dict[str, Any]], where: str,
                    lenient: bool = False) -> Any:
    if isinstance(node, str):
        return substitute(node, flat, expr_scope, where, lenient)
    if isinstance(node, list):
        return [substitute_tree(x, flat, expr_scope, where, lenient) for x in node]
    if isinstance(node, dict):
        return {k: substitute_tree(v, flat, expr_scope, where, lenient) for k, v in node.items()}
    return node


def nested(flat: dict[str, str | None]) -> dict[str, Any]:
    """Argo's expression environment: dotted keys expanded into nested maps (None: absent, nil)."""
    root: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        if not isinstance(node.get(parts[-1]), dict):
            node[parts[-1]] = value
    return root
