"""Checks of the input graph that make bad input a one-line error instead of an internal error
later: dependency cycles, and names that would turn into Argo or Tekton template syntax."""
from __future__ import annotations

from typing import Any, Iterable

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


def check_inputs_read(tasks: tuple[g.Task, ...], iface: g.Interface, element: str) -> None:
    """Every `componentInputParameter`/`componentInputArtifact` names an input of the enclosing DAG."""
    params = {p.name for p in iface.input_params}
    artifacts = {a.name for a in iface.input_artifacts}
    for t in tasks:
        for kind, bindings, known in (("parameter", t.params, params | artifacts), ("artifact", t.artifacts, artifacts)):
            for name, b in bindings:
                source = b.name if isinstance(b, (g.FromInput, g.FromInputField)) else None
                if source is not None and source not in known:
                    raise TranslateError(f"task '{t.name}' {kind} '{name}' reads input '{source}', which the enclosing "
                                         f"{'pipeline' if not element else 'DAG'} does not declare",
                                         element=element or "pipeline")


def check_dag_interface(comp_name: str, iface: g.Interface, outputs: tuple[g.DagOutput, ...], element: str) -> None:
    """A DAG component produces exactly the outputs it declares."""
    produced = {(o.name, o.is_artifact) for o in outputs}
    declared = {(p.name, False) for p in iface.output_params} | {(a.name, True) for a in iface.output_artifacts}
    for name, is_artifact in sorted(declared - produced):
        kind = "artifact" if is_artifact else "parameter"
        raise TranslateError(f"component '{comp_name}' declares output {kind} '{name}', which its DAG does not produce",
                             element=element or "pipeline")
    for name, is_artifact in sorted(produced - declared):
        kind = "artifact" if is_artifact else "parameter"
        raise TranslateError(f"the DAG of component '{comp_name}' produces output {kind} '{name}', which the "
                             "component does not declare", element=element or "pipeline")


def check_dag_task_inputs(task: g.Task, where: str) -> None:
    """A task running a DAG component binds only inputs that component declares (a container
    component may take extra parameters for resource placeholders; a DAG has no such use)."""
    iface = task.component.interface
    item = task.iterator.item_input if task.iterator is not None else None
    if item is not None and iface.input_param(item) is None and iface.input_artifact(item) is None:
        raise TranslateError(f"loop item '{item}' is not an input of component '{task.component.name}'", element=where)
    for name, _ in task.params:
        if iface.input_param(name) is None and not name.startswith("kfp-k8s-"):
            raise TranslateError(f"binds parameter '{name}', which component '{task.component.name}' does not declare",
                                 element=where)
    for name, _ in task.artifacts:
        if iface.input_artifact(name) is None:
            raise TranslateError(f"binds artifact '{name}', which component '{task.component.name}' does not declare",
                                 element=where)


def check_platform_shape(platform: Any, source: str) -> None:
    """The kfp-kubernetes platform spec is free-form in the IR: its containers must at least be
    mappings and lists where kfp-kubernetes writes them, or later steps fail obscurely."""
    def mapping(node: Any, where: str) -> dict:
        if not isinstance(node, dict):
            raise TranslateError(f"expected a mapping, found {type(node).__name__}", file=source, element=where)
        return node

    k8s = mapping(mapping(mapping(platform, "platform spec").get("platforms", {}), "platforms").get("kubernetes", {}),
                  "platforms.kubernetes")
    executors = mapping(mapping(k8s.get("deploymentSpec", {}), "kubernetes.deploymentSpec").get("executors", {}),
                        "kubernetes.deploymentSpec.executors")
    for label, settings in executors.items():
        where = f"kubernetes executor '{label}'"
        for key, value in mapping(settings, where).items():
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                if not isinstance(item, (dict, str, int, float, bool)) or isinstance(item, list):
                    raise TranslateError(f"setting '{key}' item {i} is a {type(item).__name__}", file=source, element=where)
    config = mapping(k8s.get("pipelineConfig") or {}, "kubernetes.pipelineConfig")
    if config.get("workspace") is not None:
        ws = mapping(config["workspace"], "kubernetes.pipelineConfig.workspace")
        kube = mapping(ws.get("kubernetes") or {}, "pipelineConfig.workspace.kubernetes")
        mapping(kube.get("pvcSpecPatch") or {}, "pipelineConfig.workspace.kubernetes.pvcSpecPatch")
