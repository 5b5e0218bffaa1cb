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
from .container import TemplateRequest, build_template, template_prefix
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


@dataclass(frozen=True)
class Shape:
    """A value collected out of loops (dsl.Collected): `depth` levels of lists of `leaf` values.

    Argo aggregates a looped task's output into a JSON list of *strings* unless every value is
    a JSON object or array, so the ints of a List[int] arrive as "1"; the consumer's pod shim
    retypes the leaves, which it can only do when told their KFP type.
    """

    depth: int
    leaf: str


@dataclass
class _Importer:
    """What a pod-less importer task provides to its consumers."""

    artifact: m.Artifact  # a location (s3/gcs/http), without name
    metadata: str
    digest: str


_PLACEHOLDER_ONLY = re.compile(r"""^\{\{\$\.inputs\.parameters\[['"]([^'"]+)['"]\]\}\}$""")


def importer_artifact(uri: str, metadata: str, element: str) -> _Importer:
    """A constant URI: the consumer's input artifact points straight at it (no pod)."""
    scheme, _, rest = uri.partition("://")
    bucket, _, key = rest.partition("/")
    if scheme in ("s3", "minio"):
        art = m.Artifact(name="x", s3=m.S3Artifact(bucket=bucket, key=key))
    elif scheme == "gs":
        art = m.Artifact(name="x", gcs=m.GCSArtifact(bucket=bucket, key=key))
    elif scheme in ("http", "https"):
        art = m.Artifact(name="x", http=m.HTTPArtifact(url=uri))
    else:
        raise TranslateError(f"importer URI scheme '{scheme}' is not supported (s3, minio, gs, http, https)", element=element)
    return _Importer(art, metadata, "uri:" + uri)


def dynamic_importer_artifact(accessor: str, value: str, metadata: str) -> _Importer:
    """A URI chosen at run time (`s3://bucket/key` or `minio://...`): Argo splits it into the
    bucket and key of an S3 artifact; credentials and endpoint come from the repository."""
    bucket = '{{=sprig.regexReplaceAll("^[a-z0-9]+://([^/]*)/?.*$", %s, "${1}")}}' % accessor
    key = '{{=sprig.regexReplaceAll("^[a-z0-9]+://[^/]*/?", %s, "")}}' % accessor
    return _Importer(m.Artifact(name="x", s3=m.S3Artifact(bucket=bucket, key=key)), metadata, "uri:" + value)


@dataclass
class Emitter:
    options: ArgoOptions
    templates: list[m.Template] = field(default_factory=list)
    names: NameTable = field(default_factory=NameTable)
    _container_templates: dict[TemplateRequest, str] = field(default_factory=dict)
    _dag_templates: dict[str, str] = field(default_factory=dict)
    prefixes: dict[tuple[str, str], str] = field(default_factory=dict)  # (template, output) -> key prefix

    # --- templates ----------------------------------------------------------------------------

    def container_template(self, task: g.Task, element: str, collected: tuple = (), keyed: tuple = (),
                           listed: tuple = ()) -> str:
        comp = task.component
        impl = comp.impl
        assert isinstance(impl, g.ContainerImpl)
        cache = task.cache if self.options.enable_caching is None else self.options.enable_caching
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
        template = m.Template(
            name=name,
            inputs=m.Inputs(parameters=in_params or None, artifacts=in_artifacts or None) if (in_params or in_artifacts) else None,
            outputs=m.Outputs(parameters=out_params or None, artifacts=out_artifacts or None) if (out_params or out_artifacts) else None,
            dag=m.DAGTemplate(tasks=tasks),
        )
        self.templates.append(template)
        return name


