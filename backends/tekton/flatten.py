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
    item_level: int = 1  # the item of which loop of the nest (1: the outermost)
    collected: str | None = None  # dsl.Collected out of a loop: the KFP type of each element
    levels: int = 1  # collected: how many loops deep (a list of lists for 2)
    select: int = 0  # collected inside an enclosing loop: leading index parts that must be the reader's
    outer: tuple[str, ...] | str | None = None  # collected out of two loops: the outer loop's iterations
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
    collected: bool = False  # dsl.Collected out of a loop: every iteration's artifact, a list
    select: int = 0  # as Value.select
    depth: int = 1  # the loop depth of the producer (index parts of its keys)
    remote: bool = False  # an importer's URI that may be outside the store (gs://, or chosen at run time)
    refused: str | None = None  # why a consumer cannot read it (an importer's run-time metadata)


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
    # conditions on loop items or per-iteration values of the enclosing groups, outermost first:
    # each TaskRun decides its own iteration (backends/tekton/iterguard.py)
    iter_guards: tuple = ()

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
    parent: "Loop | None" = None  # the enclosing loop of a nested dsl.ParallelFor
    # a nest of literal lists: every iteration, (index of each level, item of each level)
    iterations: list[tuple[tuple[int, ...], tuple]] | None = None
    # a nest with a run-time level: how each level's items are found (see nest_sources)
    sources: list[dict] | None = None
    lists: list[Value] = field(default_factory=list)  # the whole lists the sources name (kfpt-list-<k>)

    @property
    def depth(self) -> int:
        return 1 if self.parent is None else self.parent.depth + 1

    def chain(self) -> list[str]:
        """Names of this loop and every loop enclosing it."""
        return [self.name] + (self.parent.chain() if self.parent else [])


@dataclass(frozen=True)
class Scope:
    element: str  # path of the enclosing DAG task, for names and messages
    inputs: dict[str, Ref]
    guards: tuple[t.WhenExpression, ...] = ()
    after: frozenset[str] = frozenset()
    loop: Loop | None = None
    iter_guards: tuple = ()  # conditions.IterationGuard of the enclosing groups, outermost first


