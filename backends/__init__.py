"""Backends turn the normalized graph into manifests. Third parties add one through the
`kfp_translate.backends` entry-point group (an object with `name` and
`translate(pipeline, **options) -> list[dict]`)."""
from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

from translator.errors import TranslateError

GROUP = "kfp_translate.backends"


@lru_cache(maxsize=1)  # scanning every installed distribution's metadata costs ~0.1 s
def available() -> dict[str, Any]:
    found: dict[str, Any] = {ep.name: ep for ep in entry_points(group=GROUP)}
    if "argo" not in found:  # running from a source tree without an install
        from .argo import BACKEND

        found["argo"] = BACKEND
    return found


def get(name: str) -> Any:
    backends = available()
    if name not in backends:
        raise TranslateError(f"unknown backend '{name}' (available: {', '.join(sorted(backends))})", element="--backend")
    backend = backends[name]
    return backend.load() if hasattr(backend, "load") else backend
