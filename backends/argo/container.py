"""One KFP container component (as one task binds it) → one Argo container template.

Lightweight Python components keep KFP's own command; the pod shim (translator/runtime/podshim.py)
wraps it to build the ExecutorInput from Argo's parameters and to turn the executor output into
Argo output parameters. Container components get their placeholders resolved to Argo variables.
"""
from __future__ import annotations

import base64
import json
import re

import pydantic
from dataclasses import dataclass

from hera.workflows import models as m

from translator import graph as g
from translator.errors import TranslateError
from translator.runtime.delivery import shim_command

from . import placeholders as ph
from .names import param_name
from .platform import PodSettings, pod_settings
from .values import ABSENT, encode

EXECUTOR_INPUT_MARKER = "__KFP_EXECUTOR_INPUT__"
B64_PREFIX = ph.B64_PREFIX
OUTPUTS_VOLUME = "kfp-outputs"


@dataclass(frozen=True)
class TemplateRequest:
    """Everything that makes two tasks need different templates."""

    component: g.Component
    params: tuple[str, ...]  # bound input parameters (declared or not)
    artifacts: tuple[str, ...]  # bound input artifacts
    cache: bool
    retry: g.Retry | None
    platform_json: str
    task_name: str  # only part of the identity when the component reads {{$.pipeline_task_name}}
    collected: tuple[tuple[str, int, str], ...] = ()  # (input, list depth, leaf KFP type)
    keyed_outputs: tuple[str, ...] = ()  # output artifacts collected out of a loop: report their keys
    listed_inputs: tuple[str, ...] = ()  # input artifacts that are collections (keys + prefix)


def kube_escape(text: str) -> str:
    """The kubelet rewrites `$$` to `$` and expands `$(VAR)` in command, args and env values:
    doubling every `$` makes literal text arrive exactly as written."""
    return text.replace("$", "$$")


def b64_wrap(text: str) -> str:
    """Text Argo must not read, in the form the pod shim decodes."""
    return B64_PREFIX + base64.b64encode(text.encode()).decode()


# What Argo would substitute in a value it passes on (the pod shim's ARGO_TAG is its twin; the
# shim is self-contained, so it keeps its own copy).
ARGO_TAG = re.compile(r"\{\{\s*(=|(workflow|inputs|outputs|pod|tasks|steps|item|node|retries|lastRetry|cronworkflow)\b)")


def protect(text: str) -> str:
    """A value Argo passes on as it is, or base64 when Argo would rewrite it (its own `{{...}}`
    tags), when it already looks encoded, or when it holds ABSENT: the pod shim and the
    container-component expression (`placeholders.Resolver.param_ref`) decode it, so no user
    value is ever altered or mistaken for None."""
    if ARGO_TAG.search(text) or text.startswith(B64_PREFIX) or ABSENT in text:
        return b64_wrap(text)
    return text


def _guard_braces(text: str) -> str:
    """Argo substitutes known `{{...}}` variables anywhere in a template, with no escape; user
    text holding braces travels base64-encoded and the pod shim decodes it."""
    if "{{" in text or "}}" in text:
        return b64_wrap(text)
    return kube_escape(text)


def runtime_value(param: str) -> str:
    """A run-time value for the pod shim: base64 of the parameter, computed by Argo itself.

    Inserting the raw value would expose it to Argo's later substitution passes (a value
    holding `{{workflow.name}}` would be rewritten) and to the kubelet's `$(VAR)` expansion;
    base64 text contains neither braces nor `$`.
    """
    return B64_PREFIX + "{{=sprig.b64enc(inputs.parameters[%s])}}" % json.dumps(param)


