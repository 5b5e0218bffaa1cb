"""The Node object and its Lease: registered once, kept Ready with heartbeats, so the node
lifecycle controller never taints it."""
import logging
import os
import platform
import socket
import threading
import time
from datetime import datetime, timezone

from kubernetes.client.rest import ApiException

from .status import NODE_IP, rfc3339

log = logging.getLogger("node.node")
NODE_NAME = "kfpt-node"
KUBELET_PORT = 10250
LEASE_SECONDS = 40
LEASE_RENEW = 10
STATUS_EVERY = 30
KUBELET_VERSION = "v1.37.2"

# Advertised, not measured: generous, so that the real scheduler places what pipelines ask for.
CAPACITY = {"cpu": "32", "memory": "128Gi", "pods": "250", "ephemeral-storage": "200Gi",
            "nvidia.com/gpu": "4", "hugepages-1Gi": "0", "hugepages-2Mi": "0"}


def node_object() -> dict:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": NODE_NAME, "labels": {
            "kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64"}},
        "spec": {},
    }


def node_status() -> dict:
    now = rfc3339(time.time())
    conditions = [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kfp-translate e2e node agent is posting ready status"),
    ]
    return {
        "capacity": CAPACITY, "allocatable": CAPACITY,
        "conditions": [{"type": t, "status": s, "reason": r, "message": m,
                        "lastHeartbeatTime": now, "lastTransitionTime": now} for t, s, r, m in conditions],
        "addresses": [{"type": "InternalIP", "address": NODE_IP},
                      {"type": "Hostname", "address": socket.gethostname()}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
        "nodeInfo": {
            "machineID": _read("/etc/machine-id"), "systemUUID": _read("/etc/machine-id"),
            "bootID": _read("/proc/sys/kernel/random/boot_id"), "kernelVersion": platform.release(),
            "osImage": _os_image(), "containerRuntimeVersion": "kfpt://0.1",
            "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": "", "operatingSystem": "linux",
            "architecture": "amd64"},
    }


class NodeKeeper:
    """Registers the Node, then renews its Lease every 10 s and its status every 30 s."""

    def __init__(self, kube, stopping: threading.Event):
        self.kube, self.stopping = kube, stopping
        self._transition = None

    def register(self):
        if self.kube.get_or_none(f"/api/v1/nodes/{NODE_NAME}") is None:
            self.kube.post("/api/v1/nodes", node_object())
        else:
            self.kube.patch(f"/api/v1/nodes/{NODE_NAME}", {"metadata": node_object()["metadata"]})
        self._post_status()
        self._renew_lease()
        log.info("registered node %s", NODE_NAME)

    def run(self):
        last_status = time.time()
        while not self.stopping.wait(LEASE_RENEW):
            try:
                self._renew_lease()
                if time.time() - last_status >= STATUS_EVERY:
                    self._post_status()
                    last_status = time.time()
            except Exception as exc:  # noqa: BLE001 - keep trying while the API server restarts
                log.warning("node heartbeat failed: %s", exc)

    def _post_status(self):
        status = node_status()
        if self._transition is None:
            self._transition = status["conditions"][0]["lastTransitionTime"]
        for cond in status["conditions"]:
            cond["lastTransitionTime"] = self._transition
        self.kube.patch(f"/api/v1/nodes/{NODE_NAME}/status", {"status": status})

    def _renew_lease(self):
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{NODE_NAME}"
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        lease = self.kube.get_or_none(path)
        if lease is None:
            node = self.kube.get(f"/api/v1/nodes/{NODE_NAME}")
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": NODE_NAME, "namespace": "kube-node-lease", "ownerReferences": [
                        {"apiVersion": "v1", "kind": "Node", "name": NODE_NAME, "uid": node["metadata"]["uid"]}]},
                    "spec": {"holderIdentity": NODE_NAME, "leaseDurationSeconds": LEASE_SECONDS,
                             "renewTime": now}}
            try:
                self.kube.post("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", body)
            except ApiException as exc:
                if exc.status != 409:
                    raise
            return
        lease["spec"].update(holderIdentity=NODE_NAME, leaseDurationSeconds=LEASE_SECONDS, renewTime=now)
        self.kube.put(path, lease)


def _read(path: str) -> str:
    try:
        return open(path).read().strip()
    except OSError:
        return ""


def _os_image() -> str:
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return os.uname().sysname
