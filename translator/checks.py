"""Checks of the input graph that make bad input a one-line error instead of an internal error
later: dependency cycles, and names that would turn into Argo or Tekton template syntax."""
from __future__ import annotations

from typing import Iterable

from . import graph as g
from .errors import TranslateError

_TEMPLATE_MARKS = ("{{", "}}")


def check_name(name: str, what: str, element: str) -> None:
    """A KFP name holding `{{`/`}}` would become engine template syntax in our manifests."""
    if any(mark in name for mark in _TEMPLATE_MARKS):
        raise TranslateError(f"{what} name {name!r} holds '{{{{' or '}}}}', which no name may hold", element=element)


def upstream(task: g.Task) -> set[str]:
    """Sibling tasks this task waits for: `.after()` and every data edge."""
    found = set(task.after)
    for _, binding in (*task.params, *task.artifacts):
        if isinstance(binding, (g.FromTask, g.FromTaskStatus)):
            found.add(binding.task)
    return found


def check_acyclic(tasks: Iterable[g.Task], element: str) -> None:
    """Fail on a task that depends on itself, directly or through others, naming the tasks."""
    deps = {t.name: upstream(t) for t in tasks}
    for name in sorted(deps):
        if name in deps[name]:
            raise TranslateError(f"task '{name}' depends on itself", element=element or "pipeline")
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(deps):
        if state.get(start):
            continue
        path: list[str] = []
        stack = [(start, iter(sorted(deps[start] & deps.keys())))]
        state[start] = 1
        path.append(start)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(child) == 1:
                cycle = path[path.index(child):] + [child]
                raise TranslateError(f"tasks form a dependency cycle: {' -> '.join(cycle)}", element=element or "pipeline")
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(deps[child] & deps.keys()))))


def check_references(tasks: tuple[g.Task, ...], outputs: tuple[g.DagOutput, ...], element: str) -> None:
    """Every task output a binding or a DAG output reads exists: the producer is a sibling task
    and its component declares that output (a parameter for parameters, an artifact for artifacts)."""
    by_name = {t.name: t for t in tasks}
    where_dag = element or "pipeline"

    def producer(name: str, reader: str) -> g.Task:
        found = by_name.get(name)
        if found is None:
            raise TranslateError(f"{reader} reads task '{name}', which is not in the same DAG", element=where_dag)
        return found

    def declared(task: g.Task, output: str, artifact: bool) -> bool:
        iface = task.component.interface
        return (iface.output_artifact(output) if artifact else iface.output_param(output)) is not None

    for t in tasks:
        for kind, bindings in (("parameter", t.params), ("artifact", t.artifacts)):
            for name, b in bindings:
                reader = f"task '{t.name}' {kind} '{name}'"
                if isinstance(b, g.FromTaskStatus):
                    producer(b.task, reader)
                elif isinstance(b, g.FromTask):
                    source = producer(b.task, reader)
                    if not declared(source, b.output, kind == "artifact"):
                        raise TranslateError(f"{reader} reads output {kind} '{b.output}' of task '{b.task}', "
                                             f"which its component does not declare", element=where_dag)
    for out in outputs:
        kind = "artifact" if out.is_artifact else "parameter"
        for src in out.sources:
            source = producer(src.task, f"output {kind} '{out.name}'")
            if not declared(source, src.output, out.is_artifact):
                raise TranslateError(f"output {kind} '{out.name}' reads output '{src.output}' of task '{src.task}', "
                                     "which its component does not declare", element=where_dag)
