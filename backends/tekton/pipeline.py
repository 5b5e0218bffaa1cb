"""The Tekton backend's entry: normalized graph → PipelineRun (or Pipeline [+ PipelineRun])."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from hera.workflows import models as k

from translator import graph as g
from translator.errors import TranslateError
from translator.normalize import coerce

from . import models as t
from .cache import max_age_seconds
from .conditions import guard
from .flatten import Flattener, Value
from .names import dns_label, param_name
from .steps import DEFAULT_GCS_ENDPOINT, LIBRARY_PARAM, Gcs, library, packed_shim
from .tasks import SHIM_PARAM, WORKSPACE, TaskOptions, build
from .values import ABSENT, encode, protect

KINDS = ("PipelineRun", "Pipeline")
FEATURE_FLAGS_ANNOTATION = "kfp-translate.io/tekton-feature-flags"
DEFAULT_TRANSFER_IMAGE = "amazon/aws-cli:2.22.35"
DEFAULT_PYTHON_IMAGE = "python:3.12-slim"
# Options of the command line that only mean something on Argo.
_ARGO_ONLY = {"schedule": None, "timezone": None, "concurrency_policy": None, "artifact_repository_ref": None}


@dataclass(frozen=True)
class TektonOptions:
    kind: str | None = None
    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    service_account: str | None = None
    parameters: tuple[tuple[str, str], ...] = ()
    artifact_store: str = "kfp-translate-artifacts"
    artifact_key_prefix: str = "kfp"
    transfer_image: str = DEFAULT_TRANSFER_IMAGE
    python_image: str = DEFAULT_PYTHON_IMAGE
    with_run: bool = False
    enable_caching: bool | None = None
    cache_max_age: str = "720h"
    cache_configmap: str | None = None  # Argo's; accepted and unused
    tekton_alpha: tuple[str, ...] = ()  # alpha features the user opts in to (ALPHA)
    gcs_credentials: str | None = None  # Secret with HMAC keys for gs:// importers (docs/tekton.md, "Importers")
    gcs_endpoint: str = DEFAULT_GCS_ENDPOINT  # Google Cloud Storage's XML API (tests point it at MinIO)


# Alpha Tekton features a user can opt in to, and the feature flags each needs on the cluster
# (recorded in FEATURE_FLAGS_ANNOTATION when the output uses them; docs/tekton.md).
ALPHA = {"cel-when": {"enable-cel-in-whenexpression": "true"}}


def _param_specs(pipeline: g.Pipeline) -> list[t.ParamSpec]:
    specs = []
    for p in pipeline.root.interface.input_params:
        default: str | None
        if p.has_default and p.default is not None:
            default = protect(encode(p.default, p.type))
        elif p.optional:
            default = ABSENT
        else:
            default = None
        specs.append(t.ParamSpec(name=param_name(p.name), description=f"KFP {p.type}", default=default))
    for a in pipeline.root.interface.input_artifacts:
        specs.append(t.ParamSpec(name=param_name(a.name),
                                 description=f"artifact store key or URI (docs/tekton.md) of input artifact {a.name}"))
    return specs


def _overrides(pipeline: g.Pipeline, overrides: dict[str, str]) -> list[t.Param]:
    iface = pipeline.root.interface
    known = {p.name: p for p in iface.input_params}
    unknown = sorted(set(overrides) - set(known) - {a.name for a in iface.input_artifacts})
    if unknown:
        raise TranslateError(f"the pipeline has no parameter '{unknown[0]}'", element="parameter override")
    out = []
    for name, raw in sorted(overrides.items()):
        p = known.get(name)
        if p is None:
            out.append(t.Param(name=param_name(name), value=raw))
            continue
        value: Any = raw
        if p.type != g.STRING and isinstance(raw, str):  # command-line text; the library passes values
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                value = raw
        value = coerce(value, p.type, f"parameter '{name}'")
        out.append(t.Param(name=param_name(name), value=protect(encode(value, p.type))))
    return out


def _workspace(pipeline: g.Pipeline) -> t.WorkspaceBinding | None:
    """KFP's pipeline workspace: a volumeClaimTemplate workspace (one PVC per run)."""
    ws = pipeline.workspace
    if not ws:
        return None
    if not ws.get("size"):
        raise TranslateError("the pipeline workspace has no size", element="pipelineConfig.workspace")
    patch = (ws.get("kubernetes") or {}).get("pvcSpecPatch") or {}
    unknown = sorted(set(patch) - {"accessModes", "storageClassName"})
    if unknown:
        raise TranslateError(f"unsupported workspace PVC field '{unknown[0]}'", element="pipelineConfig.workspace")
    claim = k.PersistentVolumeClaimSpec(
        access_modes=patch.get("accessModes") or ["ReadWriteOnce"],
        storage_class_name=patch.get("storageClassName"),
        resources=k.VolumeResourceRequirements(requests={"storage": k.Quantity(str(ws["size"]))}),
    )
    return t.WorkspaceBinding(name=WORKSPACE, volume_claim_template=t.VolumeClaimTemplate(spec=claim))


