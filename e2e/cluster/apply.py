"""Apply Kubernetes objects the way `kubectl apply --server-side` does, through the dynamic client."""
from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

FIELD_MANAGER = "kfpt-e2e"

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_documents(path: Path) -> list[dict[str, Any]]:
    """Every non-empty YAML document of a file, or of each *.yaml in a folder (sorted)."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    docs: list[dict[str, Any]] = []
    for file in files:
        for doc in yaml.load_all(file.read_text(), Loader=_Loader):
            if isinstance(doc, dict) and doc.get("kind") and doc["kind"] != "Kustomization":
                docs.extend(doc.get("items", []) if doc["kind"].endswith("List") else [doc])
    return docs


_KUSTOMIZE_KEYS = {"apiVersion", "kind", "resources", "components", "configMapGenerator"}


def kustomize_build(path: Path) -> list[dict[str, Any]]:
    """What `kubectl kustomize PATH` gives for the subset of kustomize this project's manifests/
    use (resources, components, configMapGenerator with files and disableNameSuffixHash); any
    other field is an error, so `up` never applies less than a user's `kubectl apply -k` would.
    (tests/test_client_manifests.py compares it with kubectl's own output.)"""
    file = path / "kustomization.yaml"
    spec = yaml.load(file.read_text(), Loader=_Loader) or {}
    unknown = sorted(set(spec) - _KUSTOMIZE_KEYS)
    if unknown:
        raise ValueError(f"{file}: kustomize field {unknown[0]!r} is not supported by e2e/cluster/apply.py")
    docs: list[dict[str, Any]] = []
    for entry in list(spec.get("resources") or []) + list(spec.get("components") or []):
        target = (path / entry).resolve()
        docs.extend(kustomize_build(target) if target.is_dir() else load_documents(target))
    for gen in spec.get("configMapGenerator") or []:
        options = gen.get("options") or {}
        if not options.get("disableNameSuffixHash") or set(gen) - {"name", "files", "options"} \
                or set(options) - {"disableNameSuffixHash", "labels"}:
            raise ValueError(f"{file}: only configMapGenerator entries with files and disableNameSuffixHash are supported")
        data = {Path(f).name: (path / f).read_text() for f in gen.get("files") or []}
        meta: dict[str, Any] = {"name": gen["name"]}
        if options.get("labels"):
            meta["labels"] = dict(options["labels"])
        docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})
    return docs


class Applier:
    """Server-side apply with discovery refreshed after new CRDs appear."""

    def __init__(self, api: k8s.ApiClient) -> None:
        self.api = api
        self.dynamic = DynamicClient(api)

    def _resource(self, api_version: str, kind: str):
        for attempt in range(30):
            try:
                return self.dynamic.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                if attempt == 29:
                    raise
                time.sleep(1)
                self.dynamic = DynamicClient(self.api)  # re-discover: a CRD may just have been created
        raise AssertionError("unreachable")

    def apply(self, obj: dict[str, Any], namespace: str | None = None) -> None:
        resource = self._resource(obj["apiVersion"], obj["kind"])
        meta = obj.setdefault("metadata", {})
        if resource.namespaced:
            meta["namespace"] = meta.get("namespace") or namespace or "default"
        else:
            meta.pop("namespace", None)
        self.dynamic.server_side_apply(resource, body=obj, name=meta["name"],
                                       namespace=meta.get("namespace"),
                                       field_manager=FIELD_MANAGER, force_conflicts=True)

    def apply_all(self, objs: Iterable[dict[str, Any]], namespace: str | None = None) -> None:
        for obj in objs:
            self.apply(obj, namespace)

    def wait_crds_established(self, names: Iterable[str], timeout: float = 60.0) -> None:
        ext = k8s.ApiextensionsV1Api(self.api)
        deadline = time.monotonic() + timeout
        for name in names:
            while True:
                crd = ext.read_custom_resource_definition(name)
                conditions = {c.type: c.status for c in (crd.status.conditions or [])}
                if conditions.get("Established") == "True":
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"CRD {name} not established after {timeout:.0f} s")
                time.sleep(0.5)
        self.dynamic = DynamicClient(self.api)
