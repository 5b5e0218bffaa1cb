"""How the client reaches a cluster: kubeconfig, in-cluster service account, or host and token,
through the `kubernetes` client; and the checks that turn "not installed" into one clear line."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .errors import ENGINE_INSTALL, ENGINE_NAME, OVERLAY, ClientError, explain

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
ENGINES = {
    # engine: (group, version, the plural that proves it is installed, its CRD)
    "argo": ("argoproj.io", "v1alpha1", "workflows", "workflows.argoproj.io"),
    "tekton": ("tekton.dev", "v1", "pipelineruns", "pipelineruns.tekton.dev"),
}
TIMEOUT = 30  # seconds per API request (a watch or a log stream sets its own)


@dataclass
class Connection:
    """An API client, the namespace calls default to, and what was already checked."""

    api: Any
    namespace: str
    host: str
    checked: set[str] = field(default_factory=set)

    def call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)` with every failure as a one-line ClientError saying `what` failed."""
        kwargs.setdefault("_request_timeout", TIMEOUT)
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - explain() re-raises what it does not know
            raise explain(exc, self.host, what) from None

    @property
    def core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.api)

    @property
    def custom(self) -> Any:
        from kubernetes import client

        return client.CustomObjectsApi(self.api)

    @property
    def batch(self) -> Any:
        from kubernetes import client

        return client.BatchV1Api(self.api)

    def require_engine(self, engine: str) -> None:
        """Fail with one line when the engine's CRDs are not there (Argo or Tekton not installed)."""
        if engine in self.checked:
            return
        if engine not in ENGINES:
            raise ClientError(f"unknown backend {engine!r} (choose argo or tekton)", element="backend")
        group, version, plural, crd = ENGINES[engine]
        from kubernetes.client.exceptions import ApiException

        try:
            found = self.api.call_api(f"/apis/{group}/{version}", "GET", response_type="object",
                                      auth_settings=["BearerToken"], _return_http_data_only=True,
                                      _request_timeout=TIMEOUT)
        except ApiException as exc:
            if exc.status != 404:
                raise explain(exc, self.host, f"look up the {ENGINE_NAME[engine]} API") from None
            found = {}
        except Exception as exc:  # noqa: BLE001
            raise explain(exc, self.host, f"look up the {ENGINE_NAME[engine]} API") from None
        names = {r.get("name") for r in (found or {}).get("resources", [])}
        if plural not in names:
            raise ClientError(f"{ENGINE_NAME[engine]} is not installed on {self.host}: no CRD {crd} "
                              f"(install it with `kubectl apply -k {ENGINE_INSTALL[engine]}`, then "
                              f"`kubectl apply -k {OVERLAY[engine]} -n {self.namespace}`)")
        self.checked.add(engine)


def _kubeconfig_files(explicit: str | os.PathLike | None) -> list[str]:
    if explicit:
        return [os.fspath(explicit)]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [p for p in env.split(os.pathsep) if p]
    default = Path.home() / ".kube" / "config"
    return [str(default)] if default.exists() else []


def connect(host: str | None = None, token: str | None = None, *, kubeconfig: str | os.PathLike | None = None,
            context: str | None = None, namespace: str | None = None, verify_ssl: bool = True,
            ssl_ca_cert: str | None = None) -> Connection:
    """A Connection from, in this order: `host` (+ `token`), a kubeconfig (`kubeconfig`,
    $KUBECONFIG or ~/.kube/config), the in-cluster service account. Nothing is contacted yet."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    if host:
        conf = client.Configuration(host=host.rstrip("/"))
        if token:
            conf.api_key = {"authorization": token}
            conf.api_key_prefix = {"authorization": "Bearer"}
        conf.verify_ssl = verify_ssl
        conf.ssl_ca_cert = ssl_ca_cert
        conf.retries = 0
        return Connection(client.ApiClient(conf), namespace or "default", conf.host)
    files = _kubeconfig_files(kubeconfig)
    if files:
        path = files[0]
        if not Path(path).exists():
            raise ClientError(f"no cluster configured: kubeconfig {path} does not exist", element="kubeconfig")
        try:
            conf = client.Configuration()
            config.load_kube_config(config_file=path, context=context, client_configuration=conf)
            contexts, active = config.list_kube_config_contexts(config_file=path)
            active = next((c for c in contexts if c["name"] == context), active) if context else active
        except (ConfigException, OSError, ValueError) as exc:
            raise ClientError(f"kubeconfig {path} is not usable: {' '.join(str(exc).split())}",
                              element="kubeconfig") from None
        conf.retries = 0
        ns = namespace or (active.get("context") or {}).get("namespace") or "default"
        return Connection(client.ApiClient(conf), ns, conf.host)
    if os.environ.get("KUBERNETES_SERVICE_HOST") and (SA_DIR / "token").exists():
        conf = client.Configuration()
        config.load_incluster_config(client_configuration=conf)
        conf.retries = 0
        ns = namespace or (SA_DIR / "namespace").read_text().strip() or "default"
        return Connection(client.ApiClient(conf), ns, conf.host)
    raise ClientError("no cluster configured: give host= (and token=), set KUBECONFIG, create ~/.kube/config, "
                      "or run inside a pod", element="kubeconfig")
