"""One flattened unit → one Tekton pipeline task with its embedded Task spec."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pydantic
from hera.workflows import models as k

from backends.argo.container import accelerator_resource
from backends.argo.resources import is_resource_stub
from translator import graph as g
from translator.errors import TranslateError

from . import cache as memo
from . import iterguard
from . import models as t
from . import platform as k8s
from . import resources as pvc
from . import steps as s
from .conditions import OUTCOME
from .flatten import PREFIX_RESULT, Unit, field_of
from .names import param_name, result_name
from .placeholders import Resolver, location_param, metadata_param
from .values import B64_PREFIX, encode, protect

SHIM_PARAM = s.delivery.SHIM_PARAM

EXECUTOR_INPUT_MARKER = "__KFP_EXECUTOR_INPUT__"
WORKSPACE = "kfp-workspace"


@dataclass(frozen=True)
class TaskOptions:
    artifact_store: str  # Secret with the S3 settings (docs/tekton.md)
    key_prefix: str
    transfer_image: str
    python_image: str
    workspace: bool = False
    enable_caching: bool | None = None  # None: as each task says; False/True: override all
    cache_max_age: int = 30 * 24 * 3600  # seconds (cache.max_age_seconds of --cache-max-age)
    gcs: s.Gcs = s.Gcs()  # how gs:// importer URIs are read (--gcs-credentials, --gcs-endpoint)


@dataclass
class Built:
    task: t.PipelineTask
    run_spec: t.PipelineTaskRunSpec | None = None
    notes: list[str] = field(default_factory=list)


INDEX = "kfpt-index"  # the iteration index of a unit inside a loop
VALUES_DIR = "/kfp/inputs/.kfp/values"  # dsl.OneOf parameters fetched from the store
METADATA_DIR = "/kfp/inputs/.kfp/metadata"  # and the metadata of dsl.OneOf artifacts


def _oneof_key(key_prefix: str, producer: str, output: str) -> str:
    """Where a dsl.OneOf branch also stores an output (fixed: its consumer computes it)."""
    return f"{key_prefix}/$(context.pipelineRun.name)/{producer}/oneof/{output}"
LIST = "kfpt-list"  # the whole run-time list of a loop


@dataclass
class _Inputs:
    """What one unit's Task declares and its pipeline task passes, and what its shim reads."""

    specs: list[t.ParamSpec] = field(default_factory=list)
    params: list[t.Param] = field(default_factory=list)
    shim: dict[str, dict] = field(default_factory=dict)  # extra shim SPEC entries per input
    arrays: list[str] = field(default_factory=list)  # inputs handed over as argv arrays
    array_parts: dict[str, list[str]] = field(default_factory=dict)  # more array params of one input (batches)
    include: dict[str, list[str]] = field(default_factory=dict)  # static loop: values per iteration
    needs_list: bool = False
    needs_nest: bool = False  # reads items of a nest with a run-time level: the nest's lists
    lists: list[tuple[str, str, str]] = field(default_factory=list)  # collected artifacts: (input, store prefix, artifact)
    oneofs: list[tuple[str, list[str]]] = field(default_factory=list)  # (local path, branch keys)
    spill: str | None = None  # the key prefix for output parameters over Tekton's result limit
    refs: list[tuple[str, str]] = field(default_factory=list)  # (local file, value) of task outputs maybe stored
    outer: dict[str, str] = field(default_factory=dict)  # collected out of two loops: input -> outer iterations param
    remote: bool = False  # an artifact may be a gs:// importer URI: the fetch step has the GCS settings
    prepared: list[str] = field(default_factory=list)  # container inputs whose placeholder kfpt-inputs writes


