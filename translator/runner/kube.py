"""Secrets and ConfigMaps for `translate run`: what a pod would read from the cluster.

Values come from the command line (`--secret NAME:KEY=VALUE`, `--config-map NAME:KEY=VALUE`),
from env files (`--from-env-file secret/NAME=FILE`, one `KEY=VALUE` a line), or, when asked
(`--kube-context CONTEXT`), from the cluster through the `kubernetes` client. Before any step
runs, `check` names the first task reading something that is given nowhere.
"""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

from .engine import RunError

KINDS = {"secret": "Secret", "configmap": "ConfigMap"}
_TEMPLATED = re.compile(r"\{\{")


class KubeObjects:
    def __init__(self, given: dict[tuple[str, str], dict[str, str]] | None = None, context: str | None = None,
                 namespace: str | None = None):
        self.given = {k: dict(v) for k, v in (given or {}).items()}  # (kind, name) -> data
        self.context = context
        self.namespace = namespace
        self._api: Any = None
        self._fetched: dict[tuple[str, str], dict[str, str] | None] = {}

    def add(self, kind: str, name: str, key: str, value: str) -> None:
        self.given.setdefault((kind, name), {})[key] = value

    def get(self, kind: str, name: str) -> dict[str, str] | None:
        """The object's data (values as text), or None when it is given nowhere."""
        if (kind, name) in self.given:
            return self.given[(kind, name)]
        if self.context is None:
            return None
        if (kind, name) not in self._fetched:
            self._fetched[(kind, name)] = self._read(kind, name)
        return self._fetched[(kind, name)]

    def _read(self, kind: str, name: str) -> dict[str, str] | None:
        from kubernetes import client, config
        from kubernetes.client.exceptions import ApiException

        try:
            if self._api is None:
                import os

                path = (os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")).split(os.pathsep)[0]
                contexts, _active = config.list_kube_config_contexts(config_file=path)
                chosen = next((c for c in contexts if c["name"] == self.context), None)
                if chosen is None:
                    raise RunError(f"--kube-context {self.context}: no such context in the kubeconfig")
                self.namespace = self.namespace or chosen["context"].get("namespace") or "default"
                self._api = client.CoreV1Api(config.new_client_from_config(config_file=path, context=self.context))
            if kind == "Secret":
                obj = self._api.read_namespaced_secret(name, self.namespace)
                return {k: base64.b64decode(v).decode("utf-8", "surrogateescape") for k, v in (obj.data or {}).items()}
            obj = self._api.read_namespaced_config_map(name, self.namespace)
            return dict(obj.data or {})
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise RunError(f"--kube-context {self.context}: reading {kind} {name!r}: {exc.status} {exc.reason}") from None
        except config.ConfigException as exc:
            raise RunError(f"--kube-context {self.context}: {str(exc).splitlines()[0]}") from None
        except OSError as exc:  # unreachable API server
            raise RunError(f"--kube-context {self.context}: {exc}") from None

    def value(self, kind: str, name: str, key: str | None, optional: bool, where: str) -> Any:
        """One key (or, with key None, the whole object); None when optional and missing."""
        data = self.get(kind, name)
        if data is not None and (key is None or key in data):
            return data if key is None else data[key]
        if optional:
            return None
        raise RunError(f"{where}: {missing(kind, name, key)}")


def missing(kind: str, name: str, key: str | None) -> str:
    flag = "--secret" if kind == "Secret" else "--config-map"
    what = f"key {key!r} of {kind} {name!r}" if key else f"{kind} {name!r}"
    return (f"reads {what}, which is not given: pass {flag} {name}:{key or 'KEY'}=VALUE, "
            f"--from-env-file {kind.lower()}/{name}=FILE or --kube-context CONTEXT")


def parse_value(text: str, flag: str) -> tuple[str, str, str]:
    name, sep, rest = text.partition(":")
    key, sep2, value = rest.partition("=")
    if not (sep and sep2 and name and key):
        raise RunError(f"{flag} expects NAME:KEY=VALUE, got {text!r}")
    return name, key, value


def read_env_file(spec: str) -> tuple[str, str, dict[str, str]]:
    """`secret/NAME=FILE` or `configmap/NAME=FILE`: KEY=VALUE lines (# comments, blank lines)."""
    target, sep, file = spec.partition("=")
    kind, slash, name = target.partition("/")
    if not (sep and slash and name and kind.lower() in KINDS):
        raise RunError(f"--from-env-file expects secret/NAME=FILE or configmap/NAME=FILE, got {spec!r}")
    data: dict[str, str] = {}
    try:
        lines = Path(file).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RunError(f"--from-env-file {spec}: {exc.strerror}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, eq, value = line.partition("=")
        if not eq or not key.strip():
            raise RunError(f"{file}:{n}: expected KEY=VALUE")
        data[key.strip()] = value
    return KINDS[kind.lower()], name, data


def references(template: dict, volumes: dict[str, dict]) -> list[tuple[str, str, str | None, bool]]:
    """(kind, name, key or None, optional) of every Secret/ConfigMap a container template reads."""
    container = template.get("container") or {}
    out = []
    for e in container.get("env", []):
        vf = e.get("valueFrom") or {}
        for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
            if field in vf:
                out.append((kind, vf[field].get("name", ""), vf[field].get("key"), bool(vf[field].get("optional"))))
    for ef in container.get("envFrom", []):
        for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
            if field in ef:
                out.append((kind, ef[field].get("name", ""), None, bool(ef[field].get("optional"))))
    scope = dict(volumes)
    scope.update({v["name"]: v for v in template.get("volumes", [])})
    for vm in container.get("volumeMounts", []):
        v = scope.get(vm["name"]) or {}
        if "secret" in v:
            out.append(("Secret", v["secret"].get("secretName", ""), None, bool(v["secret"].get("optional"))))
        if "configMap" in v:
            out.append(("ConfigMap", v["configMap"].get("name", ""), None, bool(v["configMap"].get("optional"))))
    return out


def check(manifest: dict, objects: KubeObjects) -> None:
    """Before any step runs: the first task that reads a Secret/ConfigMap given nowhere."""
    spec = manifest.get("spec") or {}
    templates = {t["name"]: t for t in spec.get("templates", [])}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    users: dict[str, list[str]] = {}
    for t in templates.values():
        names = json.loads(((t.get("metadata") or {}).get("annotations") or {}).get("kfp-translate.dev/task-names", "{}"))
        for task in (t.get("dag") or {}).get("tasks", []):
            users.setdefault(task.get("template", ""), []).append(names.get(task["name"], task["name"]))
            hook = ((task.get("hooks") or {}).get("exit") or {}).get("template")
            if hook:
                users.setdefault(hook, []).append(names.get(task["name"] + ".onExit", task["name"] + ".onExit"))
    for name in sorted(templates):
        for kind, obj, key, optional in references(templates[name], volumes):
            if optional or _TEMPLATED.search(obj):  # a name chosen at run time: checked by its step
                continue
            data = objects.get(kind, obj)
            if data is None or (key is not None and key not in data):
                who = sorted(set(users.get(name, [])))
                where = f"task '{who[0]}'" if who else f"template '{name}'"
                raise RunError(f"{where} {missing(kind, obj, key)}")