class Flattener:
    def __init__(self, condition_builder, key_prefix: str = "kfp", cel_when: bool = False) -> None:
        self.cel_when = cel_when  # the alpha opt-in: conditions as CEL `when` (docs/tekton.md)
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
            inputs[a.name] = ArtValue(f"$(params.{param_name(a.name)})", "{}", remote=True)  # a key or any URI
        assert isinstance(pipeline.root.impl, g.DagImpl)
        outputs, _ = self.dag(pipeline.root.impl, Scope("", inputs))
        self._drop_unused_items()
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
                guards, guard_after, iter_guards = self._guards(task, params, scope, path, element)
                inner_inputs: dict[str, Ref] = {**_defaults(task.component, params), **params, **artifacts}
                loop = scope.loop
                before = len(self.units)
                if task.iterator is not None:
                    outs = self._loop_body(task, params, inner_inputs, scope, guards, path, element, after,
                                           iter_guards)
                else:
                    sub = Scope(path, inner_inputs, scope.guards + guards, frozenset(after | guard_after), loop,
                                scope.iter_guards + iter_guards)
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
                            artifacts=artifacts, run_after=set(after), when=list(scope.guards), loop=scope.loop,
                            iter_guards=scope.iter_guards)
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
        if all(isinstance(r, Value) and r.loop is not None and r.loop == refs[0].loop and not r.oneof
               and r.collected is None for r in refs):
            return self._iteration_oneof(refs)
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

    @staticmethod
    def _iteration_oneof(refs: list[Value]) -> Value:
        """dsl.OneOf inside a loop, per iteration: the branches' aggregated results as one array
        (each branch's own after the first as `parts`); a branch skipped in an iteration wrote
        ABSENT there, so the reader's shim takes the first branch that ran in its iteration
        (docs/tekton.md, "Conditions on per-iteration values")."""
        first = refs[0]
        parts = tuple(x for r in refs[1:] for x in (r.text, *r.parts))
        return replace(first, parts=first.parts + parts)

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
            return Value("", pdef.type, item=f"{ref.item}.{b.field}".strip("."), item_level=ref.item_level)
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
            return (), set(), ()
        from .conditions import OUTCOME, Evaluation, IterationGuard  # conditions imports Value from here

        found = self.conditions(task.condition, params, element,
                                **({"cel": self._cel_safe} if self.cel_when else {}))
        if isinstance(found, IterationGuard):
            return (), set(), (found,)
        if not isinstance(found, Evaluation):
            return tuple(found), set(), ()
        unit = Unit(self.names.name(path + "/condition", path.replace("/", "-") + "-condition"),
                    task, element, run_after=set(scope.after), when=list(scope.guards),
                    eval_expr=found.expr, eval_env=dict(found.env))
        self.units.append(unit)
        when = t.WhenExpression(input=f"$(tasks.{unit.name}.results.{OUTCOME})", operator="in", values=["true"])
        return (when,), set(), ()

    def _cel_safe(self, value: Value) -> bool:
        """A number or boolean our shim wrote: the result of a Python task outside loops."""
        if value.producer is None or value.loop is not None or value.oneof or value.collected or value.item is not None:
            return False
        if value.ptype not in (g.INTEGER, g.DOUBLE, g.BOOLEAN):
            return False
        unit = next((u for u in self.units if u.name == value.producer), None)
        if unit is None or not isinstance(unit.component.impl, g.ContainerImpl):
            return False
        return unit.component.impl.is_python_function and re.fullmatch(r"\$\(tasks\.[a-z0-9-]+\.results\.[A-Za-z0-9_-]+\)",
                                                                        value.text) is not None

    def _loop_body(self, task, params, inner_inputs, scope, guards, path, element, after,
                   iter_guards=()) -> dict[str, Ref]:
        """The loop body once per batch: all items at once, or, with `parallelism=p` over a
        literal list, batches of p items run one after the other (a Tekton matrix runs all its
        TaskRuns at once). Collected outputs join the batches' results."""
        it = task.iterator
        depth = scope.loop.depth + 1 if scope.loop is not None else 1
        if not it.is_artifact:
            inner_inputs[it.item_input] = Value("", g.STRING, item="", item_level=depth)
        loops = self._loop(task, {**params, **inner_inputs}, scope, path, element, after)
        if it.is_artifact:
            inner_inputs[it.item_input] = self._artifact_item(task, inner_inputs, loops[0], element)
        joined: dict[str, Ref] = {}
        previous: set[str] = set()
        for loop in loops:
            before = len(self.units)
            sub = Scope(loop.element_path, inner_inputs, scope.guards + guards, frozenset(after | previous), loop,
                        scope.iter_guards + iter_guards)
            outs, _ = self.dag(task.component.impl, sub)
            previous = {u.name for u in self.units[before:]}
            for n, v in outs.items():
                v = _collected(v, loop, element)
                old = joined.get(n)
                if old is None:
                    joined[n] = v
                elif isinstance(v, Value):
                    outer = old.outer + v.outer if isinstance(old.outer, tuple) and isinstance(v.outer, tuple) else None
                    joined[n] = replace(old, parts=old.parts + (v.text,) + v.parts, outer=outer)
                else:
                    raise TranslateError("collecting artifacts out of a dsl.ParallelFor with parallelism is not "
                                         "supported on Tekton yet", element=element)
        return joined

    def _loop(self, task: g.Task, params: dict, scope: Scope, path: str, element: str, after: set[str]) -> list[Loop]:
        it = task.iterator
        assert it is not None
        name = self.names.name(path, path.replace("/", "-"))
        if scope.loop is not None or it.is_artifact:
            return [self._nested_loop(task, params, scope, name, path, element, after)]
        if isinstance(it.items, g.Const):
            items = it.items.value
            if not isinstance(items, list):
                raise TranslateError("loop items are not a list", element=element)
            size = it.parallelism or len(items) or 1
            if size > MAX_MATRIX:
                raise TranslateError(f"the loop has {len(items)} items; a Tekton matrix allows {MAX_MATRIX} "
                                     "combinations by default (default-max-matrix-combinations-count)", element=element)
            if size >= len(items):
                return [_static(Loop(name, element, path, static=items))]
            return [_static(Loop(f"{name}-b{j}", element, f"{path}-b{j}", static=items[start:start + size],
                                 offset=start))
                    for j, start in enumerate(range(0, len(items), size))]
        if it.parallelism:
            raise TranslateError("dsl.ParallelFor(parallelism=...) over a run-time list has no equivalent on stable "
                                 "Tekton (a matrix runs all its TaskRuns at once); use a literal list or Argo",
                                 element=element)
        ref = params.get(it.items.name) if isinstance(it.items, g.FromInput) else None
        if not isinstance(ref, Value) or ref.loop is not None or ref.item is not None:
            raise TranslateError("loop items come from an unsupported source", element=element)
        loop = Loop(name, element, path, items=ref, sources=[{"list": 0}], lists=[ref])
        unit = Unit(self.names.name(path + "/items", name + "-items"), task, element, run_after=set(after),
                    when=list(scope.guards), items_of=loop)
        self.units.append(unit)
        loop.items_unit = unit.name
        return [loop]

    def _nested_loop(self, task: g.Task, params: dict, scope: Scope, name: str, path: str, element: str,
                     after: set[str]) -> Loop:
        """A dsl.ParallelFor inside another, or over artifacts: one level more of the nest. Its
        units run one TaskRun per iteration of the whole nest, the index "i.j" (docs/tekton.md,
        "Nested loops"): literal lists (and fields of literal items) are enumerated here, into
        matrix.include; anything known at run time only is enumerated by an items unit."""
        it = task.iterator
        parent = scope.loop
        if it.parallelism:
            raise TranslateError("dsl.ParallelFor(parallelism=...) inside another loop or over artifacts is not "
                                 "supported on Tekton (a matrix of the whole nest runs all its TaskRuns at once)",
                                 element=element)
        if parent is not None and any(src.get("artifacts") for src in parent.sources):
            raise TranslateError("a dsl.ParallelFor inside a loop over artifacts is not supported on Tekton yet",
                                 element=element)
        level, const = self._level(task, params, parent, element)
        if it.is_artifact:
            parent_sources, lists = [], []
        else:
            parent_sources, lists = list(parent.sources), list(parent.lists)
        if "list" in level:
            level = {**level, "list": len(lists)}
            lists.append(level.pop("value"))
        if const is not None and parent is not None and parent.iterations is not None:
            iterations = []
            for index, items in parent.iterations:
                values = const if "field" not in level else field_of(items[level["of"] - 1], level["field"], element)
                if not isinstance(values, list):
                    raise TranslateError(f"loop items {values!r} are not a list", element=element)
                iterations += [(index + (k,), items + (x,)) for k, x in enumerate(values)]
            if len(iterations) > MAX_MATRIX:
                raise TranslateError(f"the nested loops have {len(iterations)} iterations together; a Tekton matrix "
                                     f"allows {MAX_MATRIX} combinations by default "
                                     "(default-max-matrix-combinations-count)", element=element)
            return Loop(name, element, path, parent=parent, iterations=iterations, sources=parent_sources + [level],
                        lists=lists)
        loop = Loop(name, element, path, parent=parent, sources=parent_sources + [level], lists=lists)
        unit = Unit(self.names.name(path + "/items", name + "-items"), task, element, run_after=set(after),
                    when=list(scope.guards), items_of=loop)
        self.units.append(unit)
        loop.items_unit = unit.name
        return loop

    def _level(self, task: g.Task, params: dict, parent: Loop | None, element: str) -> tuple[dict, list | None]:
        """How one level of a nest finds its items: {"list": <a whole list>}, {"field": path,
        "of": level} (a field of an enclosing loop's item) or {"artifacts": ...}; and the
        items themselves when they are literal."""
        it = task.iterator
        if it.is_artifact:
            ref = params.get(it.items.name) if isinstance(it.items, g.FromInput) else None
            if parent is not None or not isinstance(ref, ArtValue) or not ref.collected or ref.select or ref.depth != 1:
                raise TranslateError("dsl.ParallelFor over artifacts is supported on Tekton for the artifacts "
                                     "collected out of one loop, outside any loop", element=element)
            return {"list": 0, "value": Value(ref.metadata, g.LIST, ref.producer), "artifacts": True}, None
        if isinstance(it.items, g.Const):
            items = it.items.value
            if not isinstance(items, list):
                raise TranslateError("loop items are not a list", element=element)
            return {"list": 0, "value": Value(protect(json.dumps(items, separators=(",", ":"))), g.LIST)}, items
        ref = params.get(it.items.name) if isinstance(it.items, g.FromInput) else None
        if isinstance(ref, Value) and ref.item is not None and not ref.oneof:
            return {"field": ref.item, "of": ref.item_level}, []
        if isinstance(ref, Value) and ref.loop is None and ref.collected is None and not ref.oneof:
            return {"list": 0, "value": ref}, None
        raise TranslateError("loop items come from an unsupported source (a nested loop can go over a literal "
                             "list, a pipeline input, a task output outside the loops or a field of an "
                             "enclosing loop's item)", element=element)

    def _artifact_item(self, task: g.Task, params: dict, loop: Loop, element: str) -> ArtValue:
        """The item of a loop over collected artifacts: the producer's artifact of the same
        iteration index (the items unit lists the producer's iterations)."""
        ref = params[task.iterator.items.name]
        assert isinstance(ref, ArtValue)
        return ArtValue(ref.location, ref.metadata, ref.producer, loop=loop.name, name=ref.name, depth=1)

    def _importer(self, task: g.Task, params: dict[str, Ref], element: str) -> dict[str, Ref]:
        """An importer makes no pod: its consumers' fetch steps read the URI (docs/tekton.md,
        "Importers"). A constant URI is checked here; one chosen at run time is dispatched on
        its scheme by the fetch step. KFP's `reimport` has nothing to act on without ML Metadata:
        every consumer reads the URI's current content either way."""
        impl = task.component.impl
        assert isinstance(impl, g.ImporterImpl)
        metadata, refused = _importer_metadata(impl.metadata or {}, task, params, element)
        if isinstance(impl.uri, g.Const):
            location, remote = _importer_uri(str(impl.uri.value), element)
        else:
            ref = params.get(impl.uri.name) if isinstance(impl.uri, g.FromInput) else None
            if not isinstance(ref, Value) or ref.loop is not None or ref.collected is not None or ref.oneof:
                raise TranslateError("the importer's URI has no source (a pipeline input or a task output outside "
                                     "loops)", element=element)
            location, remote = ref.text, True
        (out,) = [a.name for a in task.component.interface.output_artifacts] or ["artifact"]
        return {out: ArtValue(location, metadata, remote=remote, refused=refused)}

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
                                       unit.name, loop=unit.loop.name, name=a.name, depth=unit.loop.depth)
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

    def _drop_unused_items(self) -> None:
        """An outer loop whose body is only an inner loop needs no items unit of its own (the
        inner loop's lists every iteration of the nest): no pod for it."""
        used = {u.loop.items_unit for u in self.units if u.loop is not None}
        outers = [v.outer for u in self.units for v in u.params.values() if isinstance(v.outer, str)]
        self.units = [u for u in self.units if u.items_of is None or u.name in used
                      or any(f"$(tasks.{u.name}." in o for o in outers)]
        names = {u.name for u in self.units}
        for u in self.units:
            u.run_after &= names

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