def build(unit: Unit, opts: TaskOptions) -> Built:
    if unit.eval_expr is not None:
        return _eval_task(unit, opts)
    if unit.items_of is not None:
        return _items_task(unit, opts)
    impl = unit.component.impl
    assert isinstance(impl, g.ContainerImpl)
    if is_resource_stub(impl):  # kfp-kubernetes CreatePVC / DeletePVC
        return Built(pvc.build(unit, opts.python_image))
    iface = unit.component.interface
    element = unit.element
    if unit.status_input and not unit.final:
        raise TranslateError("PipelineTaskFinalStatus outside an exit handler", element=element)
    python = impl.is_python_function
    ins = _param_inputs(unit, python, opts.key_prefix)
    if not python:  # container components read unbound inputs' defaults through placeholders
        for p in iface.input_params:
            if p.name not in unit.params and p.has_default and p.default is not None:
                ins.specs.append(t.ParamSpec(name=param_name(p.name), description=f"KFP {p.type}",
                                             default=encode(p.default, p.type)))
    fetch = _artifact_inputs(unit, python, ins, opts.key_prefix)
    if not python:  # a whole artifact placeholder of a single artifact: a list of one, as on Argo
        ins.prepared += sorted(n for n in _artifact_list_placeholders(impl) if n in unit.artifacts
                               and n not in ins.prepared)
    if python or ins.prepared:  # the shim, once per manifest: a pipeline parameter every shimmed task reads
        ins.specs.append(t.ParamSpec(name=SHIM_PARAM, description="the pod shim (translator/runtime/delivery.py)"))
        ins.params.append(t.Param(name=SHIM_PARAM, value=f"$(params.{SHIM_PARAM})"))
    if unit.loop is not None:
        ins.specs.append(t.ParamSpec(name=INDEX, description="iteration index of the loop"))
        if ins.needs_list:
            ins.specs.append(t.ParamSpec(name=LIST, description="the loop's items (JSON list)"))
            ins.params.append(t.Param(name=LIST, value=unit.loop.items.text))
        if ins.needs_nest:
            for j, value in enumerate(unit.loop.lists):
                ins.specs.append(t.ParamSpec(name=f"{LIST}-{j}", description="items of a level of the nested loops"))
                ins.params.append(t.Param(name=f"{LIST}-{j}", value=value.text))
    ins.spill = _spill(unit, opts.key_prefix, python)
    resolver = Resolver(params=set(unit.params) if python else
                        set(unit.params) | {p.name for p in iface.input_params if p.has_default},
                        artifacts=set(unit.artifacts), output_params={p.name for p in iface.output_params},
                        output_artifacts={a.name for a in iface.output_artifacts}, element=element,
                        task_name=unit.task.name,
                        prepared={n: f"$(steps.{INPUTS_STEP}.results.i{j})" for j, n in enumerate(ins.prepared)})
    settings = _settings(unit, resolver)
    main = _main_step(unit, impl, resolver, settings, python, ins)
    steps = ([s.fetch_step(opts.transfer_image, opts.artifact_store, fetch, ins.oneofs, ins.lists, ins.refs,
                           opts.gcs if ins.remote else None)]
             if fetch or ins.oneofs or ins.lists or ins.refs else []) + [main]
    cached = _cached(unit, opts)
    store = _store(unit, opts, python, cached)
    if store is not None:
        steps.append(store)
    vols, mounts = s.io_volumes()
    spec = t.EmbeddedTask(
        metadata=_metadata(settings),
        params=ins.specs or None,
        results=_results(unit) or None,
        step_template=t.StepTemplate(volume_mounts=mounts),
        steps=steps,
        volumes=vols + settings.volumes,
        workspaces=[t.WorkspaceDeclaration(name=WORKSPACE, mount_path="/kfp-workspace")] if opts.workspace else None,
    )
    task = t.PipelineTask(
        name=unit.name,
        display_name=unit.task.display_name if unit.task.display_name != unit.task.name else None,
        task_spec=spec,
        params=ins.params or None,
        matrix=_matrix(unit, ins),
        when=unit.when or None,
        run_after=sorted(unit.run_after) or None,
        retries=unit.task.retry.max_retry_count if unit.task.retry else None,
        timeout=f"{int(settings.active_deadline_seconds.root)}s" if settings.active_deadline_seconds else None,
        workspaces=[t.WorkspacePipelineTaskBinding(name=WORKSPACE, workspace=WORKSPACE)] if opts.workspace else None,
    )
    run_spec = _run_spec(unit.name, settings)
    if cached:  # the lookup before the component; the component and kfpt-store skipped on a hit
        named = main.model_copy(update={"env": [e for e in main.env or [] if e.name != "KFPT_SPILL"] or None})
        digest = memo.task_digest(spec.model_copy(update={"steps": [named]}), task, run_spec)  # no names
        at = steps.index(main)
        steps[at:at + 1] = [_lookup(unit, opts, ins, fetch, digest), main.model_copy(update={"when": memo.UNLESS_HIT})]
        spec = spec.model_copy(update={"steps": steps})
    if ins.prepared:  # right before the component (after the lookup, which hashes what it moves)
        prep = _inputs_step(unit, ins, opts.python_image)
        if cached:
            prep = prep.model_copy(update={"when": memo.UNLESS_HIT})
        steps.insert(next(i for i, st in enumerate(steps) if st.name == "main"), prep)
        spec = spec.model_copy(update={"steps": steps})
    if len(steps) > 1:  # transfer steps: they read the shell functions from the pipeline parameter
        library = t.ParamSpec(name=s.LIBRARY_PARAM, description="the transfer steps' shell functions")
        spec = spec.model_copy(update={"params": [*(spec.params or []), library]})
        params = [*(task.params or []), t.Param(name=s.LIBRARY_PARAM, value=f"$(params.{s.LIBRARY_PARAM})")]
        task = task.model_copy(update={"task_spec": spec, "params": params})
    if unit.iter_guards:  # a condition on per-iteration values: decided inside each TaskRun
        task = iterguard.apply(task, unit, opts.python_image)
    return Built(task, run_spec)


