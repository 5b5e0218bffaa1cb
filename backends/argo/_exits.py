"""dsl.ExitHandler and PipelineTaskFinalStatus: exit hooks on the group task.

Mixed into dag._Scope; `self` is that scope.
"""
from __future__ import annotations

import json

from translator import graph as g


class ExitMixin:
    def _is_exit_hook(self, task: g.Task) -> bool:
        """dsl.ExitHandler's exit task: runs after its one group completes, feeds no one. Argo's
        exit hook keeps the group a leaf of the DAG, so a failed group still fails the run."""
        if not task.run_after_upstream_completed or task.iterator is not None or task.condition:
            return False
        ups = self._upstreams(task)
        if len(ups) != 1 or not isinstance(self._task(ups[0]).component.impl, g.DagImpl):
            return False
        for other in self.dag.tasks:
            if task.name in other.after or any(
                isinstance(b, (g.FromTask, g.FromTaskStatus)) and b.task == task.name for _, b in other.params + other.artifacts
            ):
                return False
        return not any(src.task == task.name for out in self.dag.outputs for src in out.sources)

    def final_status(self, upstream: str) -> str:
        """PipelineTaskFinalStatus as KFP defines it, built by Argo from the task's phase."""
        status = "tasks[%s].status" % json.dumps(self.task_names[upstream])
        state = f'({status} == "Succeeded" ? "SUCCEEDED" : ({status} == "Skipped" ? "SKIPPED" : "FAILED"))'
        error = (f'({status} == "Succeeded" ? {{ }} : {{"code": 2, "message": "task {upstream} " + {status} }} )')
        return "{{=toJson({%s})}}" % ", ".join([
            f'"error": {error}',
            '"pipelineJobResourceName": workflow.name',
            f'"pipelineTaskName": {json.dumps(upstream)}',
            f'"state": {state} ',
        ])