def _resources(res: g.Resources, settings: PodSettings, resolver: ph.Resolver) -> m.ResourceRequirements | None:
    requests: dict[str, m.Quantity] = {}
    limits: dict[str, m.Quantity] = {}
    patch_requests: dict[str, str] = {}
    patch_limits: dict[str, str] = {}

    def put(target: dict, patch: dict, key: str, value: str | None) -> None:
        if not value:
            return
        if "{{$" in value:
            patch[key] = resolver.plain(value)
        else:
            target[key] = m.Quantity(value)

    put(requests, patch_requests, "cpu", res.cpu_request)
    put(requests, patch_requests, "memory", res.memory_request)
    put(limits, patch_limits, "cpu", res.cpu_limit)
    put(limits, patch_limits, "memory", res.memory_limit)
    if res.accelerator_type:
        if "{{$" in res.accelerator_type:
            # Chosen at run time: a Kubernetes resource name (nvidia.com/gpu) is used as it is, a
            # legacy type name (NVIDIA_TESLA_T4, TPU_V3) maps to its resource; the GKE node
            # selector that a constant legacy name gets is not added at run time.
            accessor = resolver.accessor(res.accelerator_type)
            # single-quoted literals: the patch is JSON text, where double quotes arrive escaped
            key = "{{=sprig.contains('/', %s) ? %s : (sprig.hasPrefix('TPU', sprig.upper(%s)) ? 'google.com/tpu' : 'nvidia.com/gpu')}}" % (
                accessor, accessor, accessor)
            patch_limits[key] = resolver.plain(res.accelerator_count or "1")
        else:
            resource_name, selector = accelerator_resource(res.accelerator_type)
            put(limits, patch_limits, resource_name, res.accelerator_count or "1")
            if selector:
                settings.node_selector.setdefault(*selector)
    if patch_requests or patch_limits:
        patch: dict = {}
        if patch_requests:
            patch["requests"] = patch_requests
        if patch_limits:
            patch["limits"] = patch_limits
        settings.container_patch["resources"] = patch
    if not requests and not limits:
        return None
    return m.ResourceRequirements(requests=requests or None, limits=limits or None)


def accelerator_resource(kind: str) -> tuple[str, tuple[str, str] | None]:
    """KFP accepts Kubernetes resource names (`nvidia.com/gpu`) and legacy GKE types."""
    if "/" in kind:
        return kind, None
    upper = kind.upper()
    if upper.startswith("TPU"):
        return "google.com/tpu", ("cloud.google.com/gke-tpu-accelerator", kind.lower().replace("_", "-"))
    return "nvidia.com/gpu", ("cloud.google.com/gke-accelerator", kind.lower().replace("_", "-"))


def _shim_spec(req: TemplateRequest, env_names: dict[str, str], meta_env: dict[str, str]) -> dict:
    iface = req.component.interface
    collected = {name: {"collected": [depth, leaf]} for name, depth, leaf in req.collected}
    return {
        "marker": EXECUTOR_INPUT_MARKER,
        "inputs": {
            "parameters": {
                p.name: {"type": p.type, "env": env_names[p.name], **collected.get(p.name, {})}
                for p in iface.input_params
                if p.name in env_names
            },
            "artifacts": {
                a.name: {
                    "schemaTitle": a.schema_title,
                    "schemaVersion": a.schema_version,
                    "path": ph.input_path(a.name),
                    "metadataEnv": meta_env[a.name],
                    **({"isList": True} if a.is_list else {}),  # the shim reads a missing isList as false
                    **({"itemsEnv": f"{meta_env[a.name]}_ITEMS", "prefixEnv": f"{meta_env[a.name]}_PREFIX"}
                       if a.name in req.listed_inputs else {}),
                }
                for a in iface.input_artifacts
                if a.name in meta_env
            },
        },
        "outputs": {
            "parameters": {
                p.name: {
                    "type": p.type,
                    "outputFile": ph.output_path(p.name),
                    "argoPath": f"{ph.SHIM_DIR}/params/{p.name}",
                }
                for p in iface.output_params
            },
            "artifacts": {
                a.name: {
                    "schemaTitle": a.schema_title,
                    "schemaVersion": a.schema_version,
                    "path": ph.output_path(a.name),
                    "metadataPath": f"{ph.SHIM_DIR}/artifacts/{a.name}.metadata",
                    "digestPath": f"{ph.SHIM_DIR}/artifacts/{a.name}.digest",
                    **({"itemPath": f"{ph.SHIM_DIR}/items/{a.name}", "keyEnv": f"KFPT_K_{a.name}"}
                       if a.name in req.keyed_outputs else {}),
                }
                for a in iface.output_artifacts
            },
            "executorOutput": f"{ph.SHIM_DIR}/executor/executor_output.json",
        },
    }


def _without_empty(spec: dict) -> dict:
    """The SPEC without its empty sections: the shim reads a missing `inputs`, `parameters` or
    `artifacts` as empty (bytes per template)."""
    for side in ("inputs", "outputs"):
        for kind in ("parameters", "artifacts"):
            if not spec[side][kind]:
                del spec[side][kind]
    if not spec["inputs"]:
        del spec["inputs"]
    return spec


def _python_part(text: str, resolver: ph.Resolver) -> str:
    """A literal part of a Python component's command: user code, guarded from Argo and the kubelet."""
    if "{{$." not in text:
        return _guard_braces(text)
    resolved = resolver.string(text)
    if resolved.count("{{") != resolved.count("{{inputs.") + resolved.count("{{workflow."):
        raise TranslateError("a command part mixes KFP placeholders with literal '{{'", element=resolver.element)
    return resolved