def _cached(unit: Unit, opts: TaskOptions) -> bool:
    """KFP's per-task caching, or the run's override. A PipelineTaskFinalStatus input holds this
    run's own status (and name): such a task never caches, as on Argo it never hits."""
    wanted = unit.task.cache if opts.enable_caching is None else opts.enable_caching
    return bool(wanted) and unit.status_input is None


def _prefix(unit: Unit, key_prefix: str) -> tuple[str, str | None]:
    """Where this TaskRun stores its output artifacts, and the iteration index inside a loop."""
    run = f"{key_prefix}/$(context.pipelineRun.name)/{unit.name}"
    if unit.loop is not None:
        index = f"$(params.{INDEX})"
        return f"{run}/i{index}", index
    return f"{run}/$(context.taskRun.name)", None


def _lookup(unit: Unit, opts: TaskOptions, ins: _Inputs, fetch: list[tuple[str, str, bool]], digest: str) -> t.Step:
    """The cache step: the memo key over every input the component reads (its params, the
    fetched artifacts' content), not over where they are stored or how they are delivered."""
    skip = {SHIM_PARAM} | {location_param(n) for n in unit.artifacts}
    if not (ins.needs_list or ins.needs_nest or ins.arrays):  # the index matters only to pick from a list or an array
        skip.add(INDEX)
    params = [(p.name, f"$(params.{p.name})") for p in ins.specs if p.name not in skip and p.type != "array"]
    arrays = [(p.name, p.name) for p in ins.specs if p.name not in skip and p.type == "array"]
    contents = [(name, f"{s.INPUTS_DIR}/{name}") for name, _, _ in fetch] + \
        [(name, s.list_dir(name)) for name, _, _ in ins.lists] + \
        [(path.removeprefix(s.INPUTS_DIR + "/"), path) for path, _ in ins.oneofs]  # labels: no paths of this pod
    iface = unit.component.interface
    publish: list[tuple[str, str, bool]] = []
    for name in sorted(unit.publish):
        if iface.output_artifact(name) is not None:
            publish += [(name, name, True),
                        (f"{s.RESULTS_DIR}/{result_name(name + '-metadata')}", name + ".metadata", False)]
        else:
            publish.append((f"{s.RESULTS_DIR}/{result_name(name)}", name, False))
    prefix, index = _prefix(unit, opts.key_prefix)
    run = f"{opts.key_prefix}/$(context.pipelineRun.name)/{unit.name}"
    return memo.lookup_step(opts.transfer_image, opts.artifact_store, s.HEAD, s.library_env(), digest, prefix, index, params, arrays, contents, len(iface.output_artifacts),
                            publish, f"{run}/oneof")


