"""Assemble the top-level Argo object and validate it before anyone sees it."""
from __future__ import annotations

import json
import re

from dataclasses import dataclass
from typing import Any

from hera.workflows import models as m

from translator import graph as g
from translator.errors import TranslateError
from translator.normalize import coerce
from translator.runtime.delivery import BOOTSTRAP, SHIM_ENV, packed_shim, parts_needed

from . import options as option_checks
from . import validate
from .container import protect as _protect
from .dag import ArgoOptions, Emitter
from .names import MAX_WORKFLOW, dns_name, param_name
from .values import ABSENT, encode

KINDS = ("Workflow", "WorkflowTemplate", "CronWorkflow")
API_VERSION = "argoproj.io/v1alpha1"


@dataclass(frozen=True)
class OutputOptions:
    kind: str = "Workflow"
    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    service_account: str | None = None
    parameters: tuple[tuple[str, str], ...] = ()  # overrides, as given on the command line
    artifact_repository_ref: tuple[str, str] | None = None  # (configMap, key)
    schedule: str | None = None
    timezone: str | None = None
    concurrency_policy: str | None = None




def _arguments(pipeline: g.Pipeline, overrides: dict[str, str]) -> list[m.Parameter]:
    iface = pipeline.root.interface
    unknown = sorted(set(overrides) - {p.name for p in iface.input_params})
    if unknown:
        raise TranslateError(f"the pipeline has no parameter '{unknown[0]}'", element="parameter override")
    out = []
    for p in iface.input_params:
        if p.name in overrides:
            raw = overrides[p.name]
            value: Any = raw
            if isinstance(raw, str) and p.type not in (g.STRING,):  # command-line text; the library may pass values
                try:
                    value = json.loads(raw)
                except json.JSONDecodeError:
                    value = raw
            value = coerce(value, p.type, f"parameter '{p.name}'")
            if value is None:  # the library's None: KFP's None for an optional parameter
                if not p.optional:
                    raise TranslateError(f"parameter '{p.name}' is not optional: None is no value for it", element="parameter override")
                out.append(m.Parameter(name=param_name(p.name), value=ABSENT))
                continue
            out.append(m.Parameter(name=param_name(p.name), value=_protect(encode(value, p.type))))
        elif p.has_default and p.default is not None:
            out.append(m.Parameter(name=param_name(p.name), value=_protect(encode(p.default, p.type))))
        elif p.optional:
            out.append(m.Parameter(name=param_name(p.name), value=ABSENT))  # None unless given
        else:
            out.append(m.Parameter(name=param_name(p.name)))  # required at submit time
    return out


WORKSPACE = "kfp-workspace"


def _workspace(pipeline: g.Pipeline, templates: list[m.Template]) -> list[m.PersistentVolumeClaim]:
    """KFP's pipeline workspace: one PVC per run (Argo creates it and deletes it when the run
    completes), mounted at /kfp-workspace in every step, as KFP's backend mounts it."""
    ws = pipeline.workspace
    if not ws:
        return []
    if not ws.get("size"):
        raise TranslateError("the pipeline workspace has no size", element="pipelineConfig.workspace")
    patch = (ws.get("kubernetes") or {}).get("pvcSpecPatch") or {}
    modes, storage_class = patch.get("accessModes"), patch.get("storageClassName")
    if modes is not None and not (isinstance(modes, list) and all(isinstance(x, str) for x in modes)):
        raise TranslateError("accessModes must be a list of strings", element="pipelineConfig.workspace")
    if storage_class is not None and not isinstance(storage_class, str) or isinstance(ws.get("size"), (dict, list)):
        raise TranslateError("storageClassName and size must be strings", element="pipelineConfig.workspace")
    unknown = sorted(set(patch) - {"accessModes", "storageClassName"})
    if unknown:
        raise TranslateError(f"unsupported workspace PVC field '{unknown[0]}'", element="pipelineConfig.workspace")
    for t in templates:
        if t.container is not None:
            mounts = list(t.container.volume_mounts or [])
            mounts.append(m.VolumeMount(name=WORKSPACE, mount_path="/kfp-workspace"))
            t.container.volume_mounts = mounts
    return [
        m.PersistentVolumeClaim(
            metadata=m.ObjectMeta(name=WORKSPACE),
            spec=m.PersistentVolumeClaimSpec(
                access_modes=patch.get("accessModes") or ["ReadWriteOnce"],
                storage_class_name=patch.get("storageClassName"),
                resources=m.VolumeResourceRequirements(requests={"storage": m.Quantity(str(ws["size"]))}),
            ),
        )
    ]


SHARED_MIN = 100  # shorter command parts are not worth an env var


def _shared_commands(shimmed: list[m.Template]) -> list[m.EnvVar]:
    """Command parts that several Python templates repeat word for word (KFP's pip-install and
    executor preambles): each moves into one env var `KFPT_C_<n>` and the templates say
    `$(KFPT_C_<n>)`, which the kubelet replaces with the variable's value. The value is already
    kubelet-escaped text (`$$`), as it was in the command: the kubelet reduces it once, when it
    expands the env value, and inserts the result into the command as it is."""
    counts: dict[str, int] = {}
    for t in shimmed:
        for part in set(t.container.command[5:]):
            if len(part) >= SHARED_MIN and "{{" not in part and "/kfp/" not in part:
                counts[part] = counts.get(part, 0) + 1
    names: dict[str, str] = {}
    for t in shimmed:  # numbered in order of first use: deterministic
        for part in t.container.command[5:]:
            if counts.get(part, 0) > 1 and part not in names:
                names[part] = f"KFPT_C_{len(names)}"
    for t in shimmed:
        t.container.command = [f"$({names[c]})" if c in names and i >= 5 else c for i, c in enumerate(t.container.command)]
    return [m.EnvVar(name=name, value=part) for part, name in names.items()]