def build_template(name: str, req: TemplateRequest, artifact_key_prefix: str) -> m.Template:
    comp = req.component
    impl = comp.impl
    assert isinstance(impl, g.ContainerImpl)
    iface = comp.interface
    element = f"component '{comp.name}'"

    declared = {p.name: p for p in iface.input_params}
    in_params: list[m.Parameter] = []
    present: set[str] = set()
    for pname in req.params:
        in_params.append(m.Parameter(name=param_name(pname)))
        present.add(pname)
    for p in iface.input_params:
        if p.name not in present and p.has_default and p.default is not None:
            in_params.append(m.Parameter(name=param_name(p.name), default=encode(p.default, p.type)))
            present.add(p.name)
    in_artifacts: list[m.Artifact] = []
    for aname in req.artifacts:
        adef = iface.input_artifact(aname)
        in_artifacts.append(m.Artifact(name=param_name(aname), path=ph.input_path(aname),
                                       optional=True if adef is not None and adef.optional else None))
        in_params.append(m.Parameter(name=ph.metadata_param(aname), default="{}"))
        if aname in req.listed_inputs:
            in_params.append(m.Parameter(name=ph.items_param(aname)))
            in_params.append(m.Parameter(name=ph.prefix_param(aname)))
        if req.cache:
            in_params.append(m.Parameter(name=ph.digest_param(aname)))

    resolver = ph.Resolver(
        params=present,
        artifacts=set(req.artifacts),
        output_params={p.name for p in iface.output_params},
        output_artifacts={a.name for a in iface.output_artifacts},
        element=element,
        task_name=req.task_name,
        listed=frozenset(req.listed_inputs),
        collected={name: (depth, leaf) for name, depth, leaf in req.collected},
    )
    try:  # the platform spec is free-form IR: a setting of the wrong shape is bad input
        settings = pod_settings(json.loads(req.platform_json), resolver)
    except (AttributeError, KeyError, TypeError, ValueError, pydantic.ValidationError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TranslateError(f"invalid kfp-kubernetes setting ({type(exc).__name__}: {detail})", element=element) from None
    env: list[m.EnvVar] = [m.EnvVar(name=k, value=resolver.string(v)) for k, v in impl.env]
    python = impl.is_python_function
    if python:
        env_names: dict[str, str] = {}
        meta_env: dict[str, str] = {}
        for i, pname in enumerate(sorted(p for p in present if p in declared)):
            env_names[pname] = f"KFPT_P_{i}"
            env.append(m.EnvVar(name=f"KFPT_P_{i}", value=runtime_value(param_name(pname))))
        for i, aname in enumerate(req.artifacts):
            meta_env[aname] = f"KFPT_M_{i}"
            env.append(m.EnvVar(name=f"KFPT_M_{i}", value=runtime_value(ph.metadata_param(aname))))
            if aname in req.listed_inputs:
                env.append(m.EnvVar(name=f"KFPT_M_{i}_ITEMS", value=runtime_value(ph.items_param(aname))))
                env.append(m.EnvVar(name=f"KFPT_M_{i}_PREFIX", value=runtime_value(ph.prefix_param(aname))))
        for a in iface.output_artifacts:
            if a.name in req.keyed_outputs:
                env.append(m.EnvVar(name=f"KFPT_K_{a.name}", value=artifact_key(artifact_key_prefix, name, a.name)))
        spec = json.dumps(_without_empty(_shim_spec(req, env_names, meta_env)), sort_keys=True, separators=(",", ":"))
        # The shim itself comes from the environment (spec.templateDefaults, see workflow.py).
        command = shim_command(kube_escape(spec)) + [_python_part(c, resolver) for c in impl.command]
        args = [EXECUTOR_INPUT_MARKER if a == "{{$}}" else _python_part(a, resolver) for a in impl.args]
    else:  # KFP's driver gives these to the kubelet as written: `$(VAR)` expands (as under KFP)
        command = resolver.argv(impl.command, escape=False)
        args = resolver.argv(impl.args, escape=False)
    if ph.LBRACE_ENV in json.dumps([command, args, [e.value for e in env]]):
        env.insert(0, m.EnvVar(name=ph.LBRACE_ENV, value="{"))  # first: env values may refer to it

    out_params: list[m.Parameter] = []
    out_artifacts: list[m.Artifact] = []
    for p in iface.output_params:
        path = f"{ph.SHIM_DIR}/params/{p.name}" if python else ph.output_path(p.name)
        out_params.append(m.Parameter(name=param_name(p.name), value_from=m.ValueFrom(path=path)))
    for a in iface.output_artifacts:
        out_artifacts.append(
            m.Artifact(
                name=param_name(a.name),
                path=ph.output_path(a.name),
                s3=m.S3Artifact(key=artifact_key(artifact_key_prefix, name, a.name)),
                archive=m.ArchiveStrategy(none=m.NoneStrategy()),
            )
        )
        out_params.append(
            m.Parameter(
                name=ph.metadata_param(a.name),
                value_from=m.ValueFrom(path=f"{ph.SHIM_DIR}/artifacts/{a.name}.metadata", default="{}"),
            )
        )
        if a.name in req.keyed_outputs:
            # Where this pod stored the artifact, and its metadata: Argo gathers one per loop
            # iteration into a list that tells a collection's consumer which objects are its items.
            out_params.append(
                m.Parameter(
                    name=ph.item_param(a.name),
                    value_from=m.ValueFrom(
                        path=f"{ph.SHIM_DIR}/items/{a.name}",
                        default='{"key":"%s","metadata":{}}' % artifact_key(artifact_key_prefix, name, a.name),
                    ),
                )
            )
        # Container components compute no digest: their artifacts are identified by where they
        # were stored (KFP's own semantics: identity, not content); a cache hit restores it.
        out_params.append(
            m.Parameter(
                name=ph.digest_param(a.name),
                value_from=m.ValueFrom(
                    path=f"{ph.SHIM_DIR}/artifacts/{a.name}.digest",
                    default="key:" + artifact_key(artifact_key_prefix, name, a.name),
                ),
            )
        )

    # KFP types of the outputs, for tools reading the run (translate run); a shimmed template's
    # SPEC holds them already (translator/runner/summary.py Types).
    if iface.output_params and not python:
        settings.annotations["kfp-translate.dev/outputs"] = json.dumps(
            {"parameters": {p.name: p.type for p in iface.output_params}}, sort_keys=True, separators=(",", ":")
        )
    resources = _resources(impl.resources, settings, resolver)
    container = m.Container(
        image=_image(impl.image, element),
        command=command,
        args=args or None,
        env=(env + settings.env) or None,
        env_from=settings.env_from or None,
        resources=resources,
        image_pull_policy=settings.image_pull_policy,
        volume_mounts=[m.VolumeMount(name=OUTPUTS_VOLUME, mount_path=ph.OUTPUTS_DIR)] + settings.volume_mounts,
    )
    return m.Template(
        name=name,
        inputs=m.Inputs(parameters=in_params or None, artifacts=in_artifacts or None)
        if (in_params or in_artifacts)
        else None,
        outputs=m.Outputs(parameters=out_params or None, artifacts=out_artifacts or None)
        if (out_params or out_artifacts)
        else None,
        container=container,
        volumes=[m.Volume(name=OUTPUTS_VOLUME, empty_dir=m.EmptyDirVolumeSource())] + settings.volumes,
        metadata=settings.metadata(),
        node_selector=settings.node_selector or None,
        tolerations=settings.tolerations or None,
        affinity=settings.affinity,
        security_context=settings.security_context,
        active_deadline_seconds=settings.active_deadline_seconds,
        pod_spec_patch=settings.pod_spec_patch(),
        retry_strategy=_retry(req.retry),
    )


def template_prefix(key_prefix: str, template: str) -> str:
    """Where every artifact a template writes in one run lives: a collection is read from here."""
    return f"{key_prefix}/{{{{workflow.name}}}}/{template}"


def artifact_key(key_prefix: str, template: str, output: str) -> str:
    """Unique per run, template, pod (so per task, loop iteration and retry) and output."""
    return f"{template_prefix(key_prefix, template)}/{{{{pod.name}}}}/{output}"


def _retry(retry: g.Retry | None) -> m.RetryStrategy | None:
    if retry is None or retry.max_retry_count <= 0:
        return None
    backoff = None
    if retry.backoff_duration or retry.backoff_factor or retry.backoff_max_duration:
        factor = retry.backoff_factor
        backoff = m.Backoff(
            duration=retry.backoff_duration or None,
            factor=m.IntOrString(int(factor)) if factor is not None and float(factor).is_integer() else (
                m.IntOrString(str(factor)) if factor is not None else None
            ),
            cap=retry.backoff_max_duration or None,
        )
    return m.RetryStrategy(limit=m.IntOrString(retry.max_retry_count), backoff=backoff)


def _image(image: str, element: str) -> str:
    """KFP fixes the image at compile time (no placeholders); Argo would read `{{` as its syntax."""
    if not image or "{{" in image or any(c.isspace() for c in image):
        raise TranslateError(f"image {image!r} is not an image reference", element=element)
    return image