def _pipeline_results(outputs: dict) -> list[t.PipelineResult] | None:
    results = [t.PipelineResult(name=param_name(n), value=v.text) for n, v in sorted(outputs.items())
               if isinstance(v, Value) and v.producer]
    return results or None


def emit(pipeline: g.Pipeline, opts: TektonOptions) -> list[dict[str, Any]]:
    kind = opts.kind or "PipelineRun"
    if kind not in KINDS:
        raise TranslateError(f"unknown output kind '{kind}' for Tekton (choose from {', '.join(KINDS)})", element="--kind")
    if opts.with_run and kind != "Pipeline":
        raise TranslateError("--with-run goes with --kind Pipeline (a PipelineRun embeds its pipeline)",
                             element="--with-run")
    unknown = sorted(set(opts.tekton_alpha) - set(ALPHA))
    if unknown:
        raise TranslateError(f"unknown alpha feature '{unknown[0]}' (known: {', '.join(sorted(ALPHA))})",
                             element="--tekton-alpha")
    if not re.fullmatch(r"https?://[^\s$]+", opts.gcs_endpoint):
        raise TranslateError(f"{opts.gcs_endpoint!r} is not an http:// or https:// URL", element="--gcs-endpoint")
    flat = Flattener(guard, opts.artifact_key_prefix, cel_when="cel-when" in opts.tekton_alpha)
    outputs = flat.root(pipeline)
    if not flat.units:
        raise TranslateError("the pipeline runs no task", element="pipeline")
    workspace = _workspace(pipeline)
    task_opts = TaskOptions(opts.artifact_store, opts.artifact_key_prefix, opts.transfer_image,
                            opts.python_image, workspace is not None, opts.enable_caching,
                            max_age_seconds(opts.cache_max_age), Gcs(opts.gcs_credentials, opts.gcs_endpoint))
    built = [build(u, task_opts) for u in flat.units]
    regular = [b.task for b, u in zip(built, flat.units) if not u.final]
    finals = [b.task for b, u in zip(built, flat.units) if u.final]
    if not regular:
        raise TranslateError("every task runs after upstream failures; Tekton needs at least one regular task",
                             element="pipeline")
    params = _param_specs(pipeline)
    if any(p.name == SHIM_PARAM for b in built for p in b.task.params or []):
        if any(p.name == SHIM_PARAM for p in params):
            raise TranslateError(f"a pipeline parameter is named '{SHIM_PARAM}', which kfp-translate uses",
                                 element=f"parameter '{SHIM_PARAM}'")
        params.append(t.ParamSpec(name=SHIM_PARAM, description="the pod shim (kfp-translate, docs/tekton.md); "
                                  "do not override", default=packed_shim()))
    cached = any(step.name == "kfpt-cache" for b in built for step in b.task.task_spec.steps)
    if any(p.name == LIBRARY_PARAM for b in built for p in b.task.params or []):
        if any(p.name == LIBRARY_PARAM for p in params):
            raise TranslateError(f"a pipeline parameter is named '{LIBRARY_PARAM}', which kfp-translate uses",
                                 element=f"parameter '{LIBRARY_PARAM}'")
        params.append(t.ParamSpec(name=LIBRARY_PARAM, description="the transfer steps' shell functions (kfp-translate, "
                                  "docs/tekton.md); do not override",
                                  default=library(opts.artifact_key_prefix, task_opts.cache_max_age, cached)))
    spec = t.PipelineSpec(
        display_name=pipeline.display_name,
        description=pipeline.description,
        params=params or None,
        tasks=regular,
        finally_=finals or None,
        results=_pipeline_results(outputs),
        workspaces=[t.PipelineWorkspaceDeclaration(name=WORKSPACE)] if workspace else None,
    )
    run_specs = [b.run_spec for b in built if b.run_spec is not None]
    base = dns_label(pipeline.name, 56)
    labels = {"kfp-translate.dev/pipeline": dns_label(pipeline.name)}
    annotations = {"kfp-translate.dev/title": pipeline.display_name or pipeline.name}
    flags = _feature_flags(built)
    if flags:
        annotations[FEATURE_FLAGS_ANNOTATION] = flags
    run_spec = t.PipelineRunSpec(
        params=_overrides(pipeline, dict(opts.parameters)) or None,
        task_run_template=t.TaskRunTemplate(service_account_name=opts.service_account) if opts.service_account else None,
        task_run_specs=run_specs or None,
        workspaces=[workspace] if workspace else None,
    )
    docs: list[t.PipelineRun | t.Pipeline] = []
    if kind == "Pipeline":
        name = opts.name or base
        docs.append(t.Pipeline(metadata=t.ObjectMeta(name=name, namespace=opts.namespace, labels=labels,
                                                     annotations=annotations), spec=spec))
        if not opts.with_run and (run_specs or run_spec.params or opts.service_account):
            what = "parameter overrides" if run_spec.params else "the service account" if opts.service_account \
                else "kfp-kubernetes pod settings (taskRunSpecs)"
            raise TranslateError(f"{what} live in a PipelineRun: add --with-run to --kind Pipeline",
                                 element="--kind Pipeline")
        if opts.with_run:
            ref = run_spec.model_copy(update={"pipeline_ref": t.PipelineRef(name=name)})
            docs.append(t.PipelineRun(metadata=t.ObjectMeta(generate_name=f"{name}-", namespace=opts.namespace,
                                                            labels=labels,
                                                            annotations={FEATURE_FLAGS_ANNOTATION: flags} if flags else None),
                                        spec=ref))
    else:
        meta = t.ObjectMeta(name=opts.name, generate_name=None if opts.name else (opts.generate_name or f"{base}-"),
                            namespace=opts.namespace, labels=labels, annotations=annotations)
        docs.append(t.PipelineRun(metadata=meta, spec=run_spec.model_copy(update={"pipeline_spec": spec})))
    return [t.dump(d) for d in docs]


def _feature_flags(built) -> str:
    """The feature flags (of Tekton's feature-flags ConfigMap) the output needs beyond a stock
    install, as "flag=value,...": only those of alpha features the user opted in to and used."""
    flags: dict[str, str] = {}
    if any(w.cel for b in built for w in b.task.when or []):
        flags.update(ALPHA["cel-when"])
    return ",".join(f"{k_}={v}" for k_, v in sorted(flags.items()))


@dataclass(frozen=True)
class TektonBackend:
    name: str = "tekton"

    def translate(self, pipeline: g.Pipeline, **kwargs: Any) -> list[dict[str, Any]]:
        for key, default in _ARGO_ONLY.items():
            if kwargs.get(key, default) != default:
                raise TranslateError(f"option {key!r} applies to the Argo backend only", element="--backend tekton")
        known = set(TektonOptions.__dataclass_fields__)
        extra = sorted(k_ for k_ in kwargs if k_ not in known and k_ not in _ARGO_ONLY)
        if extra:
            raise TranslateError(f"unknown option {extra[0]!r}", element="--backend tekton")
        return emit(pipeline, TektonOptions(**{k_: v for k_, v in kwargs.items() if k_ in known}))


BACKEND = TektonBackend()
