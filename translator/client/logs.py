"""Step logs of a run: the pods of the Workflow (container `main`) or of the PipelineRun's
TaskRuns (every `step-*` container), read or followed through CoreV1Api."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from .connection import Connection
from .model import Run


@dataclass
class LogLine:
    task: str
    pod: str
    container: str
    text: str


def _pods(conn: Connection, run: Run) -> list[tuple[str, str, list[str]]]:
    """(task, pod, containers) in the order the tasks ran."""
    selector = (f"workflows.argoproj.io/workflow={run.name}" if run.engine == "argo"
                else f"tekton.dev/pipelineRun={run.name}")
    pods = conn.call("list the run's pods", conn.core.list_namespaced_pod, run.namespace, label_selector=selector).items
    by_name = {p.metadata.name: p for p in pods}
    by_node = {(p.metadata.annotations or {}).get("workflows.argoproj.io/node-id"): p for p in pods}
    out = []
    for task in run.tasks:
        if not task.pod:
            continue
        pod = by_name.get(task.pod) or by_node.get(task.pod)
        if pod is None:
            continue
        if run.engine == "argo":
            containers = ["main"]
        else:
            containers = [c.name for c in pod.spec.containers if c.name.startswith("step-")]
        out.append((task.name if task.iteration is None else f"{task.name}[{task.iteration}]", pod.metadata.name, containers))
    return out


def read(conn: Connection, run: Run, task: str | None = None, follow: bool = False) -> Iterator[LogLine]:
    """Each line of each step (of `task`, or of every task), task after task."""
    found = False
    for name, pod, containers in _pods(conn, run):
        if task is not None and name != task and name.split("[")[0] != task:
            continue
        found = True
        for container in containers:
            yield from _container(conn, run.namespace, name, pod, container, follow)
    if task is not None and not found:
        from .errors import NotFound

        names = sorted({t.name for t in run.tasks})
        raise NotFound(f"run {run.run_id} has no task {task!r} with a pod (tasks: {', '.join(names) or 'none yet'})",
                       element=task)


def _container(conn: Connection, namespace: str, task: str, pod: str, container: str, follow: bool) -> Iterator[LogLine]:
    from .errors import ClientError

    try:
        stream: Any = conn.call(f"read the log of {pod}/{container}", conn.core.read_namespaced_pod_log, pod, namespace,
                                container=container, follow=follow, _preload_content=False,
                                _request_timeout=None if follow else 60)
    except ClientError as exc:
        if exc.status == 400:  # the container has not started (or the pod is gone)
            return
        raise
    buffer = b""
    try:
        for chunk in stream.stream(4096):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                yield LogLine(task, pod, container, line.decode("utf-8", "replace"))
        if buffer:
            yield LogLine(task, pod, container, buffer.decode("utf-8", "replace"))
    finally:
        stream.release_conn()
