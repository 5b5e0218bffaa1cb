"""The client's errors: one line each, naming what is missing and the manifest that installs it.

Every Kubernetes API failure the client meets goes through `explain`, so a user sees
"no cluster reachable at https://...: connection refused" rather than a urllib3 traceback.
"""
from __future__ import annotations

from typing import Any

from translator.errors import TranslateError

# What `kubectl apply -k` installs, by engine (manifests/README.md).
OVERLAY = {"argo": "manifests/overlays/argo", "tekton": "manifests/overlays/tekton"}
ENGINE_INSTALL = {"argo": "manifests/engines/argo", "tekton": "manifests/engines/tekton"}
ENGINE_NAME = {"argo": "Argo Workflows", "tekton": "Tekton Pipelines"}


class ClientError(TranslateError):
    """A cluster-side problem (unreachable, refused, something not installed). CLI: exit 2."""

    def __init__(self, message: str, *, element: str | None = None, status: int | None = None):
        super().__init__(message, element=element)
        self.status = status


class NotFound(ClientError):
    """The named run, schedule, pipeline or experiment does not exist."""


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "reason", None) or exc)
    for marker in ("Connection refused", "Name or service not known", "timed out", "No route to host",
                   "certificate verify failed", "Temporary failure in name resolution"):
        if marker.lower() in text.lower():
            return marker.lower()
    return " ".join(text.split())[:200]


def explain(exc: BaseException, host: str, what: str) -> ClientError:
    """A ClientError for an exception raised while doing `what` against `host`."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    if isinstance(exc, ClientError):
        return exc
    if isinstance(exc, ApiException):
        status = exc.status or 0
        message = _api_message(exc)
        if status == 0:
            return ClientError(f"no cluster reachable at {host} ({_reason(exc)}) while trying to {what}", status=0)
        if status == 401:
            return ClientError(f"unauthorized at {host}: the API server refused the credentials (token or "
                               f"client certificate) while trying to {what}", status=401)
        if status == 403:
            return ClientError(f"forbidden at {host}: {message} (the rights a user needs are in "
                               f"manifests/base/client-rbac.yaml)", status=403)
        if status == 404:
            return NotFound(f"not found while trying to {what}: {message}", status=404)
        return ClientError(f"the API server at {host} answered {status} while trying to {what}: {message}",
                           status=status)
    if isinstance(exc, (HTTPError, OSError)):
        return ClientError(f"no cluster reachable at {host} ({_reason(exc)}) while trying to {what}", status=0)
    raise exc


def _api_message(exc: Any) -> str:
    import json

    try:
        return " ".join(str(json.loads(exc.body).get("message", "")).split()) or str(exc.reason)
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)
