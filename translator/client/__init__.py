"""kfp.Client's calls for kfp-translate: runs, experiments, recurring runs and uploaded pipelines
on Argo Workflows or Tekton, through the Kubernetes API (no KFP API server).

    from translator.client import Client
    client = Client(backend="argo")
    run = client.create_run_from_pipeline_func(my_pipeline, arguments={"n": 3})
"""
from __future__ import annotations

from typing import Any

__all__ = ["Client", "ClientError", "Run", "Task", "Artifact", "Experiment", "RecurringRun", "PipelineVersion"]


def __getattr__(name: str) -> Any:
    if name == "Client":
        from .client import Client

        return Client
    if name == "ClientError":
        from .errors import ClientError

        return ClientError
    if name in ("Run", "Task", "Artifact", "Experiment", "RecurringRun", "PipelineVersion"):
        from . import model

        return getattr(model, name)
    raise AttributeError(f"module 'translator.client' has no attribute {name!r}")
