"""The Tekton Pipelines backend: normalized graph → tekton.dev/v1 PipelineRun / Pipeline.

Reading order: `pipeline.py` (this entry) → `flatten.py` (nested DAGs → one level of tasks,
guards) → `conditions.py` (KFP conditions → `when`) → `tasks.py` (one task, its steps) →
`steps.py` (the steps we add: artifact transfer, condition evaluation, the pod shim).
"""
from .pipeline import BACKEND, TektonBackend  # noqa: F401
