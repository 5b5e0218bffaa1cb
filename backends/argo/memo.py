"""Argo memoization keys that follow content, not identity.

The key hashes (a) a digest of everything that defines what the step computes (the emitted
template without its memoize block: image, command, env, resources, settings), (b) every input
parameter's value and (c) the content digest of every input artifact, which the producing pod
computed (`<artifact>-digest`). So equal inputs hit, a changed upstream value misses all the way
down, and an upstream step that re-ran but wrote identical bytes still lets its consumers hit.
Argo requires keys matching `^[a-zA-Z0-9][-a-zA-Z0-9]*$`: a hex digest always does.
"""
from __future__ import annotations

import hashlib
import json

from hera.workflows import models as m

KEY_VERSION = "kfpt1"


def template_digest(template: m.Template) -> str:
    body = template.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"memoize", "name"})
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _lit(text: str) -> str:
    """An expr-lang string literal for translate-time constants (hex digests and names)."""
    return json.dumps(text)


def memo_key(template: m.Template, params: list[str], custom_key: str | None) -> str:
    """An expression tag evaluated by Argo against the template's inputs when the step starts."""
    parts = [_lit(KEY_VERSION), _lit(template_digest(template))]
    if custom_key:
        parts.append(_lit("custom:" + custom_key))
    else:
        for name in sorted(params):
            parts += [_lit(name), "inputs.parameters[%s]" % _lit(name)]
    return "{{=sprig.sha256sum(toJson([%s]))}}" % ", ".join(parts)


def memoize(template: m.Template, params: list[str], custom_key: str | None, configmap: str, max_age: str) -> m.Memoize:
    return m.Memoize(
        key=memo_key(template, params, custom_key),
        max_age=max_age,
        cache=m.Cache(config_map=m.LocalObjectReference(name=configmap)),
    )
