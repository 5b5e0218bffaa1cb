"""A container's environment and command line, as the kubelet computes them
(k8s.io/kubernetes pkg/kubelet/kubelet_pods.go makeEnvironmentVariables)."""
import base64
import json
import math
from decimal import Decimal

from kubernetes.utils.quantity import parse_quantity

from .expansion import expand, mapping_for

NODE_IP = "127.0.0.1"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ConfigError(Exception):
    """A referenced ConfigMap, Secret or key is missing (the kubelet's CreateContainerConfigError)."""


class Sources:
    """ConfigMaps and Secrets of one namespace, each read once per container start."""

    def __init__(self, kube, namespace):
        self.kube, self.namespace, self._cache = kube, namespace, {}

    def _get(self, kind, name):
        key = (kind, name)
        if key not in self._cache:
            self._cache[key] = self.kube.get_or_none(f"/api/v1/namespaces/{self.namespace}/{kind}/{name}")
        return self._cache[key]

    def configmap(self, name, optional=False):
        """{key: bytes} of a ConfigMap, None if it is missing and optional."""
        obj = self._get("configmaps", name)
        if obj is None:
            if optional:
                return None
            raise ConfigError(f'configmap "{name}" not found')
        data = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
        data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        return data

    def secret(self, name, optional=False):
        obj = self._get("secrets", name)
        if obj is None:
            if optional:
                return None
            raise ConfigError(f'secret "{name}" not found')
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}


def service_env(host: str, port: int) -> dict:
    """The `kubernetes` Service's variables (no kube-proxy here: they name the API server itself)."""
    return {
        "KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": str(port),
        "KUBERNETES_SERVICE_PORT_HTTPS": str(port), "KUBERNETES_PORT": f"tcp://{host}:{port}",
        f"KUBERNETES_PORT_{port}_TCP": f"tcp://{host}:{port}",
        f"KUBERNETES_PORT_{port}_TCP_PROTO": "tcp", f"KUBERNETES_PORT_{port}_TCP_PORT": str(port),
        f"KUBERNETES_PORT_{port}_TCP_ADDR": host,
    }


def field_value(pod: dict, path: str) -> str:
    """A downward-API fieldRef value (env and volume files)."""
    meta, spec = pod["metadata"], pod["spec"]
    for prefix, mapping in (("metadata.labels", "labels"), ("metadata.annotations", "annotations")):
        if path.startswith(prefix + "['") and path.endswith("']"):
            return (meta.get(mapping) or {}).get(path[len(prefix) + 2:-2], "")
        if path == prefix:
            return format_map(meta.get(mapping) or {})
    values = {
        "metadata.name": meta["name"], "metadata.namespace": meta["namespace"],
        "metadata.uid": meta["uid"], "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": NODE_IP, "status.hostIPs": NODE_IP,
        "status.podIP": NODE_IP, "status.podIPs": NODE_IP,
    }
    if path not in values:
        raise ConfigError(f"unsupported fieldPath: {path}")
    return values[path]


def format_map(values: dict) -> str:
    """`key="value"` lines in key order, values quoted as Go's strconv.Quote does for text."""
    return "\n".join(f"{k}={json.dumps(values[k], ensure_ascii=False)}" for k in sorted(values))


def resource_value(pod: dict, ref: dict, container: dict, allocatable: dict) -> str:
    """A resourceFieldRef value: the container's request or limit (limits default to the node's
    allocatable), divided by the divisor and rounded up."""
    resource = ref["resource"]
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage"):
        raise ConfigError(f"unsupported container resource: {resource}")
    values = (container.get("resources") or {}).get(kind) or {}
    if name in values:
        amount = parse_quantity(values[name])
    elif kind == "limits":
        amount = parse_quantity(allocatable[name])
    else:
        amount = Decimal(0)
    divisor = parse_quantity(ref.get("divisor") or "1")
    if divisor == 0:
        divisor = Decimal(1)
    if name == "cpu":  # the kubelet works in millicores, then rounds the quotient up
        return str(math.ceil(math.ceil(amount * 1000) / (divisor * 1000)))
    return str(math.ceil(amount / divisor))


def container_env(pod: dict, container: dict, sources: Sources, service: dict,
                  allocatable: dict) -> dict:
    """The container's own variables (envFrom, then env), then the service variables, each
    `$(VAR)` in a value expanded against what is defined before it."""
    env: dict = {}
    for item in container.get("envFrom") or ():
        prefix = item.get("prefix", "")
        if "configMapRef" in item:
            ref = item["configMapRef"]
            data = sources.configmap(ref["name"], ref.get("optional", False))
        else:
            ref = item["secretRef"]
            data = sources.secret(ref["name"], ref.get("optional", False))
        for key, value in (data or {}).items():
            env[prefix + key] = value.decode(errors="replace")
    lookup = mapping_for(env, service)
    for var in container.get("env") or ():
        value = var.get("value", "")
        if value:
            value = expand(value, lookup)
        elif "valueFrom" in var:
            value = _value_from(pod, container, var["valueFrom"], sources, allocatable)
            if value is None:
                continue
        env[var["name"]] = value
    for key, value in service.items():
        env.setdefault(key, value)
    return env


def _value_from(pod, container, source, sources, allocatable):
    if "fieldRef" in source:
        return field_value(pod, source["fieldRef"]["fieldPath"])
    if "resourceFieldRef" in source:
        return resource_value(pod, source["resourceFieldRef"], container, allocatable)
    for kind, getter in (("configMapKeyRef", sources.configmap), ("secretKeyRef", sources.secret)):
        if kind in source:
            ref = source[kind]
            optional = ref.get("optional", False)
            data = getter(ref["name"], optional)
            if data is None:
                return None
            if ref["key"] not in data:
                if optional:
                    return None
                what = "ConfigMap" if kind == "configMapKeyRef" else "Secret"
                raise ConfigError(f"couldn't find key {ref['key']} in {what} "
                                  f"{pod['metadata']['namespace']}/{ref['name']}")
            return data[ref["key"]].decode(errors="replace")
    raise ConfigError(f"unsupported env source: {sorted(source)}")


def command_line(container: dict, image, env: dict) -> list:
    """command/args against the image's ENTRYPOINT/CMD (Docker's rules, as the kubelet applies
    them), each `$(VAR)` expanded against the container's environment."""
    command, args = container.get("command") or [], container.get("args") or []
    if command:
        argv = list(command) + list(args)
    elif args:
        argv = list(image.entrypoint) + list(args)
    else:
        argv = list(image.entrypoint) + list(image.cmd)
    if not argv:
        raise ConfigError(f"image {image.name!r} has no entrypoint here and the container gives no command")
    lookup = mapping_for(env)
    return [expand(a, lookup) for a in argv]


def process_env(pod: dict, image, env: dict) -> dict:
    """What the process sees: the image's defaults, then the container's variables."""
    result = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname(pod), "HOME": "/root"}
    result.update(image.env)
    result.update(env)
    return result


def hostname(pod: dict) -> str:
    return (pod["spec"].get("hostname") or pod["metadata"]["name"])[:63]
