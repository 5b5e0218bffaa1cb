"""Build the normalized graph (`translator.graph`) from the IR models (`translator.ir`).

Passes, in order: type every constant and default by the input that receives it (the IR writes
`3.0` for an int); resolve each task's component and executor; turn input specs into bindings;
deduplicate components by content digest.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from . import graph as g
from . import ir
from . import checks
from .checks import check_acyclic, check_name, check_references
from .errors import TranslateError

_ITEM_SELECTOR = re.compile(r"""^parseJson\(string_value\)\[["']([^"']+)["']\]$""")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def coerce(value: Any, ptype: str, element: str) -> Any:
    """Type a literal the way KFP's SDK meant it: ints written as 3.0 become 3."""
    if value is None:
        return None
    try:
        if ptype == g.INTEGER:
            if isinstance(value, bool):
                raise ValueError
            number = float(value) if isinstance(value, str) else value
            if isinstance(number, float) and (not math.isfinite(number) or not number.is_integer()):
                raise ValueError
            return int(number)
        if ptype == g.DOUBLE:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if ptype == g.BOOLEAN:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise ValueError
        if ptype == g.STRING:
            if not isinstance(value, str):
                raise ValueError
            return value
        if ptype == g.LIST:
            value = json.loads(value) if isinstance(value, str) else value
            if not isinstance(value, list):
                raise ValueError
            return value
        if ptype == g.STRUCT:
            value = json.loads(value) if isinstance(value, str) else value
            if not isinstance(value, dict):
                raise ValueError
            return value
    except (ValueError, TypeError):
        raise TranslateError(f"value {value!r} is not a valid {ptype}", element=element) from None
    return value


def _interface(spec: ir.ComponentSpec, element: str) -> g.Interface:
    def params(defs: ir.Definitions, is_input: bool) -> tuple[g.ParamDef, ...]:
        out = []
        for name, p in sorted(defs.parameters.items()):
            check_name(name, "parameter", element)
            has_default = is_input and "defaultValue" in p.model_fields_set
            default = coerce(p.defaultValue, p.parameterType, f"{element} input '{name}'") if has_default else None
            out.append(g.ParamDef(name, p.parameterType, default, has_default, p.isOptional))
        return tuple(out)

    def artifacts(defs: ir.Definitions) -> tuple[g.ArtifactDef, ...]:
        for name, a in defs.artifacts.items():
            for text in (a.artifactType.schemaTitle, a.artifactType.schemaVersion):
                check_name(text or "", "artifact type", f"{element} artifact '{name}'")
        return tuple(
            g.ArtifactDef(
                name,
                a.artifactType.schemaTitle or "system.Artifact",
                a.artifactType.schemaVersion or "0.0.1",
                a.isArtifactList,
                a.isOptional,
            )
            for name, a in sorted(defs.artifacts.items())
            if check_name(name, "artifact", element) is None
        )

    return g.Interface(
        params(spec.inputDefinitions, True),
        artifacts(spec.inputDefinitions),
        params(spec.outputDefinitions, False),
        artifacts(spec.outputDefinitions),
    )


def _resources(r: ir.Resources | None) -> g.Resources:
    if r is None:
        return g.Resources()

    def cpu(text: str | None, number: float | None) -> str | None:
        if text:
            return text
        return None if number is None else f"{number:g}"

    def mem(text: str | None, number: float | None) -> str | None:
        if text:
            return text
        return None if number is None else f"{int(round(number * 1e9))}"

    acc_type = acc_count = None
    if r.accelerator is not None:
        acc_type = r.accelerator.resourceType or r.accelerator.type
        count = r.accelerator.resourceCount if r.accelerator.resourceCount is not None else r.accelerator.count
        acc_count = None if count is None else str(count)
    return g.Resources(
        cpu_request=cpu(r.resourceCpuRequest, r.cpuRequest),
        cpu_limit=cpu(r.resourceCpuLimit, r.cpuLimit),
        memory_request=mem(r.resourceMemoryRequest, r.memoryRequest),
        memory_limit=mem(r.resourceMemoryLimit, r.memoryLimit),
        accelerator_type=acc_type,
        accelerator_count=acc_count,
    )


_PARAM_SOURCES = ("componentInputParameter", "taskOutputParameter", "runtimeValue")