def _collected(ref: Ref, loop: Loop, element: str) -> Ref:
    """A loop's output seen from outside the loop: dsl.Collected. Every element carries its full
    iteration index, so inside an enclosing loop the reader keeps the elements of its own
    iteration (`select` leading parts) and the rest nest as lists; out of two loops the reader
    also gets the outer loop's iterations, so one whose inner list was empty still gives [].
    Artifacts collect into one flat list, as KFP's."""
    depth = loop.depth
    if ref.oneof:
        return ref
    if isinstance(ref, ArtValue):
        if ref.loop is not None:
            return replace(ref, loop=None, collected=True, select=depth - 1)
        if ref.collected and ref.select == depth:
            return replace(ref, select=depth - 1)
        return ref
    if ref.loop is not None:
        return Value(ref.text, g.LIST, ref.producer, collected=ref.ptype, levels=1, select=depth - 1, parts=ref.parts)
    if ref.collected is not None and ref.select == depth:
        if ref.levels > 1:
            raise TranslateError("dsl.Collected out of more than two nested loops is not supported on Tekton yet",
                                 element=element)
        outer = (tuple(".".join(map(str, index)) for index, _ in loop.iterations) if loop.iterations is not None
                 else f"$(tasks.{loop.items_unit}.results.indices[*])")
        return replace(ref, levels=2, select=depth - 1, outer=outer)
    return ref


