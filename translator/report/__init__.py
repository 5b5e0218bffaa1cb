"""Run reports: one self-contained HTML page for a run of a translated pipeline, with its graph
and phases, each task's inputs and outputs, and the pictures KFP's UI draws (metrics tables,
confusion matrices, ROC curves, Markdown and HTML artifacts). docs/report.md.

    write_report(run, "argo", "report.html", read_artifact)

`run` is the engine's object as the Kubernetes API returns it: an Argo `Workflow`, or a Tekton
`PipelineRun` with an extra key `taskRuns` (its TaskRun objects); `read_artifact(uri)` returns
an artifact's bytes (uri: `s3://bucket/key` on Argo, the artifact store key on Tekton).
"""
from __future__ import annotations

import os
import tempfile
from typing import Any, Callable

from .model import Run

ENGINES = ("argo", "tekton")


class ReportError(ValueError):
    """The run object cannot be read as a run of the named engine."""


def read_run(run: dict[str, Any], engine: str) -> Run:
    if engine not in ENGINES:
        raise ReportError(f"unknown engine {engine!r} (expected argo or tekton)")
    kind = run.get("kind") if isinstance(run, dict) else None
    expected = {"argo": "Workflow", "tekton": "PipelineRun"}[engine]
    if kind != expected:
        raise ReportError(f"a {engine} run is a {expected} object, not {kind!r}")
    if engine == "argo":
        from .argo import read
    else:
        from .tekton import read
    return read(run)


def build_report(run: dict[str, Any], engine: str, read_artifact: Callable[[str], bytes]) -> str:
    """The report page's HTML text."""
    from .page import render

    return render(read_run(run, engine), read_artifact)


def write_report(run: dict[str, Any], engine: str, path: str, read_artifact: Callable[[str], bytes]) -> None:
    """Write the report page to `path` (whole or not at all: a temporary file renamed)."""
    text = build_report(run, engine, read_artifact)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=folder)
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)  # as open() would create it (mkstemp makes 0600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