def lift_platform_params(platform: dict[str, Any], element: str) -> tuple[dict[str, Any], list[tuple[str, g.Binding]]]:
    """Replace run-time references in kfp-kubernetes settings by extra task inputs `kfp-k8s-N`.

    KFP resolves `secretNameParameter: {componentInputParameter: x}` in the driver; we make the
    value an ordinary input of the task so the DAG passes it in like any other parameter.
    """
    extra: list[tuple[str, g.Binding]] = []

    def lift(ref: dict[str, Any]) -> Any:
        if ref.get("componentInputParameter") is None and ref.get("taskOutputParameter") is None:
            if not isinstance(ref.get("runtimeValue") or {}, dict):
                raise TranslateError("runtimeValue must be a mapping ({constant: ...})", element=element)
            constant = (ref.get("runtimeValue") or {}).get("constant")
            return constant if isinstance(constant, str) else {"json": constant}  # known now: inline
        name = f"kfp-k8s-{len(extra)}"
        if ref.get("componentInputParameter") is not None:
            if not isinstance(ref["componentInputParameter"], str):
                raise TranslateError("componentInputParameter must be a string", element=element)
            binding: g.Binding = g.FromInput(ref["componentInputParameter"])
        else:
            t = ref["taskOutputParameter"]
            if not isinstance(t, dict) or not isinstance(t.get("producerTask"), str) or not isinstance(t.get("outputParameterKey"), str):
                raise TranslateError("taskOutputParameter needs producerTask and outputParameterKey (strings)", element=element)
            binding = g.FromTask(t["producerTask"], t["outputParameterKey"])
        extra.append((name, binding))
        return {"param": name}

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(x) for x in node]
        if not isinstance(node, dict):
            return node
        if "mountPath" in node and "pvcNameParameter" not in node:  # pre-2.x pvcMount form
            if node.get("constant"):
                node = {**node, "pvcNameParameter": {"runtimeValue": {"constant": node["constant"]}}}
            elif node.get("componentInputParameter"):
                node = {**node, "pvcNameParameter": {"componentInputParameter": node["componentInputParameter"]}}
            elif node.get("taskOutputParameter"):
                node = {**node, "pvcNameParameter": {"taskOutputParameter": node["taskOutputParameter"]}}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if isinstance(value, dict) and (key.endswith("Parameter") or key.endswith("Json")) and any(
                k in value for k in _PARAM_SOURCES
            ):
                out[key] = lift(value)
            else:
                out[key] = walk(value)
        if "pvcNameParameter" in out:  # legacy duplicates of the same reference
            for legacy in ("componentInputParameter", "taskOutputParameter", "constant"):
                out.pop(legacy, None)
        return out

    return walk(platform), extra