def _param_inputs(unit: Unit, python: bool, key_prefix: str) -> _Inputs:
    iface = unit.component.interface
    ins = _Inputs()
    loop = unit.loop
    settings_of = k8s.setting_of(unit)
    for name, value in sorted(unit.params.items()):
        pdef = iface.input_param(name)
        ptype = pdef.type if pdef else g.STRING
        pname = param_name(name)
        where = f"{unit.element} input '{name}'"
        if k8s.is_setting_input(name):  # a kfp-kubernetes setting's run-time value: Tekton substitutes it
            k8s.check_value(name, value, unit, settings_of.get(name, "?"))
        if value.oneof:  # dsl.OneOf: fetched from the store, from the branch that ran
            if not python:
                raise TranslateError("a container component reading a dsl.OneOf value is not supported on Tekton yet",
                                     element=where)
            ins.shim[name] = {"file": f"{VALUES_DIR}/{name}"}
            ins.oneofs.append((f"{VALUES_DIR}/{name}", [_oneof_key(key_prefix, u, o) for u, o in value.oneof]))
            continue
        if value.item is not None:  # this iteration's loop item (or a field of it)
            assert loop is not None
            if loop.iterations is not None:  # literal lists: the value of each iteration in matrix.include
                ins.specs.append(t.ParamSpec(name=pname, description=f"KFP {ptype}"))
                ins.include[pname] = [protect(encode(field_of(items[value.item_level - 1], value.item, where), ptype))
                                      for _, items in loop.iterations]
                continue
            if not python:  # its placeholder: the item as the shim picks it, written by kfpt-inputs
                ins.prepared.append(name)
            if loop.parent is None:
                ins.shim[name] = {"loopItem": {"listEnv": "KFPT_LIST", "indexEnv": "KFPT_INDEX", "field": value.item}}
                ins.needs_list = True
            else:
                ins.shim[name] = {"nestItem": {"sources": loop.sources, "listEnv": "KFPT_LIST_", "indexEnv": "KFPT_INDEX",
                                               "level": value.item_level, "field": value.item}}
                ins.needs_nest = True
            continue
        if value.loop is not None or value.collected is not None:
            chain = loop.chain() if loop is not None else []
            if value.loop is not None and value.loop not in chain:
                raise TranslateError("reads a per-iteration value outside its loop without dsl.Collected", element=where)
            if not python:  # its placeholder: the value as the shim picks it, written by kfpt-inputs
                ins.prepared.append(name)
            ins.specs.append(t.ParamSpec(name=pname, type="array", description=f"KFP {ptype}, one per iteration"))
            ins.params.append(t.Param(name=pname, value=value.text))
            ins.arrays.append(name)
            for j, part in enumerate(value.parts, 1):  # the other batches of the loop
                ins.specs.append(t.ParamSpec(name=f"{pname}-{j}", type="array"))
                ins.params.append(t.Param(name=f"{pname}-{j}", value=part))
                ins.array_parts.setdefault(name, []).append(f"{pname}-{j}")
            if value.loop is not None:
                depth = len(chain) - chain.index(value.loop)  # the producer's loop depth
                ins.shim[name] = {"perIteration": {"indexEnv": "KFPT_INDEX",
                                                   **({"depth": depth} if depth != loop.depth else {})}}
            else:
                how = {"type": value.collected}
                if (value.levels, value.select) != (1, 0):
                    how.update(depth=value.levels, select=value.select, indexEnv="KFPT_INDEX")
                if value.outer is not None:  # the outer loop's iterations, as an array section
                    ins.specs.append(t.ParamSpec(name=f"{pname}-outer", type="array"))
                    ins.params.append(t.Param(name=f"{pname}-outer", value=list(value.outer)
                                              if isinstance(value.outer, tuple) else value.outer))
                    ins.outer[name] = f"{pname}-outer"
                ins.shim[name] = {"tektonCollected": how}
            continue
        ins.specs.append(t.ParamSpec(name=pname, description=f"KFP {ptype}"))
        text = value.text
        if python and value.producer is not None and text.startswith("$(tasks.") and text.endswith(")") \
                and not k8s.is_setting_input(name):
            ins.refs.append((f"{VALUES_DIR}/{name}", f"$(params.{pname})"))  # maybe a reference to a large value
            ins.shim[name] = {"refFile": f"{VALUES_DIR}/{name}"}
        if name == unit.status_input:
            text = ",".join(f"$(tasks.{u}.status)" for u in unit.status_of) or "None"
        ins.params.append(t.Param(name=pname, value=text))
    return ins


