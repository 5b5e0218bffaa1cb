"""Uploaded pipelines: a WorkflowTemplate (Argo) or a Pipeline (Tekton) per version, named
`<pipeline>-<version>`, labelled with both; the pipeline's IR is kept next to it in a ConfigMap
(deleted with it) so that a run by reference encodes its arguments exactly as a direct run does."""
from __future__ import annotations

import json
import re
from typing import Any

import yaml

from .connection import Connection
from .errors import ClientError, NotFound
from .model import DESCRIPTION, KIND, PIPELINE_NAME, PIPELINE_VERSION, PipelineVersion
from .runs import create, dns_label

OBJECT = {"argo": ("argoproj.io", "v1alpha1", "workflowtemplates", "WorkflowTemplate"),
          "tekton": ("tekton.dev", "v1", "pipelines", "Pipeline")}
IR_KEY = "pipeline.yaml"
VERSION_NAME = "kfp-translate.dev/version-name"  # the version as given (its label is a label value)
UPLOADED = "kfp-translate.dev/uploaded-at"  # microseconds: creationTimestamp has whole seconds only


def label_value(text: str) -> str:
    """A Kubernetes label value for any text (63 characters, alphanumeric at both ends)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:63].strip("-_.")


def ir_text(source: Any) -> str:
    """The pipeline's IR as YAML: a compiled package as it is, a pipeline function (or FILE.py[:FUNC]) compiled."""
    import os

    if isinstance(source, (str, os.PathLike)) and str(source).endswith((".yaml", ".yml", ".json")):
        try:
            with open(source, encoding="utf-8") as f:
                return f.read()
        except OSError as exc:
            raise ClientError(f"cannot read the pipeline package: {exc.strerror}", element=str(source)) from None
    from translator.loader import load

    loaded = load(source)  # .py files and pipeline objects: compiled in-process, as `translate` does
    docs = [loaded.spec.model_dump(mode="json", by_alias=True, exclude_none=True)]
    if loaded.platform:
        docs.append(loaded.platform)
    return yaml.safe_dump_all(docs, sort_keys=False)


def _version_object(conn: Connection, engine: str, namespace: str, name: str) -> dict[str, Any]:
    group, version, plural, kind = OBJECT[engine]
    return conn.call(f"read {kind} {name}", conn.custom.get_namespaced_custom_object, group, version, namespace, plural, name)


def versions(conn: Connection, engine: str, namespace: str, pipeline: str | None = None) -> list[PipelineVersion]:
    group, version, plural, kind = OBJECT[engine]
    selector = f"{PIPELINE_NAME}={dns_label(pipeline)}" if pipeline else PIPELINE_NAME
    items = conn.call(f"list {kind}s", conn.custom.list_namespaced_custom_object, group, version, namespace, plural,
                      label_selector=selector)["items"]
    out = []
    def order(o: dict[str, Any]) -> tuple[str, str]:
        meta = o["metadata"]
        return (meta.get("annotations") or {}).get(UPLOADED) or meta.get("creationTimestamp") or "", meta["name"]

    for obj in sorted(items, key=order):
        meta = obj["metadata"]
        notes = meta.get("annotations") or {}
        out.append(PipelineVersion(meta["labels"][PIPELINE_NAME], meta["name"],
                                   notes.get(VERSION_NAME) or meta["labels"].get(PIPELINE_VERSION, ""),
                                   namespace, engine, notes.get(DESCRIPTION, ""),
                                   meta.get("creationTimestamp")))
    return out