class _Scope:
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
        for t in dag.tasks:
            if not isinstance(t.component.impl, g.ImporterImpl):
                self.task_names[t.name] = self.names.claim(t.name)
        for t in dag.tasks:
            if isinstance(t.component.impl, g.ImporterImpl) and not names_only:
                self.importers[t.name] = self.importer(t)

    def importer(self, task: g.Task) -> _Importer:
        impl = task.component.impl
        assert isinstance(impl, g.ImporterImpl)
        where = self._where(task.name)
        binding = impl.uri
        if isinstance(binding, g.FromInput):  # the importer task binds its `uri` input
            binding = task.param(binding.name) or binding
        metadata = self.importer_metadata(task, impl.metadata or {}, where)
        if isinstance(binding, g.Const):
            return importer_artifact(str(binding.value), metadata, where)
        return dynamic_importer_artifact(self.accessor(binding, where), self.param_value(binding, g.STRING, where, task), metadata)

    def importer_metadata(self, task: g.Task, metadata: dict, where: str) -> str:
        """Importer metadata; values that are placeholders of the importer's inputs become Argo
        values (an expression building the JSON object)."""
        text = json.dumps(metadata, sort_keys=True, separators=(",", ":"))
        if "{{" not in text:
            return text
        def text(value: str) -> str:
            """A string with placeholders as an expression: literal pieces joined with values."""
            pieces = []
            for piece in re.split(r"(\{\{\$[^{}]*\}\})", value):
                if not piece:
                    continue
                match = _PLACEHOLDER_ONLY.match(piece)
                if match is None:
                    if "{{" in piece:
                        raise TranslateError(f"importer metadata value {value!r} is not supported", element=where)
                    pieces.append(json.dumps(piece))
                    continue
                bound = task.param(match.group(1))
                if bound is None:
                    raise TranslateError(f"importer metadata reads '{match.group(1)}', which the task does not receive", element=where)
                pieces.append(self.accessor(bound, where))
            return "(%s)" % " + ".join(pieces or ['""'])

        def build(value: object) -> str:
            if isinstance(value, dict):
                if any("{{" in key for key in value):  # keys chosen at run time
                    return "sprig.dict(%s)" % ", ".join(f"{text(k)}, {build(v)}" for k, v in sorted(value.items()))
                return "{%s }" % ", ".join(f"{json.dumps(k)}: {build(v)}" for k, v in sorted(value.items()))
            if isinstance(value, list):
                return "[%s]" % ", ".join(build(v) for v in value)
            if not isinstance(value, str) or "{{" not in value:
                return json.dumps(value)
            return text(value)

        return "{{=toJson(%s)}}" % build(metadata)

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
        return next(t for t in self.dag.tasks if t.name == name)

    def shape(self, binding: g.Binding) -> Shape | None:
        """The collected shape of a parameter binding, or None for a plain value."""
        if isinstance(binding, g.FromInput):
            return self.shapes.get(binding.name)
        if not isinstance(binding, g.FromTask) or binding.task not in self.task_names:
            return None
        task = self._task(binding.task)
        impl = task.component.impl
        if isinstance(impl, g.ContainerImpl):
            out = task.component.interface.output_param(binding.output)
            inner = Shape(0, out.type) if out else None
        elif isinstance(impl, g.DagImpl):
            source = next((o for o in impl.outputs if o.name == binding.output and not o.is_artifact), None)
            if source is None:
                return None
            child = _Scope(self.emitter, impl, self.element, self.child_shapes(task), names_only=True)
            inner = child.shape(source.sources[0])
        else:
            return None
        if task.iterator is not None:
            return Shape(inner.depth + 1, inner.leaf) if inner else None
        return inner

    def child_shapes(self, task: g.Task) -> dict[str, Shape]:
        """Shapes of the collected values a DAG task passes to its DAG template."""
        shapes = {}
        for name, binding in task.params:
            found = self.shape(binding)
            if found is not None and found.depth > 0:
                shapes[name] = found
        it = task.iterator
        if it is not None and not it.is_artifact and isinstance(it.items, g.FromInput):
            source = dict(task.params).get(it.items.name)
            found = self.shape(source) if source is not None else None
            if found is not None and found.depth > 1:
                shapes[it.item_input] = Shape(found.depth - 1, found.leaf)
        return shapes

    # --- values -------------------------------------------------------------------------------

    def param_value(self, binding: g.Binding, ptype: str | None, element: str, task: g.Task | None = None) -> str:
        if isinstance(binding, g.Const):
            value = binding.value
            if ptype is None:
                ptype = g.STRING if isinstance(value, str) else (g.LIST if isinstance(value, list) else g.STRUCT)
            text = encode(value, ptype) if value is not None else ""
            if "{{" in text or "}}" in text:
                text = self._interpolate(text, task, element)
            return text
        if isinstance(binding, g.FromInput):
            return "{{inputs.parameters.%s}}" % param_name(binding.name)
        if isinstance(binding, g.FromTask):
            return "{{tasks.%s.outputs.parameters.%s}}" % (self._producer(binding.task, element), param_name(binding.output))
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
                if "{{" in piece or "}}" in piece:
                    raise TranslateError("a constant value contains '{{' or '}}', which Argo would read as a variable", element=element)
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

    def is_collection(self, binding: g.Binding) -> bool:
        """Is this artifact binding a dsl.Collected list (out of a loop, possibly re-exported)?"""
        if isinstance(binding, g.FromInput):
            return binding.name in self.listed
        if not isinstance(binding, g.FromTask) or binding.task not in self.task_names:
            return False
        task = self._task(binding.task)
        impl = task.component.impl
        if not isinstance(impl, g.DagImpl):
            return False
        if task.iterator is not None:
            return True
        source = next((o for o in impl.outputs if o.name == binding.output and o.is_artifact), None)
        if source is None:
            return False
        child = _Scope(self.emitter, impl, self.element, names_only=True, listed=self.child_listed(task))
        return child.is_collection(source.sources[0])

    def child_listed(self, task: g.Task) -> frozenset:
        return frozenset(name for name, b in task.artifacts if self.is_collection(b))

    def child_keyed(self, task: g.Task) -> frozenset:
        """Outputs of a DAG task whose objects must report their keys."""
        impl = task.component.impl
        assert isinstance(impl, g.DagImpl)
        if task.iterator is not None:  # everything a loop body makes is collected
            return frozenset(o.name for o in impl.outputs if o.is_artifact)
        wanted = set()
        for out in self.dag.outputs:
            if out.is_artifact and out.name in self.keyed:
                wanted.update(src.output for src in out.sources if src.task == task.name)
        return frozenset(wanted)

    def keyed_outputs(self, task: g.Task) -> tuple[str, ...]:
        wanted = set()
        for out in self.dag.outputs:
            if out.is_artifact and out.name in self.keyed:
                wanted.update(src.output for src in out.sources if src.task == task.name)
        return tuple(sorted(wanted))

    def prefix(self, task_name: str, output: str, element: str) -> str:
        found = self.emitter.prefixes.get((self.task_templates.get(task_name, ""), output))
        if found is None:
            raise TranslateError(f"cannot locate the collection '{output}' of task '{task_name}'", element=element)
        return found

    def collection_args(self, name: str, binding: g.Binding, with_digest: bool, element: str) -> tuple[m.Artifact, list[m.Parameter]]:
        """A collection: one input artifact holding the whole prefix, plus the items' keys."""
        aname = param_name(name)
        if isinstance(binding, g.FromInput):
            art = m.Artifact(name=aname, from_="{{inputs.artifacts.%s}}" % param_name(binding.name))
            ref = "{{inputs.parameters.%s}}"
            source = binding.name
            prefix = ref % ph.prefix_param(source)
            keys = ref % ph.items_param(source)
        else:
            assert isinstance(binding, g.FromTask)
            producer = self._producer(binding.task, element)
            prefix = self.prefix(binding.task, binding.output, element)
            art = m.Artifact(name=aname, s3=m.S3Artifact(key=prefix), archive=None)
            ref = "{{tasks.%s.outputs.parameters.%%s}}" % producer
            source = binding.output
            keys = ref % ph.item_param(source)
        params = [
            m.Parameter(name=ph.metadata_param(name), value=ref % ph.metadata_param(source)),
            m.Parameter(name=ph.items_param(name), value=keys),
            m.Parameter(name=ph.prefix_param(name), value=prefix),
        ]
        if with_digest:
            params.append(m.Parameter(name=ph.digest_param(name), value=ref % ph.digest_param(source)))
        return art, params

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
        order: list[g.Task] = []
        seen: set[str] = set()

        def visit(t: g.Task) -> None:
            if t.name in seen:
                return
            seen.add(t.name)
            for up in self._upstreams(t):
                if up in self.task_names:
                    visit(self._task(up))
            order.append(t)

        for t in self.dag.tasks:
            visit(t)
        return order

    def _upstreams(self, task: g.Task) -> list[str]:
        deps = set(task.after)
        for _, binding in task.params + task.artifacts:
            if isinstance(binding, (g.FromTask, g.FromTaskStatus)):
                deps.add(binding.task)
        return sorted(deps - set(self.importers))

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
            template = self.emitter.container_template(task, where, tuple(collected), self.keyed_outputs(task), listed)
            for out in task.component.interface.output_artifacts:
                self.emitter.prefixes[(template, out.name)] = template_prefix(self.emitter.options.artifact_key_prefix, template)
            with_digest = task.cache if self.emitter.options.enable_caching is None else self.emitter.options.enable_caching
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

    def loop(self, task: g.Task, dag_task: m.DAGTask, where: str) -> m.DAGTask:
        """ParallelFor: `withItems` for a literal list, `withParam` for a list chosen at run time.

        A parallelism limit needs a DAG of its own (Argo's `parallelism` caps a template's
        children), so a limited loop becomes a wrapper template holding the looped task.
        """
        it = task.iterator
        assert it is not None
        params = list(dag_task.arguments.parameters or []) if dag_task.arguments else []
        artifacts = list(dag_task.arguments.artifacts or []) if dag_task.arguments else []
        with_items = with_param = None
        item_params = [m.Parameter(name=param_name(it.item_input), value="{{item}}")]
        item_artifacts: list[m.Artifact] = []
        if it.is_artifact:
            # Over a collection: one iteration per {key, metadata} item, the item's object as input.
            name = it.items.name if isinstance(it.items, g.FromInput) else ""
            source = task.artifact(name)
            if source is None or not self.is_collection(source):
                raise TranslateError(f"loop items come from artifact '{name}', which is not a collection", element=where)
            with_param = next(p.value for p in params if p.name == ph.items_param(name))
            item_params = [
                m.Parameter(name=ph.metadata_param(it.item_input), value="{{item.metadata}}"),
                m.Parameter(name=ph.digest_param(it.item_input), value="key:{{item.key}}"),
            ]
            item_artifacts = [m.Artifact(name=param_name(it.item_input), s3=m.S3Artifact(key="{{item.key}}"))]
        elif isinstance(it.items, g.Const):
            if not isinstance(it.items.value, list):
                raise TranslateError("loop items are not a list", element=where)
            with_items = [m.Item(x) for x in it.items.value]
        else:
            source = dict(task.params).get(it.items.name) if isinstance(it.items, g.FromInput) else None
            if source is None:
                raise TranslateError(f"loop items come from '{getattr(it.items, 'name', '?')}', which the task does not receive", element=where)
            pdef = task.component.interface.input_param(it.items.name)
            with_param = self.param_value(source, pdef.type if pdef else g.LIST, where, task)
        if it.parallelism is None:
            return dag_task.model_copy(update={
                "with_items": with_items, "with_param": with_param,
                "arguments": m.Arguments(parameters=params + item_params, artifacts=(artifacts + item_artifacts) or None),
            })
        wrapper_name = self.emitter.names.claim(f"limit:{dag_task.template}:{it.parallelism}:{where}", f"{dag_task.template}-limit")
        inner_params = [m.Parameter(name=p.name, value="{{inputs.parameters.%s}}" % p.name) for p in params]
        inner_params.extend(item_params)
        inner_artifacts = [m.Artifact(name=a.name, from_="{{inputs.artifacts.%s}}" % a.name) for a in artifacts]
        inner_artifacts.extend(item_artifacts)
        wrapper_inputs = [m.Parameter(name=p.name) for p in params]
        if with_param is not None:
            wrapper_inputs.append(m.Parameter(name="kfp-loop-items"))
            params.append(m.Parameter(name="kfp-loop-items", value=with_param))
        inner = m.DAGTask(
            name=dag_task.name,
            template=dag_task.template,
            arguments=m.Arguments(parameters=inner_params, artifacts=inner_artifacts or None),
            with_items=with_items,
            with_param="{{inputs.parameters.kfp-loop-items}}" if with_param is not None else None,
        )
        body = next(t for t in self.emitter.templates if t.name == dag_task.template)
        body_outputs = [p.name for p in (body.outputs.parameters or [])] if body.outputs else []
        wrapper_outputs = [
            m.Parameter(name=p, value_from=m.ValueFrom(parameter="{{tasks.%s.outputs.parameters.%s}}" % (inner.name, p)))
            for p in body_outputs
        ]
        self.emitter.templates.append(
            m.Template(
                name=wrapper_name,
                inputs=m.Inputs(parameters=wrapper_inputs or None, artifacts=[m.Artifact(name=a.name) for a in artifacts] or None),
                outputs=m.Outputs(parameters=wrapper_outputs) if wrapper_outputs else None,
                parallelism=it.parallelism,
                dag=m.DAGTemplate(tasks=[inner]),
            )
        )
        return dag_task.model_copy(update={
            "template": wrapper_name,
            "arguments": m.Arguments(parameters=params or None, artifacts=artifacts or None) if (params or artifacts) else None,
        })

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
            if isinstance(binding, g.FromInput):
                expr = "inputs.parameters[%s]" % json.dumps(param_name(binding.name))
            elif isinstance(binding, g.FromTask):
                expr = "tasks[%s].outputs.parameters[%s]" % (
                    json.dumps(self._producer(binding.task, where)),
                    json.dumps(param_name(binding.output)),
                )
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
                    artifacts.append(m.Artifact(name=param_name(out.name), from_="{{tasks.%s.outputs.artifacts.%s}}" % (producers[0][0], param_name(producers[0][1]))))
                else:
                    artifacts.append(m.Artifact(name=param_name(out.name), from_expression=_first_of(producers, "artifacts", param_name)))
            for helper in names:
                if len(producers) == 1:
                    value_from = m.ValueFrom(parameter="{{tasks.%s.outputs.parameters.%s}}" % (producers[0][0], helper(producers[0][1])))
                else:
                    value_from = m.ValueFrom(expression=_first_of(producers, "parameters", helper))
                params.append(m.Parameter(name=helper(out.name), value_from=value_from))
        return params, artifacts


def _first_of(producers: list[tuple[str, str]], kind: str, name) -> str:
    """`a ?? b ?? c` over task outputs: tasks that were skipped have no outputs (nil)."""
    return " ?? ".join(
        "tasks[%s]?.outputs?.%s?.[%s]" % (json.dumps(task), kind, json.dumps(name(output))) for task, output in producers
    )