def _artifact_inputs(unit: Unit, python: bool, ins: _Inputs, key_prefix: str) -> list[tuple[str, str, bool]]:
    iface = unit.component.interface
    fetch: list[tuple[str, str, bool]] = []
    for name, art in sorted(unit.artifacts.items()):
        adef = iface.input_artifact(name)
        where = f"{unit.element} artifact '{name}'"
        if art.refused:
            raise TranslateError(art.refused, element=where)
        if art.oneof:
            if not python:
                raise TranslateError("a container component reading a dsl.OneOf artifact is not supported on Tekton "
                                     "yet", element=where)
            keys = [_oneof_key(key_prefix, u, o) for u, o in art.oneof]
            ins.oneofs.append((f"{s.INPUTS_DIR}/{name}", keys))
            ins.oneofs.append((f"{METADATA_DIR}/{name}", [k_ + ".metadata" for k_ in keys]))
            ins.shim[name] = {"metadataFile": f"{METADATA_DIR}/{name}"}
            continue
        loc, meta = location_param(name), metadata_param(name)
        if art.collected or (adef is not None and adef.is_list):
            if not (art.collected and adef is not None and adef.is_list):
                raise TranslateError(f"artifact input '{name}': a list of artifacts (dsl.Collected) bound to a "
                                     "single artifact, or the reverse", element=where)
            if not python:  # its placeholder: the JSON list kfpt-inputs writes
                ins.prepared.append(name)
            ins.specs += [t.ParamSpec(name=loc), t.ParamSpec(name=meta, type="array")]
            ins.params += [t.Param(name=loc, value=art.location.removesuffix("/i")), t.Param(name=meta, value=art.metadata)]
            ins.lists.append((name, f"$(params.{loc})", art.name))
            ins.arrays.append(name)
            how = {"dir": s.list_dir(name), "name": art.name}
            if art.select:
                how.update(select=art.select, indexEnv="KFPT_INDEX")
            ins.shim[name] = {"tektonList": how}
            continue
        ins.specs.append(t.ParamSpec(name=loc))
        ins.params.append(t.Param(name=loc, value=art.location))
        location = f"$(params.{loc})"
        if art.loop is not None:  # a same-loop producer: its key holds this iteration's index
            if unit.loop is None or art.depth != unit.loop.depth or art.loop not in unit.loop.chain():
                raise TranslateError("reads an artifact made in an enclosing loop from inside a nested loop, which "
                                     "is not supported on Tekton yet", element=where)
            if not python:
                raise TranslateError("a container component reading an artifact made in the same loop is not "
                                     "supported on Tekton yet", element=where)
            location += f"$(params.{INDEX})/{art.name}"
            ins.specs.append(t.ParamSpec(name=meta, type="array"))
            ins.arrays.append(name)
            ins.shim[name] = {"perIteration": {"indexEnv": "KFPT_INDEX"}}
        else:
            ins.specs.append(t.ParamSpec(name=meta))
        ins.params.append(t.Param(name=meta, value=art.metadata))
        ins.remote = ins.remote or art.remote
        fetch.append((name, location, not (adef and adef.optional)))
    return fetch



def _matrix(unit: Unit, ins: _Inputs) -> t.MatrixParams | None:
    loop = unit.loop
    if loop is None:
        return None
    if loop.iterations is None:
        return t.MatrixParams(params=[t.Param(name=INDEX, value=f"$(tasks.{loop.items_unit}.results.indices[*])")])
    entries = []
    for k, (index, _) in enumerate(loop.iterations):
        params = [t.Param(name=INDEX, value=".".join(map(str, index)))]
        params += [t.Param(name=n, value=values[k]) for n, values in sorted(ins.include.items())]
        entries.append(t.MatrixInclude(name="iteration-" + "-".join(map(str, index)), params=params))
    if not entries:
        raise TranslateError("the loop has no items (a Tekton matrix needs at least one)", element=loop.element)
    return t.MatrixParams(include=entries)


def _results(unit: Unit) -> list[t.TaskResult]:
    iface = unit.component.interface
    results = [t.TaskResult(name=result_name(p.name), description=f"KFP {p.type}") for p in iface.output_params]
    results += [t.TaskResult(name=result_name(a.name + "-metadata")) for a in iface.output_artifacts]
    if iface.output_artifacts and unit.loop is None:
        results.append(t.TaskResult(name=PREFIX_RESULT, description="artifact store key prefix of the outputs"))
    return results


def _store(unit: Unit, opts: TaskOptions, python: bool, cached: bool = False) -> t.Step | None:
    iface = unit.component.interface
    copies = [] if python else [(f"{s.OUTPUTS_DIR}/{p.name}", result_name(p.name)) for p in iface.output_params]
    meta = [] if python else [result_name(a.name + "-metadata") for a in iface.output_artifacts]
    publish = []
    for name in sorted(unit.publish):
        if iface.output_artifact(name) is not None:
            publish += [(f"{s.OUTPUTS_DIR}/{name}", name),
                        (f"{s.RESULTS_DIR}/{result_name(name + '-metadata')}", name + ".metadata")]
        else:
            publish.append((f"{s.RESULTS_DIR}/{result_name(name)}", name))
    spill = _spill(unit, opts.key_prefix, python)
    if not iface.output_artifacts and not copies and not publish and not cached and spill is None:
        return None
    run = f"{opts.key_prefix}/$(context.pipelineRun.name)/{unit.name}"
    prefix, index = _prefix(unit, opts.key_prefix)
    cache = [r.name for r in _results(unit) if r.name != PREFIX_RESULT] if cached else None
    return s.store_step(opts.transfer_image, opts.artifact_store, prefix,
                        [a.name for a in iface.output_artifacts], copies, meta, index, publish, f"{run}/oneof",
                        cache, spill)