def upload(conn: Connection, engine: str, namespace: str, source: Any, pipeline_name: str | None,
           version: str | None, description: str | None, options: dict[str, Any]) -> PipelineVersion:
    import translator

    text = ir_text(source)
    graph = translator.load_graph(text)
    pid = dns_label(pipeline_name or graph.name, 40)
    existing = versions(conn, engine, namespace, pid)
    version = version or f"v{len(existing) + 1}"
    if any(v.version == version for v in existing):
        raise ClientError(f"pipeline {pid} already has a version {version!r}", element="version")
    name = dns_label(f"{pid}-{version}", 52 if engine == "argo" else 63)
    kind = OBJECT[engine][3]
    [obj, *_] = translator.translate(text, backend=engine, kind=kind, name=name, **options)
    meta = obj["metadata"]
    meta.setdefault("labels", {}).update({PIPELINE_NAME: pid, PIPELINE_VERSION: label_value(version)})
    import datetime

    notes = meta.setdefault("annotations", {})
    notes[VERSION_NAME] = version
    notes[UPLOADED] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if description:
        notes[DESCRIPTION] = description
    stored = create(conn, obj, namespace)
    owner = {"apiVersion": stored["apiVersion"], "kind": kind, "name": name, "uid": stored["metadata"]["uid"]}
    body = {"metadata": {"name": f"{name}-ir", "labels": {KIND: "pipeline-ir", PIPELINE_NAME: pid},
                         "ownerReferences": [owner]}, "data": {IR_KEY: text}}
    conn.call("store the pipeline's IR", conn.core.create_namespaced_config_map, namespace, body)
    return PipelineVersion(pid, name, version, namespace, engine, description or "", stored["metadata"].get("creationTimestamp"))


def resolve(conn: Connection, engine: str, namespace: str, pipeline: str, version: str | None) -> PipelineVersion:
    found = versions(conn, engine, namespace, pipeline)
    if version:
        found = [v for v in found if v.version == version or v.pipeline_version_id == version]
    if not found:
        what = f"version {version!r} of pipeline {pipeline!r}" if version else f"uploaded pipeline {pipeline!r}"
        raise NotFound(f"no {what} in namespace {namespace} (translate upload lists them)", element=pipeline)
    return found[-1]


def run_by_reference(conn: Connection, engine: str, namespace: str, ref: PipelineVersion,
                     options: dict[str, Any]) -> dict[str, Any]:
    """A Workflow (workflowTemplateRef) or PipelineRun (pipelineRef) of an uploaded version, its
    arguments encoded by translating the stored IR with them."""
    import translator

    try:
        cm = conn.call("read the pipeline's IR", conn.core.read_namespaced_config_map, f"{ref.pipeline_version_id}-ir", namespace)
    except NotFound:
        raise NotFound(f"pipeline version {ref.pipeline_version_id} has no IR ConfigMap "
                       f"{ref.pipeline_version_id}-ir (upload it again with translate upload)") from None
    if options.get("enable_caching") is not None:
        raise ClientError("caching is fixed when a pipeline is uploaded: upload it with enable_caching, or run the "
                          "package itself", element="enable_caching")
    [direct, *_] = translator.translate(cm.data[IR_KEY], backend=engine, **options)
    spec = dict(direct["spec"])
    uploaded = _version_object(conn, engine, namespace, ref.pipeline_version_id)
    labels = {k: v for k, v in (uploaded["metadata"].get("labels") or {}).items() if k.startswith("kfp-translate.dev/")}
    meta = {"generateName": f"{ref.pipeline_version_id[:50]}-", "labels": labels}
    if engine == "argo":
        body = {"workflowTemplateRef": {"name": ref.pipeline_version_id}}
        for key in ("arguments", "serviceAccountName"):
            if key in spec:
                body[key] = spec[key]
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": meta, "spec": body}
    spec.pop("pipelineSpec", None)
    spec["pipelineRef"] = {"name": ref.pipeline_version_id}
    return {"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": meta, "spec": json.loads(json.dumps(spec))}


def delete(conn: Connection, engine: str, namespace: str, name: str) -> None:
    group, version, plural, kind = OBJECT[engine]
    conn.call(f"delete {kind} {name}", conn.custom.delete_namespaced_custom_object, group, version, namespace, plural,
              name, propagation_policy="Background")
