"""The normalized graph's nested DAGs → one flat list of Tekton pipeline tasks ("units").

A Tekton Pipeline has one level of tasks. Sub-pipelines and condition groups dissolve: their
inputs become the references their tasks read, their outputs the results of the tasks that
produce them, a `.after()` on a group waits for every unit inside it, and a condition guards
every unit inside its group (a false `when` skips only its own task in Tekton, docs/tekton.md).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Union

from translator import graph as g
from translator.errors import TranslateError

from . import models as t
from .names import NameTable, param_name, result_name
from .values import ABSENT, encode, protect

PREFIX_RESULT = "kfpt-prefix"
MAX_MATRIX = 256  # Tekton's default-max-matrix-combinations-count
_PARAM_PLACEHOLDER = re.compile(r"""^\{\{\$\.inputs\.parameters\[['"]([^'"]+)['"]\]\}\}$""")
# KFP's run-level placeholders (the pod placeholders module holds the same table).
RUN_PLACEHOLDERS = {
    "{{$.pipeline_job_name}}": "$(context.pipelineRun.name)",
    "{{$.pipeline_job_resource_name}}": "$(context.pipelineRun.name)",
    "{{$.pipeline_job_uuid}}": "$(context.pipelineRun.uid)",
    "{{$.pipeline_task_uuid}}": "$(context.taskRun.uid)",
    "{{$.workspace_path}}": "/kfp-workspace",
}
TEKTON_VAR = re.compile(r"\$\((params|context|tasks|workspaces|results|steps|step|artifacts|inputs|outputs)[.\[]")  # where a task's output artifacts are stored (key prefix)


@dataclass(frozen=True)
class Value:
    """A parameter value as a Tekton param value: literal text or a `$(...)` reference."""

    text: str
    ptype: str
    producer: str | None = None  # the unit whose result it reads
    loop: str | None = None  # a result of a task inside this loop: one value per iteration
    item: str | None = None  # this iteration's loop item ("") or a field of it ("a.b")
    collected: str | None = None  # dsl.Collected out of a loop: the KFP type of each element
    parts: tuple[str, ...] = ()  # more aggregated results to join (the batches of a loop)
    output: str = ""  # the producer's output name
    oneof: tuple[tuple[str, str], ...] = ()  # dsl.OneOf: (unit, output) of each branch, in order


@dataclass(frozen=True)
class ArtValue:
    """An artifact: where it is (a key in the artifact store or an s3:// URI) and its metadata."""

    location: str
    metadata: str
    producer: str | None = None
    loop: str | None = None  # produced inside this loop: location is a prefix, + index + name
    name: str = ""
    oneof: tuple[tuple[str, str], ...] = ()  # dsl.OneOf: (unit, output) of each branch, in order


Ref = Union[Value, ArtValue]


@dataclass
class Unit:
    """One Tekton pipeline task: a container component as one task binds it."""

    name: str
    task: g.Task
    element: str
    params: dict[str, Value] = field(default_factory=dict)
    artifacts: dict[str, ArtValue] = field(default_factory=dict)
    run_after: set[str] = field(default_factory=set)
    when: list[t.WhenExpression] = field(default_factory=list)
    final: bool = False  # an exit handler or ignore_upstream_failure task: Tekton `finally`
    status_of: tuple[str, ...] = ()  # for a PipelineTaskFinalStatus input: the units it reports on
    status_input: str | None = None
    eval_expr: str | None = None  # a condition evaluation unit: the Python expression
    eval_env: dict[str, Value] = field(default_factory=dict)
    loop: "Loop | None" = None  # the ParallelFor this unit runs in (one TaskRun per iteration)
    publish: set[str] = field(default_factory=set)  # outputs also stored under a fixed key (dsl.OneOf)
    items_of: "Loop | None" = None  # the unit listing a run-time loop's iterations

    @property
    def component(self) -> g.Component:
        return self.task.component


@dataclass
class Loop:
    """One dsl.ParallelFor: every unit in its body is a matrixed task, one TaskRun per item
    (docs/tekton.md, "Loops"). A literal list becomes `matrix.include` (each entry the item
    values a unit reads and the iteration index); a run-time list a matrix over the indices
    that an items unit lists, each iteration's shim picking its item from the whole list."""

    name: str
    element: str
    element_path: str  # path of the body's tasks (a batch has its own)
    static: list | None = None
    items: Value | None = None  # run-time list (JSON text)
    items_unit: str | None = None
    offset: int = 0  # index of the first item (batches of a loop with parallelism)


@dataclass(frozen=True)
class Scope:
    element: str  # path of the enclosing DAG task, for names and messages
    inputs: dict[str, Ref]
    guards: tuple[t.WhenExpression, ...] = ()
    after: frozenset[str] = frozenset()
    loop: Loop | None = None


class Flattener:
    def __init__(self, condition_builder, key_prefix: str = "kfp") -> None:
        self.key_prefix = key_prefix
        self.published: dict[str, set[str]] = {}  # unit -> outputs a dsl.OneOf reads from the store
        self.units: list[Unit] = []
        self.names = NameTable()
        self.conditions = condition_builder  # backends.tekton.conditions.guard

    # --- entry ---------------------------------------------------------------------------
    def root(self, pipeline: g.Pipeline) -> dict[str, Ref]:
        inputs: dict[str, Ref] = {}
        for p in pipeline.root.interface.input_params:
            inputs[p.name] = Value(f"$(params.{param_name(p.name)})", p.type)
        for a in pipeline.root.interface.input_artifacts:
            inputs[a.name] = ArtValue(f"$(params.{param_name(a.name)})", "{}")
        assert isinstance(pipeline.root.impl, g.DagImpl)
        outputs, _ = self.dag(pipeline.root.impl, Scope("", inputs))
        for unit in self.units:
            unit.publish = self.published.get(unit.name, set())
        self._finals()
        return outputs

    # --- DAGs ----------------------------------------------------------------------------
    def dag(self, dag: g.DagImpl, scope: Scope) -> tuple[dict[str, Ref], dict[str, set[str]]]:
        """Flatten one DAG; returns its outputs and the units each of its tasks became."""
        produced: dict[str, dict[str, Ref]] = {}
        members: dict[str, set[str]] = {}
        for task in _topological(dag):
            path = f"{scope.element}/{task.name}" if scope.element else task.name
            element = f"task '{path}'"
            after = set(scope.after)
            for dep in task.after:
                after |= members.get(dep, set())
            params, artifacts = self._bindings(task, scope, produced, members, element)
            if isinstance(task.component.impl, g.DagImpl):
                guards, guard_after = self._guards(task, params, scope, path, element)
                inner_inputs: dict[str, Ref] = {**_defaults(task.component, params), **params, **artifacts}
                loop = scope.loop
                before = len(self.units)
                if task.iterator is not None:
                    outs = self._loop_body(task, params, inner_inputs, scope, guards, path, element, after)
                else:
                    sub = Scope(path, inner_inputs, scope.guards + guards, frozenset(after | guard_after), loop)
                    outs, _ = self.dag(task.component.impl, sub)
                members[task.name] = {u.name for u in self.units[before:]}
                produced[task.name] = outs
            elif isinstance(task.component.impl, g.ImporterImpl):
                produced[task.name] = self._importer(task, params, element)
                members[task.name] = set()
            else:
                if task.condition:
                    raise TranslateError("a condition on a container task is not supported", element=element)
                unit = Unit(self.names.name(path, path.replace("/", "-")), task, element,
                            params={k: v for k, v in params.items() if isinstance(v, Value)},
                            artifacts=artifacts, run_after=set(after), when=list(scope.guards), loop=scope.loop)
                unit.run_after |= {u for v in [*unit.params.values(), *artifacts.values()] for u, _ in v.oneof}
                self._status_input(unit, task, members)
                self.units.append(unit)
                members[task.name] = {unit.name}
                produced[task.name] = self._unit_outputs(unit)
        outputs: dict[str, Ref] = {}
        for out in dag.outputs:
            refs = [produced[src.task][src.output] for src in out.sources]
            outputs[out.name] = refs[0] if len(refs) == 1 else \
                self._oneof(refs, f"{scope.element or 'pipeline'} output '{out.name}'")
        return outputs, members

    def _oneof(self, refs: list[Ref], element: str) -> Ref:
        """dsl.OneOf: a consumer of a skipped task's result is skipped in Tekton, so each branch
        also stores the output under a fixed key and the consumer, which runs after all
        branches, fetches the one that exists (docs/tekton.md, "dsl.OneOf")."""
        candidates = []
        for ref in refs:
            if ref.producer is None or ref.loop is not None or ref.oneof or \
                    (isinstance(ref, Value) and (ref.collected or ref.item is not None)):
                raise TranslateError("dsl.OneOf over values that are not plain task outputs is not supported on "
                                     "Tekton yet", element=element)
            output = ref.output if isinstance(ref, Value) else ref.name
            candidates.append((ref.producer, output))
            self.published.setdefault(ref.producer, set()).add(output)
        if isinstance(refs[0], ArtValue):
            return ArtValue("", "", oneof=tuple(candidates))
        return Value("", refs[0].ptype, oneof=tuple(candidates))

    def _bindings(self, task: g.Task, scope: Scope, produced, members, element: str):
        iface = task.component.interface
        params: dict[str, Ref] = {}
        for name, b in task.params:
            pdef = iface.input_param(name) or g.ParamDef(name, g.STRING)
            ref = self._param(b, pdef, scope, produced, f"{element} input '{name}'")
            if ref is not None:
                params[name] = ref
        for name, b in task.params:
            if isinstance(b, g.Const) and isinstance(b.value, str) and "{{$" in b.value:
                params[name] = self._interpolate(b.value, task, params, f"{element} input '{name}'")
        artifacts: dict[str, ArtValue] = {}
        for name, b in task.artifacts:
            where = f"{element} artifact '{name}'"
            if isinstance(b, g.FromInput):
                ref = scope.inputs.get(b.name)
            elif isinstance(b, g.FromTask):
                ref = produced.get(b.task, {}).get(b.output)
            else:
                raise TranslateError(f"{type(b).__name__} artifact inputs are not supported", element=where)
            if ref is None:
                adef = iface.input_artifact(name)
                if adef is not None and adef.optional:
                    continue
                raise TranslateError("artifact input has no source", element=where)
            if not isinstance(ref, ArtValue):
                raise TranslateError("an artifact input is bound to a parameter", element=where)
            artifacts[name] = ref
        return params, artifacts

    def _param(self, b: g.Binding, pdef: g.ParamDef, scope: Scope, produced, where: str) -> Ref | None:
        if isinstance(b, g.Const):
            if b.value is None:
                return Value(ABSENT, pdef.type)
            return Value(protect(encode(b.value, pdef.type)), pdef.type)
        if isinstance(b, g.FromInput):
            ref = scope.inputs.get(b.name)
            if ref is None:
                return None  # an optional input of the enclosing DAG given no value
            if isinstance(ref, Value):
                return replace(ref, ptype=pdef.type)
            return ref
        if isinstance(b, g.FromTask):
            ref = produced.get(b.task, {}).get(b.output)
            if ref is None:
                raise TranslateError(f"reads output '{b.output}' of task '{b.task}', which it does not produce", element=where)
            return replace(ref, ptype=pdef.type) if isinstance(ref, Value) else ref
        if isinstance(b, g.FromTaskStatus):
            return Value("", g.TASK_FINAL_STATUS)  # filled in by _status_input
        if isinstance(b, g.FromInputField):
            ref = scope.inputs.get(b.name)
            if not isinstance(ref, Value) or ref.item is None:
                raise TranslateError("a field of a value that is not a loop item", element=where)
            return Value("", pdef.type, item=f"{ref.item}.{b.field}".strip("."))
        raise TranslateError(f"{type(b).__name__} inputs are not supported", element=where)

    def _interpolate(self, text: str, task: g.Task, params: dict[str, Ref], where: str) -> Value:
        """KFP f-strings over channels arrive as constants holding placeholders of the task's
        other inputs: the Tekton value splices in their references (literal `$` kubelet-escaped,
        as the value reaches the pod through env or args)."""
        out = []
        producer = None
        for piece in re.split(r"(\{\{\$[^{}]*\}\})", text):
            found = _PARAM_PLACEHOLDER.match(piece)
            if not piece.startswith("{{$"):
                if TEKTON_VAR.search(piece):
                    raise TranslateError("a constant spells a Tekton variable, which Tekton would substitute", element=where)
                out.append(piece.replace("$", "$$"))
            elif piece == "{{$.pipeline_task_name}}":
                out.append(task.display_name)
            elif piece in RUN_PLACEHOLDERS:
                out.append(RUN_PLACEHOLDERS[piece])
            elif found and isinstance(params.get(found.group(1)), Value) and not isinstance(task.param(found.group(1)), g.Const):
                ref = params[found.group(1)]
                out.append(ref.text)
                producer = producer or ref.producer
            else:
                raise TranslateError(f"unsupported placeholder {piece} in a constant", element=where)
        return Value("".join(out), g.STRING, producer)

    def _guards(self, task, params, scope, path, element):
        """The `when` entries for every unit of a condition group: direct comparisons, or the
        outcome of an evaluation unit (itself guarded by the enclosing groups)."""
        if not task.condition:
            return (), set()
        from .conditions import OUTCOME, Evaluation  # conditions imports Value from here

        found = self.conditions(task.condition, params, element)
        if not isinstance(found, Evaluation):
            return tuple(found), set()
        unit = Unit(self.names.name(path + "/condition", path.replace("/", "-") + "-condition"),
                    task, element, run_after=set(scope.after), when=list(scope.guards),
                    eval_expr=found.expr, eval_env=dict(found.env))
        self.units.append(unit)
        when = t.WhenExpression(input=f"$(tasks.{unit.name}.results.{OUTCOME})", operator="in", values=["true"])
        return (when,), set()

    def _loop_body(self, task, params, inner_inputs, scope, guards, path, element, after) -> dict[str, Ref]:
        """The loop body once per batch: all items at once, or, with `parallelism=p` over a
        literal list, batches of p items run one after the other (a Tekton matrix runs all its
        TaskRuns at once). Collected outputs join the batches' results."""
        it = task.iterator
        inner_inputs[it.item_input] = Value("", g.STRING, item="")
        loops = self._loop(task, params, scope, path, element, after)
        joined: dict[str, Ref] = {}
        previous: set[str] = set()
        for loop in loops:
            before = len(self.units)
            sub = Scope(loop.element_path, inner_inputs, scope.guards + guards, frozenset(after | previous), loop)
            outs, _ = self.dag(task.component.impl, sub)
            previous = {u.name for u in self.units[before:]}
            for n, v in outs.items():
                v = _collected(v, element)
                old = joined.get(n)
                joined[n] = v if old is None else replace(old, parts=old.parts + (v.text,) + v.parts)
        return joined

    def _loop(self, task: g.Task, params: dict, scope: Scope, path: str, element: str, after: set[str]) -> list[Loop]:
        it = task.iterator
        assert it is not None
        if scope.loop is not None:
            raise TranslateError("nested dsl.ParallelFor is not supported on Tekton yet (docs/tekton.md)", element=element)
        if it.is_artifact:
            raise TranslateError("dsl.ParallelFor over artifacts is not supported on Tekton yet", element=element)
        name = self.names.name(path, path.replace("/", "-"))
        if isinstance(it.items, g.Const):
            items = it.items.value
            if not isinstance(items, list):
                raise TranslateError("loop items are not a list", element=element)
            size = it.parallelism or len(items) or 1
            if size > MAX_MATRIX:
                raise TranslateError(f"the loop has {len(items)} items; a Tekton matrix allows {MAX_MATRIX} "
                                     "combinations by default (default-max-matrix-combinations-count)", element=element)
            if size >= len(items):
                return [Loop(name, element, path, static=items)]
            return [Loop(f"{name}-b{j}", element, f"{path}-b{j}", static=items[start:start + size], offset=start)
                    for j, start in enumerate(range(0, len(items), size))]
        if it.parallelism:
            raise TranslateError("dsl.ParallelFor(parallelism=...) over a run-time list has no equivalent on stable "
                                 "Tekton (a matrix runs all its TaskRuns at once); use a literal list or Argo",
                                 element=element)
        ref = params.get(it.items.name) if isinstance(it.items, g.FromInput) else None
        if not isinstance(ref, Value) or ref.loop is not None or ref.item is not None:
            raise TranslateError("loop items come from an unsupported source", element=element)
        loop = Loop(name, element, path, items=ref)
        unit = Unit(self.names.name(path + "/items", name + "-items"), task, element, run_after=set(after),
                    when=list(scope.guards), items_of=loop)
        self.units.append(unit)
        loop.items_unit = unit.name
        return [loop]

    def _importer(self, task: g.Task, params: dict[str, Ref], element: str) -> dict[str, Ref]:
        impl = task.component.impl
        assert isinstance(impl, g.ImporterImpl)
        metadata = protect(json.dumps(impl.metadata or {}, separators=(",", ":"), sort_keys=True))
        if isinstance(impl.uri, g.Const):
            uri = str(impl.uri.value)
            location = _store_uri(uri, element)
        else:
            ref = params.get(impl.uri.name) if isinstance(impl.uri, g.FromInput) else None
            if not isinstance(ref, Value):
                raise TranslateError("the importer's URI has no source", element=element)
            location = ref.text
        (out,) = [a.name for a in task.component.interface.output_artifacts] or ["artifact"]
        return {out: ArtValue(location, metadata)}

    def _unit_outputs(self, unit: Unit) -> dict[str, Ref]:
        iface = unit.component.interface
        out: dict[str, Ref] = {}
        if unit.loop is not None:  # aggregated by Tekton over the iterations: "<index>:<value>"
            for p in iface.output_params:
                out[p.name] = Value(f"$(tasks.{unit.name}.results.{result_name(p.name)}[*])", p.type, unit.name,
                                    loop=unit.loop.name)
            for a in iface.output_artifacts:
                out[a.name] = ArtValue(f"{self.key_prefix}/$(context.pipelineRun.name)/{unit.name}/i",
                                       f"$(tasks.{unit.name}.results.{result_name(a.name + '-metadata')}[*])",
                                       unit.name, loop=unit.loop.name, name=a.name)
            return out
        for p in iface.output_params:
            out[p.name] = Value(f"$(tasks.{unit.name}.results.{result_name(p.name)})", p.type, unit.name,
                                output=p.name)
        for a in iface.output_artifacts:
            out[a.name] = ArtValue(f"$(tasks.{unit.name}.results.{PREFIX_RESULT})/{a.name}",
                                   f"$(tasks.{unit.name}.results.{result_name(a.name + '-metadata')})", unit.name,
                                   name=a.name)
        return out

    def _status_input(self, unit: Unit, task: g.Task, members: dict[str, set[str]]) -> None:
        """dsl.ExitHandler's exit task and ignore_upstream_failure tasks run as Tekton `finally`
        tasks (Tekton runs nothing else after a failure); a PipelineTaskFinalStatus input is
        built by the shim from `$(tasks.<t>.status)` of the units it reports on."""
        for name, b in task.params:
            if isinstance(b, g.FromTaskStatus):
                unit.status_input = name
                unit.status_of = tuple(sorted(members.get(b.task, set())))
        if task.run_after_upstream_completed:
            unit.final = True

    def _finals(self) -> None:
        finals = {u.name for u in self.units if u.final}
        for u in self.units:
            if u.final:
                u.run_after = set()
                continue
            needed = (u.run_after | {v.producer for v in u.params.values() if v.producer}
                      | {a.producer for a in u.artifacts.values() if a.producer})
            if needed & finals:
                bad = sorted(needed & finals)[0]
                raise TranslateError(f"depends on '{bad}', which runs after upstream failures "
                                     "(a Tekton finally task, which no task can depend on)", element=u.element)


def _defaults(component: g.Component, given: dict[str, Ref]) -> dict[str, Ref]:
    """A nested pipeline's own defaults for the inputs its caller leaves unset (KFP applies
    them, as Argo's DAG template parameter defaults do)."""
    out: dict[str, Ref] = {}
    for p in component.interface.input_params:
        if p.name not in given and p.has_default and p.default is not None:
            out[p.name] = Value(protect(encode(p.default, p.type)), p.type)
    return out


def _collected(ref: Ref, element: str) -> Ref:
    """A loop's output seen from outside the loop: dsl.Collected."""
    if isinstance(ref, ArtValue):
        if ref.loop is None:
            return ref
        raise TranslateError("collecting artifacts out of a dsl.ParallelFor is not supported on Tekton yet",
                             element=element)
    if ref.loop is None:
        return ref
    return Value(ref.text, g.LIST, ref.producer, collected=ref.ptype)


def _store_uri(uri: str, element: str) -> str:
    """An importer URI the S3 transfer step can read: s3:// (minio:// is S3 too)."""
    if uri.startswith("minio://"):
        uri = "s3://" + uri[len("minio://"):]
    if not uri.startswith("s3://"):
        raise TranslateError(f"importer URI {uri!r}: the Tekton backend reads artifacts from S3 "
                             "(s3:// or minio:// URIs) only", element=element)
    return protect(uri)


def _topological(dag: g.DagImpl) -> list[g.Task]:
    """Producers before consumers, otherwise in the graph's (name) order."""
    by_name = {task.name: task for task in dag.tasks}
    order: list[g.Task] = []
    state: dict[str, int] = {}

    def visit(task: g.Task) -> None:
        if state.get(task.name) == 2:
            return
        if state.get(task.name) == 1:
            raise TranslateError("the DAG has a cycle", element=f"task '{task.name}'")
        state[task.name] = 1
        deps = set(task.after) | {b.task for _, b in task.params + task.artifacts
                                  if isinstance(b, (g.FromTask, g.FromTaskStatus))}
        for dep in sorted(deps):
            if dep in by_name:
                visit(by_name[dep])
        state[task.name] = 2
        order.append(task)

    for task in dag.tasks:
        visit(task)
    return order