def _spill(unit: Unit, key_prefix: str, python: bool) -> str | None:
    """Where a Python task outside loops stores output parameters over Tekton's result limit
    (docs/tekton.md, "Results size"); None when it cannot have any."""
    if not python or unit.loop is not None or not unit.component.interface.output_params:
        return None
    return f"{key_prefix}/$(context.pipelineRun.name)/{unit.name}/$(context.taskRun.name)/.results"


def _main_step(unit: Unit, impl: g.ContainerImpl, resolver: Resolver, settings, python: bool,
               ins: _Inputs) -> t.Step:
    env = [k.EnvVar(name=n, value=resolver.string(v)) for n, v in impl.env]
    if unit.loop is not None:
        env.append(k.EnvVar(name="KFPT_INDEX", value=f"$(params.{INDEX})"))
        if ins.needs_list:
            env.append(k.EnvVar(name="KFPT_LIST", value=f"$(params.{LIST})"))
        if ins.needs_nest:
            env += [k.EnvVar(name=f"KFPT_LIST_{j}", value=f"$(params.{LIST}-{j})") for j in range(len(unit.loop.lists))]
    if python:
        spec, spec_env, arrays = _shim_spec(unit, ins)
        env += [s.shim_env(), *spec_env]
        if ins.spill is not None:  # where output parameters over Tekton's result limit go
            spec["spill"] = {"env": "KFPT_SPILL", "dir": s.SPILL_DIR}
            env.append(k.EnvVar(name="KFPT_SPILL", value=ins.spill))
        command = s.shim_command(spec, arrays) + [_python_part(x, resolver) for x in impl.command]
        args = [EXECUTOR_INPUT_MARKER if x == "{{$}}" else _python_part(x, resolver) for x in impl.args]
    else:
        command = resolver.argv(impl.command)
        args = resolver.argv(impl.args)
    env += settings.env
    return t.Step(
        name="main",
        image=impl.image,
        command=command or None,
        args=args or None,
        env=env or None,
        env_from=settings.env_from or None,
        compute_resources=_resources(impl.resources, settings, unit.element),
        volume_mounts=settings.volume_mounts or None,
        image_pull_policy=settings.image_pull_policy,
    )


def _python_part(text: str, resolver: Resolver) -> str:
    """User code and KFP's own command: base64 when Tekton could read a variable in it (the
    shim decodes argv), else kubelet-escaped."""
    if "{{$." in text:
        return resolver.string(text)
    if "$(" in text or text.startswith(B64_PREFIX):
        import base64

        return B64_PREFIX + base64.b64encode(text.encode()).decode()
    return text.replace("$", "$$")


def _shim_spec(unit: Unit, ins: _Inputs) -> tuple[dict, list[k.EnvVar], list[tuple[str, str]]]:
    iface = unit.component.interface
    env: list[k.EnvVar] = []
    arrays: list[tuple[str, str]] = []
    in_params: dict = {}
    for i, name in enumerate(sorted(n for n in unit.params if iface.input_param(n))):
        var = f"KFPT_P_{i}"
        entry: dict = {"type": iface.input_param(name).type, "env": var, **ins.shim.get(name, {})}
        if name == unit.status_input:
            entry["tektonStatus"] = {"task": "", "runEnv": "KFPT_RUN"}
            env.append(k.EnvVar(name="KFPT_RUN", value="$(context.pipelineRun.name)"))
        in_params[name] = entry
        if name in ins.arrays:
            arrays += [(var, p) for p in [param_name(name), *ins.array_parts.get(name, [])]]
            if name in ins.outer:
                arrays.append((var + "_OUTER", ins.outer[name]))
                entry["tektonCollected"]["outerEnv"] = var + "_OUTER"
        elif "loopItem" not in entry and "nestItem" not in entry and "file" not in entry:
            env.append(k.EnvVar(name=var, value=f"$(params.{param_name(name)})"))
    in_arts: dict = {}
    for i, name in enumerate(sorted(unit.artifacts)):
        a = iface.input_artifact(name)
        var = f"KFPT_M_{i}"
        in_arts[name] = {"schemaTitle": a.schema_title, "schemaVersion": a.schema_version,
                         "path": f"{s.INPUTS_DIR}/{name}", "metadataEnv": var, "isList": a.is_list,
                         **ins.shim.get(name, {})}
        if name in ins.arrays:
            arrays.append((var, metadata_param(name)))
        elif "metadataFile" not in in_arts[name]:
            env.append(k.EnvVar(name=var, value=f"$(params.{metadata_param(name)})"))
    spec = {
        "version": 1,
        "engine": "tekton",
        **({"loopIndexEnv": "KFPT_INDEX"} if unit.loop is not None else {}),
        "marker": EXECUTOR_INPUT_MARKER,
        "inputs": {"parameters": in_params, "artifacts": in_arts},
        "outputs": {
            "parameters": {p.name: {"type": p.type, "outputFile": f"{s.OUTPUTS_DIR}/{p.name}",
                                    "argoPath": f"{s.RESULTS_DIR}/{result_name(p.name)}"}
                           for p in iface.output_params},
            "artifacts": {a.name: {"schemaTitle": a.schema_title, "schemaVersion": a.schema_version,
                                   "path": f"{s.OUTPUTS_DIR}/{a.name}",
                                   "metadataPath": f"{s.RESULTS_DIR}/{result_name(a.name + '-metadata')}",
                                   "digestPath": f"{s.SHIM_DIR}/artifacts/{a.name}.digest"}
                          for a in iface.output_artifacts},
            "executorOutput": f"{s.SHIM_DIR}/executor/executor_output.json",
        },
    }
    return spec, env, arrays


