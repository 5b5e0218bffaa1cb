"""Before a run is created: is everything it needs in the namespace? One line naming what is
missing and the manifest that installs it, instead of a run that fails later in a pod.

Argo: the artifact repository (the `artifactRepositoryRef` ConfigMap, or the namespace's
`artifact-repositories` default, or the controller's own default) when the workflow moves
artifacts; the memoization cache ConfigMap when a template is memoized. Tekton: the artifact
store Secret that the transfer steps load. A check the user has no right to make (403) is
skipped: the API server will say more at run time."""
from __future__ import annotations

from typing import Any, Iterator

from .connection import Connection
from .errors import ClientError, NotFound

ARGO_REPO = "manifests/components/argo/artifact-repository.yaml"
ARGO_CACHE = "manifests/components/argo/memoization-cache.yaml"
TEKTON_STORE = "manifests/components/tekton/artifact-store.yaml"
APPLY = {"argo": "kubectl apply -k manifests/overlays/argo", "tekton": "kubectl apply -k manifests/overlays/tekton"}


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _exists(conn: Connection, what: str, read: Any, *args: Any) -> Any:
    """The object, None when it is missing, True when we may not look (403)."""
    try:
        return conn.call(what, read, *args)
    except NotFound:
        return None
    except ClientError as exc:
        if exc.status == 403:
            return True
        raise


def _missing(what: str, namespace: str, engine: str, manifest: str) -> ClientError:
    return ClientError(f"{what} is missing in namespace {namespace}: install it with `{APPLY[engine]} -n {namespace}` "
                       f"({manifest})", element="prerequisites")


def check_argo(conn: Connection, workflow: dict[str, Any], namespace: str) -> None:
    spec = workflow.get("spec") or {}
    templates = spec.get("templates") or []
    if any(a.get("s3") is not None for t in templates for a in _walk(t) if isinstance(a.get("s3"), dict)):
        ref = spec.get("artifactRepositoryRef")
        if ref:
            cm = _exists(conn, "read the artifact repository ConfigMap", conn.core.read_namespaced_config_map,
                         ref.get("configMap", "artifact-repositories"), namespace)
            key = ref.get("key")
            if cm is None or (cm is not True and key and key not in (cm.data or {})):
                raise _missing(f"artifact repository {ref.get('configMap')}:{key or ''} (ConfigMap)", namespace, "argo",
                               ARGO_REPO)
        else:
            cm = _exists(conn, "read the artifact repository ConfigMap", conn.core.read_namespaced_config_map,
                         "artifact-repositories", namespace)
            if cm is None and not _controller_default(conn):
                raise _missing("artifact repository (ConfigMap artifact-repositories, and the workflow controller "
                               "has no default)", namespace, "argo", ARGO_REPO)
    caches = sorted({t["memoize"]["cache"]["configMap"]["name"] for t in templates
                     if ((t.get("memoize") or {}).get("cache") or {}).get("configMap", {}).get("name")})
    for name in caches:
        if _exists(conn, "read the cache ConfigMap", conn.core.read_namespaced_config_map, name, namespace) is None:
            raise _missing(f"cache ConfigMap {name}", namespace, "argo", ARGO_CACHE)


def _controller_default(conn: Connection) -> bool:
    """Does the workflow controller's own configuration name a default artifact repository?"""
    import yaml

    for ns in ("argo", "argo-workflows", "kubeflow"):
        cm = _exists(conn, "read the workflow controller's ConfigMap", conn.core.read_namespaced_config_map,
                     "workflow-controller-configmap", ns)
        if cm is True:
            return True  # we may not look: assume it is set up
        if cm is not None:
            text = (cm.data or {}).get("artifactRepository")
            if text and (yaml.safe_load(text) or {}):
                return True
    return False


def check_tekton(conn: Connection, run: dict[str, Any], namespace: str) -> None:
    secrets = sorted({e["secretRef"]["name"] for e in _walk(run.get("spec") or {})
                      if isinstance(e.get("secretRef"), dict) and e["secretRef"].get("name") and "optional" not in e["secretRef"]})
    for name in secrets:
        if _exists(conn, "read the artifact store Secret", conn.core.read_namespaced_secret, name, namespace) is None:
            raise _missing(f"artifact store Secret {name}", namespace, "tekton", TEKTON_STORE)


def check(conn: Connection, engine: str, obj: dict[str, Any], namespace: str) -> None:
    (check_argo if engine == "argo" else check_tekton)(conn, obj, namespace)