def _static(loop: Loop) -> Loop:
    """A loop over a literal list: its iterations and its level of a nest."""
    loop.iterations = [((loop.offset + k,), (x,)) for k, x in enumerate(loop.static or [])]
    loop.sources = [{"list": 0, "offset": loop.offset}] if loop.offset else [{"list": 0}]
    loop.lists = [Value(protect(json.dumps(loop.static, separators=(",", ":"))), g.LIST)]
    return loop


def field_of(item, path: str, element: str):
    """A field (dotted path) of a loop item; a clear error naming the element when absent."""
    for key in [k for k in path.split(".") if k]:
        if not isinstance(item, dict) or key not in item:
            raise TranslateError(f"loop item {item!r} has no field '{key}'", element=element)
        item = item[key]
    return item


IMPORTER_SCHEMES = ("s3", "minio", "gs", "http", "https")


def _importer_uri(uri: str, element: str) -> tuple[str, bool]:
    """A constant importer URI as the fetch step reads it, and whether it is outside the store:
    s3:// (minio:// is S3 too), gs:// (Google Cloud Storage's S3-compatible XML API) or an
    http(s):// URL (a plain download)."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme not in IMPORTER_SCHEMES:
        raise TranslateError(f"importer URI {uri!r}: the scheme is not supported on Tekton "
                             f"({', '.join(IMPORTER_SCHEMES)})", element=element)
    bucket, _, key = rest.partition("/")
    if scheme in ("s3", "minio", "gs") and (not bucket or not key.strip("/")):
        raise TranslateError(f"importer URI {uri!r} has no bucket or no key", element=element)
    if scheme in ("http", "https") and not bucket:
        raise TranslateError(f"importer URI {uri!r} has no host", element=element)
    if scheme == "minio":
        uri = "s3://" + rest
    return protect(uri), scheme == "gs"


def _importer_metadata(metadata: dict, task: g.Task, params: dict[str, Ref], element: str) -> tuple[str, str | None]:
    """The importer's metadata as the JSON text its consumers receive. Placeholders of the
    importer's inputs are filled in here when those inputs are constants (KFP substitutes the
    value into the string; a lone placeholder of a non-string input gives the typed value);
    a value known only at run time cannot be spliced into JSON text by Tekton without
    breaking on a quote, so such metadata is refused when a task reads it."""
    refused: list[str] = []

    def value_of(name: str, whole: bool):
        bound = task.param(name)
        pdef = task.component.interface.input_param(name)
        if not isinstance(bound, g.Const):
            if name in params or bound is not None:
                refused.append(name)
                return ""
            raise TranslateError(f"importer metadata reads '{name}', which the task does not receive", element=element)
        value = bound.value
        if whole and pdef is not None and pdef.type != g.STRING:
            return json.loads(encode(value, pdef.type))
        return value if isinstance(value, str) else encode(value, pdef.type if pdef else g.STRING)

    def text(value: str):
        whole = _PARAM_PLACEHOLDER.match(value)
        if whole:
            return value_of(whole.group(1), True)
        out = []
        for piece in re.split(r"(\{\{\$[^{}]*\}\})", value):
            found = _PARAM_PLACEHOLDER.match(piece)
            if found:
                out.append(str(value_of(found.group(1), False)))
            elif piece.startswith("{{$"):
                raise TranslateError(f"importer metadata value {value!r}: unsupported placeholder {piece}", element=element)
            else:
                out.append(piece)
        return "".join(out)

    def build(value):
        if isinstance(value, dict):
            return {(text(k) if "{{$" in k else k): build(v) for k, v in value.items()}
        if isinstance(value, list):
            return [build(v) for v in value]
        return text(value) if isinstance(value, str) and "{{$" in value else value

    resolved = build(metadata)
    why = None
    if refused:
        why = (f"reads the metadata of an importer built from run-time input '{sorted(set(refused))[0]}', which is not "
               "supported on Tekton yet (Tekton cannot splice a value into JSON text safely); use constants")
    return protect(json.dumps(resolved, separators=(",", ":"), sort_keys=True)), why


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
