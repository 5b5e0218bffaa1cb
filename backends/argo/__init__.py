"""The Argo Workflows backend: normalized graph → Workflow / WorkflowTemplate / CronWorkflow.

Reading order: `workflow.py` (this entry) → `dag.py` (DAGs, tasks, conditions) → `container.py`
(one component → one container template, the pod shim).
"""
from .workflow import BACKEND, ArgoBackend  # noqa: F401
