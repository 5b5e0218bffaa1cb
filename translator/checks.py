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