class _Builder:
    def __init__(self, spec: ir.PipelineSpec, platform: dict[str, Any]):
        self.spec = spec
        self.executors_platform = (
            platform.get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {}).get("executors", {})
        )
        self.by_digest: dict[str, g.Component] = {}
        self._leaf: dict[str, tuple[g.Component, dict[str, Any]]] = {}  # container/importer components by IR name

    def _dedupe(self, name: str, interface: g.Interface, impl: g.Implementation, material: Any) -> g.Component:
        digest = hashlib.sha256(canonical_json(material).encode()).hexdigest()
        existing = self.by_digest.get(digest)
        if existing is not None:
            return existing
        comp = g.Component(name, interface, impl, digest)
        self.by_digest[digest] = comp
        return comp

    def component(self, name: str, path: str) -> tuple[g.Component, dict[str, Any]]:
        # A container or importer component is the same whichever task uses it: build it once
        # (a 10,000-task pipeline of 50 components hashes 50 specs, not 10,000).
        if name in self._leaf:
            return self._leaf[name]
        found = self._component(name, path)
        if found[0].impl.__class__ is not g.DagImpl:
            self._leaf[name] = found
        return found

    def _component(self, name: str, path: str) -> tuple[g.Component, dict[str, Any]]:
        element = f"task '{path}'"
        spec = self.spec.components.get(name)
        if spec is None:
            raise TranslateError(f"refers to component '{name}', which the pipeline does not define", element=element)
        interface = _interface(spec, f"component '{name}'")
        if spec.dag is not None:
            impl = self.dag(spec, path)
            checks.check_dag_interface(name, interface, impl.outputs, element)
            material = {
                "interface": spec.inputDefinitions.model_dump(mode="json") | {"out": spec.outputDefinitions.model_dump(mode="json")},
                "tasks": [[t.name, t.component.digest, repr(t)] for t in impl.tasks],
            }
            return self._dedupe(name, interface, impl, material), {}
        label = spec.executorLabel
        executor = self.spec.deploymentSpec.executors.get(label or "")
        if executor is None:
            raise TranslateError(f"component '{name}' has no executor '{label}'", element=element)
        platform = self.executors_platform.get(label, {}) or {}
        if executor.container is not None:
            c = executor.container
            impl = g.ContainerImpl(
                image=c.image,
                command=tuple(c.command),
                args=tuple(c.args),
                env=tuple((e.name, e.value) for e in c.env),
                resources=_resources(c.resources),
            )
        elif executor.importer is not None:
            imp = executor.importer
            if imp.artifactUri.runtimeParameter is not None:
                uri: g.Binding = g.FromInput(imp.artifactUri.runtimeParameter)
            else:
                uri = g.Const(imp.artifactUri.constant)
            impl = g.ImporterImpl(
                uri=uri,
                schema_title=imp.typeSchema.schemaTitle or "system.Artifact",
                schema_version=imp.typeSchema.schemaVersion or "0.0.1",
                metadata=imp.metadata,
                reimport=imp.reimport,
            )
        else:
            raise TranslateError(f"executor '{label}' has neither a container nor an importer", element=element)
        material = {
            "interface": [spec.inputDefinitions.model_dump(mode="json"), spec.outputDefinitions.model_dump(mode="json")],
            "executor": executor.model_dump(mode="json", exclude_none=True),
        }
        return self._dedupe(name, interface, impl, material), platform

    def dag(self, spec: ir.ComponentSpec, element: str) -> g.DagImpl:
        assert spec.dag is not None
        tasks = []
        for task_name, task in sorted(spec.dag.tasks.items()):
            tasks.append(self.task(task_name, task, spec, f"{element}/{task_name}" if element else task_name))
        known = {t.name for t in tasks}
        for t in tasks:
            for dep in t.after:
                if dep not in known:
                    raise TranslateError(f"depends on task '{dep}', which is not in the same DAG", element=f"task '{t.name}'")
        check_acyclic(tasks, element)
        outputs = []
        dag_outputs = spec.dag.outputs or ir.DagOutputs()
        for name, p in sorted(dag_outputs.parameters.items()):
            if p.valueFromParameter is not None:
                sources = (g.FromTask(p.valueFromParameter.producerSubtask, p.valueFromParameter.outputParameterKey),)
            elif p.valueFromOneof is not None:
                sources = tuple(g.FromTask(s.producerSubtask, s.outputParameterKey) for s in p.valueFromOneof.parameterSelectors)
            else:
                raise TranslateError("DAG output has no source", element=f"{element or 'pipeline'} output '{name}'")
            outputs.append(g.DagOutput(name, sources, False))
        for name, a in sorted(dag_outputs.artifacts.items()):
            sources = tuple(g.FromTask(s.producerSubtask, s.outputArtifactKey) for s in a.artifactSelectors)
            outputs.append(g.DagOutput(name, sources, True))
        check_references(tuple(tasks), tuple(outputs), element)
        checks.check_inputs_read(tuple(tasks), _interface(spec, element or "pipeline"), element)
        return g.DagImpl(tuple(tasks), tuple(outputs))

    def task(self, name: str, task: ir.Task, parent: ir.ComponentSpec, element: str) -> g.Task:
        where = f"task '{element}'"
        comp, platform = self.component(task.componentRef.name, element)
        iface = comp.interface
        params: list[tuple[str, g.Binding]] = []
        for pname, b in sorted(task.inputs.parameters.items()):
            # An input the component does not declare feeds placeholders outside the function
            # (resource fields, platform settings): KFP passes it as a string.
            pdef = iface.input_param(pname) or g.ParamDef(pname, g.STRING)
            params.append((pname, self.param_binding(b, pdef, task, f"{where} input '{pname}'")))
        artifacts: list[tuple[str, g.Binding]] = []
        for aname, b in sorted(task.inputs.artifacts.items()):
            if iface.input_artifact(aname) is None:
                raise TranslateError(f"binds artifact '{aname}', which component '{comp.name}' does not declare", element=where)
            if b.taskOutputArtifact is not None:
                artifacts.append((aname, g.FromTask(b.taskOutputArtifact.producerTask, b.taskOutputArtifact.outputArtifactKey)))
            elif b.componentInputArtifact is not None:
                artifacts.append((aname, g.FromInput(b.componentInputArtifact)))
            else:
                raise TranslateError("artifact input has no source", element=f"{where} artifact '{aname}'")
        retry = None
        if task.retryPolicy is not None and task.retryPolicy.maxRetryCount:
            rp = task.retryPolicy
            retry = g.Retry(rp.maxRetryCount or 0, rp.backoffDuration, rp.backoffFactor, rp.backoffMaxDuration)
        iterator = None
        if task.parameterIterator is not None:
            it = task.parameterIterator
            if it.items.raw is not None:
                try:
                    items: g.Binding = g.Const(json.loads(it.items.raw))
                except json.JSONDecodeError as exc:
                    raise TranslateError(f"loop items are not JSON: {exc}", element=where) from None
            elif it.items.inputParameter is not None:
                items = g.FromInput(it.items.inputParameter)
            else:
                raise TranslateError("loop has no items", element=where)
            limit = task.iteratorPolicy.parallelismLimit if task.iteratorPolicy else None
            iterator = g.Iterator(it.itemInput, items, False, limit or None)
        elif task.artifactIterator is not None:
            it2 = task.artifactIterator
            limit = task.iteratorPolicy.parallelismLimit if task.iteratorPolicy else None
            iterator = g.Iterator(it2.itemInput, g.FromInput(it2.items.inputArtifact), True, limit or None)
        platform, platform_params = lift_platform_params(platform, where)
        params.extend(platform_params)
        caching = task.cachingOptions
        trigger = task.triggerPolicy or ir.TriggerPolicy()
        result = g.Task(
            name=name,
            display_name=task.taskInfo.name,
            component=comp,
            params=tuple(params),
            artifacts=tuple(artifacts),
            after=tuple(task.dependentTasks),
            condition=trigger.condition,
            run_after_upstream_completed=trigger.strategy == "ALL_UPSTREAM_TASKS_COMPLETED",
            cache=bool(caching and caching.enableCache),
            cache_key=caching.cacheKey if caching else None,
            retry=retry,
            iterator=iterator,
            platform=platform,
        )
        if isinstance(comp.impl, g.DagImpl):
            checks.check_dag_task_inputs(result, where)
        return result

    def param_binding(self, b: ir.ParameterBinding, pdef: g.ParamDef, task: ir.Task, element: str) -> g.Binding:
        if b.parameterExpressionSelector is not None:
            match = _ITEM_SELECTOR.match(b.parameterExpressionSelector)
            if match is None or b.componentInputParameter is None:
                raise TranslateError(f"unsupported parameter expression {b.parameterExpressionSelector!r}", element=element)
            return g.FromInputField(b.componentInputParameter, match.group(1))
        if b.componentInputParameter is not None:
            return g.FromInput(b.componentInputParameter)
        if b.taskOutputParameter is not None:
            return g.FromTask(b.taskOutputParameter.producerTask, b.taskOutputParameter.outputParameterKey)
        if b.taskFinalStatus is not None:
            return g.FromTaskStatus(b.taskFinalStatus.producerTask)
        if b.runtimeValue is not None:
            return g.Const(coerce(b.runtimeValue.constant, pdef.type, element))
        raise TranslateError("parameter input has no source", element=element)


def build(spec: ir.PipelineSpec, platform: dict[str, Any] | None = None, source: str | None = None) -> g.Pipeline:
    builder = _Builder(spec, platform or {})
    root_iface = _interface(spec.root, "pipeline")
    if spec.root.dag is None:
        raise TranslateError("the pipeline root has no DAG", element="root")
    root_impl = builder.dag(spec.root, "")
    checks.check_dag_interface("root", root_iface, root_impl.outputs, "")
    root = g.Component("root", root_iface, root_impl, "root")
    return g.Pipeline(
        name=spec.pipelineInfo.name,
        display_name=spec.pipelineInfo.displayName,
        description=spec.pipelineInfo.description,
        root=root,
        sdk_version=spec.sdkVersion,
        source=source,
        workspace=((platform or {}).get("platforms", {}).get("kubernetes", {}).get("pipelineConfig") or {}).get("workspace"),
    )