def _template_defaults(templates: list[m.Template]) -> m.Template | None:
    """The pod shim and the command text Python templates share, once per manifest
    (docs/design.md, "Delivering the shim"): Argo's controller merges `spec.templateDefaults` into
    each template it runs (strategic merge, env by name); container defaults reach container
    templates only."""
    shimmed = [t for t in templates if t.container is not None and (t.container.command or [])[2:3] == [BOOTSTRAP]]
    if not shimmed:
        return None
    specs = [json.loads(t.container.command[3].replace("$$", "$")) for t in shimmed]  # kube_escape'd
    parts = parts_needed(specs, [t.container.command[5:] for t in shimmed])
    env = [m.EnvVar(name=SHIM_ENV, value=packed_shim(parts))] + _shared_commands(shimmed)
    return m.Template(container=m.Container(env=env))


def emit(pipeline: g.Pipeline, options: ArgoOptions, output: OutputOptions) -> dict[str, Any]:
    if output.kind not in KINDS:
        raise TranslateError(f"unknown output kind '{output.kind}' (choose from {', '.join(KINDS)})", element="--kind")
    option_checks.check(output.kind, output.name, output.generate_name, output.namespace, output.service_account,
                        output.artifact_repository_ref, output.schedule, output.timezone,
                        output.concurrency_policy, options.cache_max_age)
    emitter = Emitter(options)
    entry = emitter.dag_template(pipeline.root, "main", "")
    templates = sorted(emitter.templates, key=lambda t: (t.name != entry, t.name))
    claims = _workspace(pipeline, templates)
    arguments = _arguments(pipeline, dict(output.parameters))
    # A pipeline-level artifact input is given at submit time as the key of an object in the
    # workflow's artifact repository: `-p data=path/in/bucket.csv`.
    art_args = []
    for a in pipeline.root.interface.input_artifacts:
        arguments.append(m.Parameter(name=param_name(a.name), description=f"artifact repository key of input artifact {a.name}"))
        art_args.append(m.Artifact(name=param_name(a.name), s3=m.S3Artifact(key="{{workflow.parameters.%s}}" % param_name(a.name)), archive=m.ArchiveStrategy(none=m.NoneStrategy())))
    spec = m.WorkflowSpec(
        entrypoint=entry,
        arguments=m.Arguments(parameters=arguments or None, artifacts=art_args or None) if (arguments or art_args) else None,
        templates=templates,
        template_defaults=_template_defaults(templates),
        service_account_name=output.service_account,
        volume_claim_templates=claims or None,
        volume_claim_gc=m.VolumeClaimGC(strategy="OnWorkflowCompletion") if claims else None,
        artifact_repository_ref=m.ArtifactRepositoryRef(config_map=output.artifact_repository_ref[0], key=output.artifact_repository_ref[1])
        if output.artifact_repository_ref
        else None,
    )
    base = dns_name(pipeline.name, MAX_WORKFLOW - 6)
    labels = {"kfp-translate.dev/pipeline": dns_name(pipeline.name, 63)}
    annotations = {"workflows.argoproj.io/title": pipeline.display_name or pipeline.name}
    if pipeline.description:
        annotations["workflows.argoproj.io/description"] = pipeline.description
    if output.kind == "WorkflowTemplate" or output.kind == "CronWorkflow":
        name = output.name or base
        meta = m.ObjectMeta(name=name, namespace=output.namespace, labels=labels, annotations=annotations)
    else:
        meta = m.ObjectMeta(
            name=output.name,
            generate_name=None if output.name else (output.generate_name or f"{base}-"),
            namespace=output.namespace,
            labels=labels,
            annotations=annotations,
        )
    if output.kind == "Workflow":
        obj: Any = m.Workflow(api_version=API_VERSION, kind="Workflow", metadata=meta, spec=spec)
    elif output.kind == "WorkflowTemplate":
        obj = m.WorkflowTemplate(api_version=API_VERSION, kind="WorkflowTemplate", metadata=meta, spec=spec)
    else:
        if not output.schedule:
            raise TranslateError("a CronWorkflow needs --schedule (a cron expression)", element="--kind CronWorkflow")
        obj = m.CronWorkflow(
            api_version=API_VERSION,
            kind="CronWorkflow",
            metadata=meta,
            spec=m.CronWorkflowSpec(
                schedules=[output.schedule],
                timezone=output.timezone,
                concurrency_policy=output.concurrency_policy,
                workflow_spec=spec,
                workflow_metadata=m.ObjectMeta(labels=labels),
            ),
        )
    manifest = obj.model_dump(mode="json", by_alias=True, exclude_none=True)
    validate.check(manifest)
    return manifest


@dataclass(frozen=True)
class ArgoBackend:
    name: str = "argo"

    def translate(self, pipeline: g.Pipeline, **kwargs: Any) -> list[dict[str, Any]]:
        argo_keys = set(ArgoOptions.__dataclass_fields__)
        argo_opts = ArgoOptions(**{k: v for k, v in kwargs.items() if k in argo_keys})
        out_opts = OutputOptions(**{k: v for k, v in kwargs.items() if k not in argo_keys})
        return [emit(pipeline, argo_opts, out_opts)]


BACKEND = ArgoBackend()