INPUTS_STEP = "kfpt-inputs"
_ARTIFACT_LIST = re.compile(r"""\{\{\$\.inputs\.artifacts\[['"]([^'"]+)['"]\]\}\}""")


def _artifact_list_placeholders(impl: g.ContainerImpl) -> set[str]:
    """Inputs a container component reads whole (`{{$.inputs.artifacts['x']}}`), also inside
    Concat/IfPresent, whose JSON text holds the placeholder as written."""
    return {m.group(1) for part in impl.command + impl.args for m in _ARTIFACT_LIST.finditer(part)}


def _inputs_step(unit: Unit, ins: _Inputs, image: str) -> t.Step:
    """The pod shim in its placeholder mode, for a container component reading values that only
    the shim can pick (a loop's aggregated results, dsl.Collected, lists of artifacts): it
    builds the ExecutorInput as for a Python component and writes each such placeholder's text
    (KFP's: a parameter's canonical text, an artifact list's JSON of {metadata, name, uri}) as a
    step result, which Tekton's entrypoint substitutes into the component's command and args
    (`$(steps.kfpt-inputs.results.iN)`, stable; bounded by the 4096-byte termination message)."""
    spec, env, arrays = _shim_spec(unit, ins)
    spec["outputs"] = {"parameters": {}, "artifacts": {}, "executorOutput": f"{s.SHIM_DIR}/inputs/executor_input.json"}
    iface = unit.component.interface
    spec["placeholders"] = {f"KFPT_SR_{j}": {"parameter": n} if iface.input_param(n) else {"artifacts": n}
                            for j, n in enumerate(ins.prepared)}
    env = [s.shim_env(), *env, *[k.EnvVar(name=f"KFPT_SR_{j}", value=f"$(step.results.i{j}.path)")
                                 for j in range(len(ins.prepared))]]
    loop = unit.loop
    if loop is not None:
        env.append(k.EnvVar(name="KFPT_INDEX", value=f"$(params.{INDEX})"))
        if ins.needs_list:
            env.append(k.EnvVar(name="KFPT_LIST", value=f"$(params.{LIST})"))
        if ins.needs_nest:
            env += [k.EnvVar(name=f"KFPT_LIST_{j}", value=f"$(params.{LIST}-{j})") for j in range(len(loop.lists))]
    return t.Step(name=INPUTS_STEP, image=image, command=s.shim_command(spec, arrays), env=env,
                  results=[t.StepResult(name=f"i{j}") for j in range(len(ins.prepared))])


def _resources(res: g.Resources, settings, element: str) -> k.ResourceRequirements | None:
    requests: dict[str, k.Quantity] = {}
    limits: dict[str, k.Quantity] = {}
    for target, key, value in ((requests, "cpu", res.cpu_request), (requests, "memory", res.memory_request),
                               (limits, "cpu", res.cpu_limit), (limits, "memory", res.memory_limit)):
        if value:
            if "{{$" in value:
                raise TranslateError("a resource chosen at run time is not supported on Tekton "
                                     "(Tekton does not substitute parameters in computeResources)", element=element)
            target[key] = k.Quantity(value)
    if res.accelerator_type:
        if "{{$" in res.accelerator_type or "{{$" in (res.accelerator_count or ""):
            raise TranslateError("an accelerator chosen at run time is not supported on Tekton", element=element)
        name, selector = accelerator_resource(res.accelerator_type)
        limits[name] = k.Quantity(res.accelerator_count or "1")
        if selector:
            settings.node_selector.setdefault(*selector)
    if not requests and not limits:
        return None
    return k.ResourceRequirements(requests=requests or None, limits=limits or None)


