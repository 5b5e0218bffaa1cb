"""kfp-translate: Kubeflow Pipelines v2 pipelines as native Argo Workflows.

    import translator
    manifests = translator.translate("pipeline.yaml", backend="argo", namespace="ml")

Heavy modules (pydantic models, kfp, hera) load on first use, so `translate --help` and
`translate lint` start fast.
"""
from __future__ import annotations

from .errors import TranslateError

TYPE_CHECKING = False  # `typing` stays unloaded until a translation needs it (translate --help)
if TYPE_CHECKING:
    from typing import Any

    from .graph import Pipeline
    from .loader import LoadedPipeline, load

__all__ = ["translate", "load_graph", "TranslateError", "Pipeline", "load"]


def __getattr__(name: str) -> Any:
    if name == "Pipeline":
        from .graph import Pipeline

        return Pipeline
    if name in ("load", "LoadedPipeline"):
        from . import loader

        return getattr(loader, name)
    raise AttributeError(f"module 'translator' has no attribute {name!r}")


def load_graph(source: Any) -> "Pipeline":
    """Load a pipeline (path, `file.py:func`, IR dict or kfp pipeline object) as the normalized graph."""
    from .loader import LoadedPipeline, load
    from .normalize import build

    loaded = source if isinstance(source, LoadedPipeline) else load(source)
    try:
        return build(loaded.spec, loaded.platform, loaded.source)
    except TranslateError as exc:
        raise exc.with_file(loaded.source)


def translate(source: Any, backend: str = "argo", **options: Any) -> list[dict[str, Any]]:
    """Translate one pipeline; returns the manifests as plain dicts (nothing is written).

    `source`: a path, `file.py:func`, IR as a dict or YAML/JSON text, or a kfp pipeline object.
    Options are the command line's: `parameters={"lr": 0.5}` (typed values, or strings as `-p`
    gives them), `kind`, `name`, `namespace`, `schedule`, ...
    """
    import backends

    pipeline = load_graph(source)
    try:
        return backends.get(backend).translate(pipeline, **options)
    except TranslateError as exc:
        raise exc.with_file(pipeline.source or "<pipeline>")
