"""KFP DAGs (root, conditions, loops, exit handlers, sub-pipelines) → Argo DAG templates.

Each KFP DAG component becomes one Argo DAG template; each task inside it becomes one DAG task
whose `arguments` carry the values and artifacts the IR binds, whose `depends` follows data
and `.after()` edges, and whose `when` is the KFP condition in Argo's expression language.
Importers make no pod: their artifact location goes straight into the consumers' arguments.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from hera.workflows import models as m

from translator import graph as g
from translator.errors import TranslateError

from . import placeholders as ph
from ._collections import CollectionMixin, Shape
from ._exits import ExitMixin
from ._importers import ImporterMixin, _Importer
from ._loops import LoopMixin
from .container import ARGO_TAG, B64_PREFIX, TemplateRequest, build_template, protect, template_prefix
from .memo import memoize
from .resources import build_resource_template, is_resource_stub
from .names import NameTable, param_name
from .values import ABSENT, encode


_PARAM_PLACEHOLDER = re.compile(r"""^\{\{\$\.inputs\.parameters\[['"]([^'"]+)['"]\]\}\}$""")


@dataclass(frozen=True)
class ArgoOptions:
    artifact_key_prefix: str = "kfp"
    cache_configmap: str = "kfp-translate-cache"
    cache_max_age: str = "720h"
    enable_caching: bool | None = None  # None: as each task says; False/True: override all
    # Where importers of s3:// and minio:// URIs read (see _importers.py): the bucket of the
    # workflow's artifact repository (URIs inside it stay key-only), and a complete location
    # for URIs outside it (an endpoint `host:port` and a Secret with `accesskey`/`secretkey`).
    artifact_bucket: str | None = None
    importer_s3_endpoint: str | None = None
    importer_s3_secret: str | None = None
    importer_s3_insecure: bool = False


@dataclass
class Emitter:
    options: ArgoOptions
    templates: list[m.Template] = field(default_factory=list)
    names: NameTable = field(default_factory=NameTable)
    _container_templates: dict[TemplateRequest, str] = field(default_factory=dict)
    _dag_templates: dict[str, str] = field(default_factory=dict)
    prefixes: dict[tuple[str, str], str] = field(default_factory=dict)  # (template, output) -> key prefix
    _by_name: dict[str, m.Template] = field(default_factory=dict)

    def template_named(self, name: str) -> m.Template:
        """A template emitted so far, by name (the list only grows: index what is new)."""
        for t in self.templates[len(self._by_name):]:
            self._by_name[t.name] = t
        return self._by_name[name]

    # --- templates ----------------------------------------------------------------------------

    def container_template(self, task: g.Task, element: str, collected: tuple = (), keyed: tuple = (),
                           listed: tuple = ()) -> str:
        comp = task.component
        impl = comp.impl
        assert isinstance(impl, g.ContainerImpl)
        cache = task.cache if self.options.enable_caching is None else self.options.enable_caching
        if keyed:  # a collection's items live under this run's prefix: a cached item would point
            cache = False  # into an earlier run's, where the consumer does not look
        uses_task_name = any("{{$.pipeline_task_name}}" in part for part in impl.command + impl.args)
        req = TemplateRequest(
            component=comp,
            params=tuple(sorted(name for name, _ in task.params)),
            artifacts=tuple(sorted(name for name, _ in task.artifacts)),
            cache=cache,
            retry=task.retry,
            platform_json=json.dumps(task.platform, sort_keys=True),
            task_name=task.display_name if uses_task_name else "",
            collected=collected,
            keyed_outputs=keyed,
            listed_inputs=listed,
        )
        if req in self._container_templates:
            return self._container_templates[req]
        name = self.names.claim(f"container:{comp.digest}:{len(self._container_templates)}", comp.name.removeprefix("comp-"))
        if is_resource_stub(impl):  # kfp-kubernetes CreatePVC / DeletePVC
            extra = sorted(set(req.params) - {p.name for p in comp.interface.input_params})
            if extra:
                raise TranslateError(f"binds parameter '{extra[0]}', which component '{comp.name}' does not declare",
                                     element=element)
            self.templates.append(build_resource_template(name, comp, element))
            self._container_templates[req] = name
            return name
        template = build_template(name, req, self.options.artifact_key_prefix)
        if cache:
            # Every input (values, artifact metadata, artifact digests) is part of the key.
            declared = [p.name for p in template.inputs.parameters or []] if template.inputs else []
            template.memoize = memoize(
                template, declared, task.cache_key, self.options.cache_configmap, self.options.cache_max_age
            )
        self.templates.append(template)
        self._container_templates[req] = name
        return name

    def noop_template(self) -> str:
        """A step that starts no pod and succeeds at once (a zero-length suspend)."""
        if "noop" not in self._dag_templates:
            name = self.names.claim("kfp-noop", "kfp-noop")
            self._dag_templates["noop"] = name
            self.templates.append(m.Template(name=name, suspend=m.SuspendTemplate(duration="0")))
        return self._dag_templates["noop"]

    def dag_template(self, comp: g.Component, wanted: str, element: str, shapes: dict | None = None,
                     keyed: frozenset = frozenset(), listed: frozenset = frozenset()) -> str:
        """A KFP DAG as an Argo DAG template. `keyed`: artifact outputs collected by a loop
        around it (each reports its object's key); `listed`: artifact inputs that are
        collections (the items' keys and the prefix they live under travel as parameters)."""
        shapes = shapes or {}
        identity = f"{comp.digest}:{sorted(shapes.items())}:{sorted(keyed)}:{sorted(listed)}"
        if identity in self._dag_templates:
            return self._dag_templates[identity]
        name = self.names.claim(f"dag:{identity}", wanted)
        self._dag_templates[identity] = name
        impl = comp.impl
        assert isinstance(impl, g.DagImpl)
        iface = comp.interface
        in_params = []
        for p in iface.input_params:
            default = encode(p.default, p.type) if p.has_default and p.default is not None else None
            if default is None and p.optional:
                default = ABSENT
            in_params.append(m.Parameter(name=param_name(p.name), default=default))
        in_artifacts = []
        for a in iface.input_artifacts:
            in_artifacts.append(m.Artifact(name=param_name(a.name), optional=True if a.optional else None))
            in_params.append(m.Parameter(name=ph.metadata_param(a.name), default="{}"))
            # The root's artifact inputs come from the workflow's arguments: identified by key.
            digest = "key:{{workflow.parameters.%s}}" % param_name(a.name) if comp.name == "root" else ""
            in_params.append(m.Parameter(name=ph.digest_param(a.name), default=digest))
            if a.name in listed:
                in_params.append(m.Parameter(name=ph.items_param(a.name)))
                in_params.append(m.Parameter(name=ph.prefix_param(a.name)))
        scope = _Scope(self, impl, element, shapes, keyed=keyed, listed=listed, template=name)
        tasks = scope.all_tasks()
        out_params, out_artifacts = scope.outputs(impl.outputs)
        # Only the Argo task names that differ from their KFP task's: readers default to the name.
        names = {scope.task_names[t]: t for t in sorted(scope.task_names) if scope.task_names[t] != t}
        names.update({f"{scope.task_names[scope._upstreams(t)[0]]}.onExit": h for h, t in sorted(scope.hooks.items())})
        template = m.Template(
            name=name,
            # Which KFP task each Argo task (and exit hook) runs, for tools reading the run.
            metadata=m.Metadata(annotations={"kfp-translate.dev/task-names": json.dumps(names, sort_keys=True, separators=(",", ":"))})
            if names else None,
            inputs=m.Inputs(parameters=in_params or None, artifacts=in_artifacts or None) if (in_params or in_artifacts) else None,
            outputs=m.Outputs(parameters=out_params or None, artifacts=out_artifacts or None) if (out_params or out_artifacts) else None,
            # With a sentinel, let every task finish before the DAG's phase is decided: Argo's
            # fail-fast would otherwise end the DAG while an ignore_upstream_failure task runs.
            dag=m.DAGTemplate(tasks=tasks, fail_fast=False if scope.sentinels else None),
        )
        self.templates.append(template)
        return name


class _Scope(ImporterMixin, CollectionMixin, ExitMixin, LoopMixin):
    """One DAG being emitted: Argo names of its tasks and how to refer to their outputs."""

    def __init__(self, emitter: Emitter, dag: g.DagImpl, element: str, shapes: dict[str, Shape] | None = None,
                 names_only: bool = False, keyed: frozenset = frozenset(), listed: frozenset = frozenset(),
                 template: str = ""):
        self.shapes = shapes or {}
        self.keyed = keyed
        self.listed = listed
        self.template = template
        self.task_templates: dict[str, str] = {}
        self.emitter = emitter
        self.dag = dag
        self.element = element
        self.names = NameTable()
        self.importers: dict[str, _Importer] = {}
        self.task_names: dict[str, str] = {}
        self.by_name: dict[str, g.Task] = {t.name: t for t in dag.tasks}
        self._ups: dict[str, list[str]] = {}
        self._consumed: set[str] | None = None
        for t in dag.tasks:
            if not isinstance(t.component.impl, g.ImporterImpl):
                # the node name Argo shows is the DAG task's: `set_display_name` names it (the
                # `kfp-translate.dev/task-names` annotation maps it back to the KFP task)
                self.task_names[t.name] = self.names.claim(t.name, t.display_name or t.name)
        for t in dag.tasks:
            if isinstance(t.component.impl, g.ImporterImpl) and not names_only:
                self.importers[t.name] = self.importer(t)

    def accessor(self, binding: g.Binding, where: str) -> str:
        """An expression (expr-lang) reading a binding's value as a string."""
        if isinstance(binding, g.FromInput):
            return "inputs.parameters[%s]" % json.dumps(param_name(binding.name))
        if isinstance(binding, g.FromTask):
            return "tasks[%s].outputs.parameters[%s]" % (
                json.dumps(self._producer(binding.task, where)),
                json.dumps(param_name(binding.output)),
            )
        if isinstance(binding, g.Const):
            return json.dumps(encode(binding.value, g.STRING) if isinstance(binding.value, str) else json.dumps(binding.value))
        raise TranslateError(f"{type(binding).__name__} values are not supported here", element=where)

    def _where(self, task: str) -> str:
        return f"task '{self.element}/{task}'" if self.element else f"task '{task}'"

    def _producer(self, name: str, element: str) -> str:
        if name not in self.task_names:
            raise TranslateError(f"refers to task '{name}', which is not in the same DAG", element=element)
        return self.task_names[name]

    def _task(self, name: str) -> g.Task:
        return self.by_name[name]

    # --- values -------------------------------------------------------------------------------

    def param_value(self, binding: g.Binding, ptype: str | None, element: str, task: g.Task | None = None) -> str:
        if isinstance(binding, g.Const):
            value = binding.value
            if ptype is None:
                ptype = g.STRING if isinstance(value, str) else (g.LIST if isinstance(value, list) else g.STRUCT)
            text = encode(value, ptype) if value is not None else ""
            if "{{$" in text:  # a KFP f-string over channels: placeholders become Argo variables
                return self._interpolate(text, task, element)
            return protect(text)  # a constant is data, like a parameter: never rewritten
        if isinstance(binding, g.FromInput):
            return "{{inputs.parameters.%s}}" % param_name(binding.name)
        if isinstance(binding, g.FromTask):
            producer = self._producer(binding.task, element)
            if task is not None and task.run_after_upstream_completed:
                # The upstream may have failed without outputs: ABSENT instead of a stuck reference.
                return '{{=tasks[%s]?.outputs?.parameters?.[%s] ?? "\\uffff"}}' % (
                    json.dumps(producer), json.dumps(param_name(binding.output)))
            return "{{tasks.%s.outputs.parameters.%s}}" % (producer, param_name(binding.output))
        if isinstance(binding, g.FromTaskStatus):
            if binding.task not in self.task_names:
                raise TranslateError(f"reads the final status of '{binding.task}', which is not in the same DAG", element=element)
            return self.final_status(binding.task)
        if isinstance(binding, g.FromInputField):
            return "{{=jsonpath(inputs.parameters[%s], %s)}}" % (
                json.dumps(param_name(binding.name)),
                json.dumps("$." + binding.field),
            )
        raise TranslateError(f"{type(binding).__name__} inputs are not supported yet", element=element)

    def _interpolate(self, text: str, task: g.Task | None, element: str) -> str:
        """KFP f-strings over channels arrive as constants with placeholders; Argo gets variables."""
        pieces = re.split(r"(\{\{\$[^{}]*\}\})", text)
        out = []
        for piece in pieces:
            if not piece.startswith("{{$"):
                if ARGO_TAG.search(piece) or B64_PREFIX in piece or ABSENT in piece:
                    raise TranslateError("a value built from task inputs holds literal text Argo would rewrite "
                                         f"({piece[:40]!r}); pass that text as a parameter", element=element)
                out.append(piece)
                continue
            if piece in ph.RUN_PLACEHOLDERS:
                out.append(ph.RUN_PLACEHOLDERS[piece])
                continue
            if piece == "{{$.pipeline_task_name}}" and task is not None:
                out.append(task.display_name)
                continue
            if piece == "{{$.pipeline_task_uuid}}" and task is not None:
                out.append("{{workflow.uid}}-" + self.task_names.get(task.name, task.name))
                continue
            match = _PARAM_PLACEHOLDER.match(piece)
            bound = dict(task.params).get(match.group(1)) if (match and task is not None) else None
            if bound is None or isinstance(bound, g.Const):
                raise TranslateError(f"unsupported placeholder {piece} in a constant", element=element)
            pdef = task.component.interface.input_param(match.group(1)) if task else None
            out.append(self.param_value(bound, pdef.type if pdef else None, element, task))
        return "".join(out)

    def artifact_args(self, name: str, binding: g.Binding, with_digest: bool, element: str) -> tuple[m.Artifact, list[m.Parameter]]:
        if self.is_collection(binding):
            return self.collection_args(name, binding, with_digest, element)
        aname = param_name(name)
        if isinstance(binding, g.FromTask) and binding.task in self.importers:
            imp = self.importers[binding.task]
            art = imp.artifact.model_copy(update={"name": aname})
            params = [m.Parameter(name=ph.metadata_param(name), value=imp.metadata)]
            if with_digest:
                params.append(m.Parameter(name=ph.digest_param(name), value=imp.digest))
            return art, params
        if isinstance(binding, g.FromTask):
            producer = self._producer(binding.task, element)
            art = m.Artifact(name=aname, from_="{{tasks.%s.outputs.artifacts.%s}}" % (producer, param_name(binding.output)))
            ref = "{{tasks.%s.outputs.parameters.%%s}}" % producer
        elif isinstance(binding, g.FromInput):
            art = m.Artifact(name=aname, from_="{{inputs.artifacts.%s}}" % param_name(binding.name))
            ref = "{{inputs.parameters.%s}}"
        else:
            raise TranslateError(f"{type(binding).__name__} artifact inputs are not supported", element=element)
        source = binding.output if isinstance(binding, g.FromTask) else binding.name
        params = [m.Parameter(name=ph.metadata_param(name), value=ref % ph.metadata_param(source))]
        if with_digest:
            params.append(m.Parameter(name=ph.digest_param(name), value=ref % ph.digest_param(source)))
        return art, params

    # --- tasks --------------------------------------------------------------------------------

    def all_tasks(self) -> list[m.DAGTask]:
        """Every DAG task, with exit handlers attached to their group as `hooks.exit` and a
        sentinel for each upstream of an `ignore_upstream_failure` task (see `completed`)."""
        self.hooks = {t.name: t for t in self.dag.tasks if self._is_exit_hook(t)}
        self.sentinels: list[str] = []
        built = {}
        for t in self._topological():  # producers first: consumers of collections need their prefixes
            if t.name not in self.hooks:
                built[t.name] = self.task(t)
        built = {name: built[name] for name in sorted(built)}
        for hook in self.hooks.values():
            owner = self._upstreams(hook)[0]
            exit_task = self.task(hook, as_hook=True)
            hook_spec = m.LifecycleHook(template=exit_task.template, arguments=exit_task.arguments)
            built[owner] = built[owner].model_copy(update={"hooks": {"exit": hook_spec}})
        tasks = [t for t in built.values() if t is not None]
        for upstream in sorted(set(self.sentinels)):
            tasks.append(
                m.DAGTask(
                    name=self.names.claim(f"sentinel:{upstream}", f"{self.task_names[upstream]}-must-succeed"),
                    template=self.emitter.noop_template(),
                    depends=self.task_names[upstream],
                )
            )
        return tasks

    def _topological(self) -> list[g.Task]:
        """Upstreams before their consumers: a depth-first post-order, in task order, with an
        explicit stack (a 10,000-task chain is 10,000 levels deep)."""
        order: list[g.Task] = []
        seen: set[str] = set()
        for root in self.dag.tasks:
            if root.name in seen:
                continue
            seen.add(root.name)
            stack = [(root, iter(self._upstreams(root)))]
            while stack:
                task, ups = stack[-1]
                for up in ups:
                    if up in self.task_names and up not in seen:
                        seen.add(up)
                        child = self.by_name[up]
                        stack.append((child, iter(self._upstreams(child))))
                        break
                else:
                    stack.pop()
                    order.append(task)
        return order

    def _upstreams(self, task: g.Task) -> list[str]:
        if task.name not in self._ups:
            deps = set(task.after)
            for _, binding in task.params + task.artifacts:
                if isinstance(binding, (g.FromTask, g.FromTaskStatus)):
                    deps.add(binding.task)
            self._ups[task.name] = sorted(deps.difference(self.importers))
        return self._ups[task.name]

    def task(self, task: g.Task, as_hook: bool = False) -> m.DAGTask | None:
        where = self._where(task.name)
        impl = task.component.impl
        if isinstance(impl, g.ImporterImpl):
            return None
        path = f"{self.element}/{task.name}" if self.element else task.name
        if isinstance(impl, g.DagImpl):
            template = self.emitter.dag_template(
                task.component, task.component.name.removeprefix("comp-"), path, self.child_shapes(task),
                keyed=self.child_keyed(task), listed=self.child_listed(task),
            )
            with_digest = True
        else:
            collected = []
            for name, binding in task.params:
                found = self.shape(binding)
                if found is not None and found.depth > 0:
                    collected.append((name, found.depth, found.leaf))
            listed = tuple(sorted(self.child_listed(task)))
            keyed = self.keyed_outputs(task)
            template = self.emitter.container_template(task, where, tuple(collected), keyed, listed)
            for out in task.component.interface.output_artifacts:
                self.emitter.prefixes[(template, out.name)] = template_prefix(self.emitter.options.artifact_key_prefix, template)
            # digests feed the memo key: a template producing collection items is not memoized
            cached = task.cache if self.emitter.options.enable_caching is None else self.emitter.options.enable_caching
            with_digest = cached and not keyed
        self.task_templates[task.name] = template
        iface = task.component.interface
        params: list[m.Parameter] = []
        for name, binding in task.params:
            pdef = iface.input_param(name)
            params.append(m.Parameter(name=param_name(name), value=self.param_value(binding, pdef.type if pdef else None, f"{where} input '{name}'", task)))
        artifacts: list[m.Artifact] = []
        for name, binding in task.artifacts:
            art, extra = self.artifact_args(name, binding, with_digest, f"{where} artifact '{name}'")
            artifacts.append(art)
            params.extend(extra)
        deps = self._upstreams(task)
        for d in deps:
            if d not in self.task_names:
                raise TranslateError(f"depends on task '{d}', which is not in the same DAG", element=where)
        if task.run_after_upstream_completed and not as_hook:
            # KFP's ALL_UPSTREAM_TASKS_COMPLETED: run whatever the upstream's outcome. Argo then
            # counts the upstream's failure as handled, so a sentinel leaf that needs the
            # upstream to succeed keeps a failed upstream failing the run, as in KFP.
            terms = [
                "(%s)" % " || ".join(f"{self.task_names[d]}.{phase}" for phase in ("Succeeded", "Skipped", "Failed", "Errored"))
                for d in deps
            ]
            depends = " && ".join(terms) or None
            self.sentinels.extend(deps)
        else:
            depends = " && ".join(self.task_names[d] for d in deps) or None
        when = None
        if task.condition:
            when = self.when(task, where)
        dag_task = m.DAGTask(
            name=self.task_names[task.name],
            template=template,
            arguments=m.Arguments(parameters=params or None, artifacts=artifacts or None) if (params or artifacts) else None,
            depends=depends,
            when=when,
        )
        if task.iterator is not None:
            dag_task = self.loop(task, dag_task, where)
        return dag_task

    def when(self, task: g.Task, where: str) -> str:
        from translator import conditions

        try:
            node = conditions.parse(task.condition or "")
        except conditions.ConditionError as exc:
            raise TranslateError(f"condition {task.condition!r}: {exc}", element=where) from None
        iface = task.component.interface
        bindings = dict(task.params)

        def resolve(channel: str) -> "conditions.Operand":
            pdef = iface.input_param(channel)
            binding = bindings.get(channel)
            if pdef is None or binding is None:
                raise TranslateError(f"condition reads '{channel}', which the task does not receive", element=where)
            if isinstance(binding, (g.FromInput, g.FromTask)):
                expr = self.accessor(binding, where)
            elif isinstance(binding, g.Const):
                expr = json.dumps(encode(binding.value, pdef.type))
            elif isinstance(binding, g.FromInputField):
                found = "jsonpath(inputs.parameters[%s], %s)" % (json.dumps(param_name(binding.name)), json.dumps("$." + binding.field))
                expr = found if pdef.type == g.STRING else f"toJson({found})"
            else:
                raise TranslateError(f"condition reads '{channel}' from an unsupported source", element=where)
            return conditions.Operand(expr, pdef.type)

        try:
            return "{{=%s}}" % conditions.to_argo(node, resolve)
        except conditions.ConditionError as exc:
            raise TranslateError(f"condition {task.condition!r}: {exc}", element=where) from None

    def outputs(self, outputs: tuple[g.DagOutput, ...]) -> tuple[list[m.Parameter], list[m.Artifact]]:
        """DAG outputs; a dsl.OneOf output takes the first of its sources that ran (`??`)."""
        params: list[m.Parameter] = []
        artifacts: list[m.Artifact] = []
        for out in outputs:
            element = f"{self.element or 'pipeline'} output '{out.name}'"
            producers = []
            for src in out.sources:
                if src.task in self.importers:
                    raise TranslateError("a DAG output taken straight from an importer is not supported yet", element=element)
                producer = self._producer(src.task, element)
                producers.append((producer, src.output))
            names = [param_name] if not out.is_artifact else [ph.metadata_param, ph.digest_param]
            collection = out.is_artifact and self.is_collection(out.sources[0])
            if out.is_artifact and (collection or out.name in self.keyed):
                names.append(ph.item_param)
                if len(out.sources) != 1:
                    raise TranslateError("dsl.OneOf over collected artifacts is not supported", element=element)
                src = out.sources[0]
                self.emitter.prefixes[(self.template, out.name)] = self.prefix(src.task, src.output, element)
            if out.is_artifact and not collection:
                if len(producers) == 1:
                    # optional: a producer whose branch was skipped leaves nothing, as in KFP
                    artifacts.append(m.Artifact(name=param_name(out.name), optional=True if out.name in self.keyed else None,
                                                from_="{{tasks.%s.outputs.artifacts.%s}}" % (producers[0][0], param_name(producers[0][1]))))
                else:
                    artifacts.append(m.Artifact(name=param_name(out.name), from_expression=_first_of(producers, "artifacts", param_name)))
            for helper in names:
                if len(producers) == 1:
                    value_from = m.ValueFrom(parameter="{{tasks.%s.outputs.parameters.%s}}" % (producers[0][0], helper(producers[0][1])))
                else:
                    value_from = m.ValueFrom(expression=_first_of(producers, "parameters", helper))
                # A source that did not run (its branch was skipped) leaves the output ABSENT, as
                # KFP leaves it unset; collections drop such items, a consumer sees its default.
                value_from.default = ABSENT
                params.append(m.Parameter(name=helper(out.name), value_from=value_from))
        return params, artifacts


def _first_of(producers: list[tuple[str, str]], kind: str, name) -> str:
    """The first of several task outputs that exists (dsl.OneOf). A task that was skipped has
    no outputs (nil) or, on Argo versions that fill skipped outputs from their defaults, the
    ABSENT default: both count as missing."""
    refs = ["tasks[%s]?.outputs?.%s?.[%s]" % (json.dumps(task), kind, json.dumps(name(output))) for task, output in producers]
    if kind == "artifacts":
        return " ?? ".join(refs)
    absent = '"\\uffff"'
    expr = absent
    for ref in reversed(refs):
        expr = f"(({ref} ?? {absent}) != {absent} ? {ref} : {expr})"
    return expr