def _settings(unit: Unit, resolver: Resolver):
    """kfp-kubernetes settings, mapped as on Argo (backends/argo/platform.py); values chosen at
    run time as Task params Tekton substitutes (backends/tekton/platform.py)."""
    try:  # the platform spec is free-form IR: a setting of the wrong shape is bad input
        return k8s.settings(unit, resolver)
    except (AttributeError, KeyError, TypeError, ValueError, pydantic.ValidationError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TranslateError(f"invalid kfp-kubernetes setting ({type(exc).__name__}: {detail})",
                             element=unit.element) from None


def _metadata(settings) -> dict | None:
    meta = {}
    if settings.labels:
        meta["labels"] = dict(settings.labels)
    if settings.annotations:
        meta["annotations"] = dict(settings.annotations)
    return meta or None


def _run_spec(name: str, settings) -> t.PipelineTaskRunSpec | None:
    pull = settings.pod_patch.get("imagePullSecrets")
    template = t.PodTemplate(
        node_selector=dict(settings.node_selector) or None,
        tolerations=settings.tolerations or None,
        affinity=settings.affinity,
        security_context=settings.security_context,
        image_pull_secrets=[k.LocalObjectReference(name=p["name"]) for p in pull] if pull else None,
    )
    if template == t.PodTemplate():
        return None
    return t.PipelineTaskRunSpec(pipeline_task_name=name, pod_template=template)


def _items_task(unit: Unit, opts: TaskOptions) -> Built:
    """The iterations of a loop over a run-time list: `indices` ["0", "1", ...] for the matrix;
    of a nest of loops: every "i.j" (docs/tekton.md, "Nested loops")."""
    loop = unit.items_of
    if loop.items is None:
        specs, params, env, args = [], [], [], []
        for j, (source, value) in enumerate(zip(_list_sources(loop), loop.lists)):
            name = f"{LIST}-{j}"
            if source.get("artifacts"):  # a loop over collected artifacts: the producer's iterations
                specs.append(t.ParamSpec(name=name, type="array"))
                args += [f"--kfpt-array=KFPT_LIST_{j}", f"$(params.{name}[*])"]
            else:
                specs.append(t.ParamSpec(name=name))
                env.append(k.EnvVar(name=f"KFPT_LIST_{j}", value=f"$(params.{name})"))
            params.append(t.Param(name=name, value=value.text))
        spec = t.EmbeddedTask(params=specs, results=[t.TaskResult(name="indices", type="array")],
                              steps=[s.nest_items_step(opts.python_image, loop.sources, env, args)])
        task = t.PipelineTask(name=unit.name, task_spec=spec, params=params, when=unit.when or None,
                              run_after=sorted(unit.run_after) or None)
        return Built(task)
    spec = t.EmbeddedTask(params=[t.ParamSpec(name=LIST)], results=[t.TaskResult(name="indices", type="array")],
                          steps=[s.items_step(opts.python_image, LIST)])
    task = t.PipelineTask(name=unit.name, task_spec=spec, params=[t.Param(name=LIST, value=unit.items_of.items.text)],
                          when=unit.when or None, run_after=sorted(unit.run_after) or None)
    return Built(task)


def _list_sources(loop) -> list[dict]:
    """For each of a nest's lists, the level source that names it."""
    by_list = {src["list"]: src for src in loop.sources if "list" in src}
    return [by_list.get(j, {}) for j in range(len(loop.lists))]


def _eval_task(unit: Unit, opts: TaskOptions) -> Built:
    param_specs, params, env = [], [], {}
    for var, value in sorted(unit.eval_env.items()):
        pname = var.lower().replace("_", "-")
        param_specs.append(t.ParamSpec(name=pname))
        params.append(t.Param(name=pname, value=value.text))
        env[var] = f"$(params.{pname})"
    spec = t.EmbeddedTask(params=param_specs or None, results=[t.TaskResult(name=OUTCOME)],
                          steps=[s.eval_step(opts.python_image, unit.eval_expr, env)])
    task = t.PipelineTask(name=unit.name, task_spec=spec, params=params or None, when=unit.when or None,
                          run_after=sorted(unit.run_after) or None)
    return Built(task)
