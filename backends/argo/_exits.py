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
        return task.name not in self._referenced()

    def _referenced(self) -> set[str]:
        """Tasks another task or a DAG output reads or runs after (computed once per DAG)."""
        if self._consumed is None:
            self._consumed = {src.task for out in self.dag.outputs for src in out.sources}
            for other in self.dag.tasks:
                self._consumed.update(other.after)
                self._consumed.update(b.task for _, b in other.params + other.artifacts
                                      if isinstance(b, (g.FromTask, g.FromTaskStatus)))
        return self._consumed

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

