"""The node agent: registers the Node, runs the pods bound to it, provisions claims, and starts
the Go server for the kubelet API (logs, exec)."""
import logging
import os
import signal
import subprocess
import threading
from pathlib import Path

from . import podenv
from .cleanup import cleanup
from .expansion import expand, mapping_for
from .images import ImageTable, default_cache
from .node import CAPACITY, NODE_NAME, NodeKeeper
from .pod import PodWorker
from .pvc import Provisioner
from .runtime import memory_cgroup_parent

log = logging.getLogger("node.agent")
TERMINAL = ("Succeeded", "Failed")


class Agent:
    def __init__(self, state: Path):
        from .kube import Kube
        self.state = state
        self.pods_dir = state / "pods"
        self.volumes_dir = state / "volumes"
        self.kube = Kube(str(state / "kubeconfig"))
        self.images = ImageTable()
        self.cache = default_cache()
        self.allocatable = CAPACITY
        host, port = self.kube.server_address
        self.service = podenv.service_env(host, port)
        self.cgroup_parent = memory_cgroup_parent()
        self.stopping = threading.Event()
        self.workers: dict = {}
        self.lock = threading.Lock()
        self.server = None

    # -- lifecycle ----------------------------------------------------------------------------
    def run(self):
        cleanup(self.state)  # whatever an agent killed earlier left behind
        self.pods_dir.mkdir(parents=True, exist_ok=True)
        self.volumes_dir.mkdir(parents=True, exist_ok=True)
        (self.cache / "pip").mkdir(parents=True, exist_ok=True)
        self.server = self._start_server()
        keeper = NodeKeeper(self.kube, self.stopping)
        keeper.register()
        if self.cgroup_parent is None:
            log.warning("no usable cgroup v1 memory controller: memory limits are not enforced")
        for target, name in ((keeper.run, "node-heartbeat"),
                             (Provisioner(self.kube, self.volumes_dir, self.stopping).run, "provisioner"),
                             (self._watch_pods, "watch-pods")):
            threading.Thread(target=target, name=name, daemon=True).start()
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        while not self.stopping.wait(1):
            if self.server.poll() is not None:
                log.error("nodeserver exited with %s; restarting it", self.server.returncode)
                self.server = self._start_server()
        self.shutdown()

    def shutdown(self):
        log.info("stopping: killing every container")
        with self.lock:
            workers = list(self.workers.values())
        threads = [threading.Thread(target=w.kill_all, args=(2,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        if self.server and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(5)
            except subprocess.TimeoutExpired:
                self.server.kill()
        cleanup(self.state)

    def _start_server(self):
        from e2e.cluster import build
        binary = build.ensure("nodeserver")
        log_file = open(self.state / "logs" / "nodeserver.log", "ab") if (self.state / "logs").is_dir() \
            else subprocess.DEVNULL
        return subprocess.Popen([str(binary), "--state", str(self.state), "--parent", str(os.getpid())], stdout=log_file,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    # -- pods ---------------------------------------------------------------------------------
    def _watch_pods(self):
        self.kube.watch("/api/v1/pods", self._on_pod, self.stopping, on_list=self._on_pod_list,
                        fieldSelector=f"spec.nodeName={NODE_NAME}")

    def _on_pod_list(self, pods: list):
        uids = {p["metadata"]["uid"] for p in pods}
        with self.lock:
            for uid, worker in list(self.workers.items()):
                if uid not in uids:
                    worker.gone()
                    del self.workers[uid]
        for pod in pods:
            self._on_pod("ADDED", pod)
        self._remove_orphan_folders(uids)

    def _on_pod(self, kind: str, pod: dict):
        uid = pod["metadata"]["uid"]
        with self.lock:
            worker = self.workers.get(uid)
            if kind == "DELETED":
                if worker:
                    worker.gone()
                    del self.workers[uid]
                return
            if worker:
                worker.update(pod)
                return
            if (pod.get("status") or {}).get("phase") in TERMINAL:
                self._forget_finished(pod)
                return
            worker = self.workers[uid] = PodWorker(self, pod)
        worker.start()

    def _forget_finished(self, pod):
        """A finished pod this agent did not run (an earlier agent did): only its deletion is ours."""
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            self.kube.delete(f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                             {"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}})

    def _remove_orphan_folders(self, uids):
        from .fsutil import safe_rmtree
        for folder in self.pods_dir.iterdir() if self.pods_dir.is_dir() else ():
            if folder.name not in uids and folder.name not in self.workers:
                safe_rmtree(folder)

    # -- what a container gets ----------------------------------------------------------------
    def container_spec(self, pod: dict, container: dict, volumes) -> dict:
        """The spec contain.py runs (raises podenv.ConfigError / images.ImageError when it cannot)."""
        image = self.images.resolve(container.get("image", ""))
        sources = podenv.Sources(self.kube, pod["metadata"]["namespace"])
        env = podenv.container_env(pod, container, sources, self.service, self.allocatable)
        argv = podenv.command_line(container, image, env)
        mounts = [{"source": src, "target": dst, "readOnly": True} for src, dst in image.binds]
        mounts.append({"source": str(self.cache / "pip"), "target": "/root/.cache/pip"})
        for vm in container.get("volumeMounts") or ():
            mount = self._volume_mount(vm, volumes.paths, env)
            mount["readOnly"] = mount["readOnly"] or vm["name"] in volumes.read_only
            mounts.append(mount)
        security = dict(pod["spec"].get("securityContext") or {})
        security.update(container.get("securityContext") or {})
        process_env = podenv.process_env(pod, image, env)
        if security.get("runAsUser") and "HOME" not in env and "HOME" not in image.env:
            process_env["HOME"] = "/"  # as runc does for a user the image's /etc/passwd may lack
        root = {"kind": "host", "overlay": list(image.host_folders)} if image.root == "host" \
            else {"kind": "empty"} if image.root == "empty" else {"kind": "dir", "path": image.root}
        return {
            "root": root, "mounts": mounts, "hostname": podenv.hostname(pod),
            "terminationMessagePath": container.get("terminationMessagePath") or "/dev/termination-log",
            "workingDir": container.get("workingDir") or "/", "argv": argv,
            "env": process_env,
            "runAsUser": security.get("runAsUser"), "runAsGroup": security.get("runAsGroup"),
            "removeExternallyManaged": image.python, "pythonAlias": image.python,
            "memoryLimit": ((container.get("resources") or {}).get("limits") or {}).get("memory"),
            "imageID": f"kfpt-node://{image.root}/{image.name}",
        }

    @staticmethod
    def _volume_mount(vm: dict, volume_paths: dict, env: dict) -> dict:
        if vm["name"] not in volume_paths:
            raise podenv.ConfigError(f"volumeMount {vm['name']!r} names no volume of the pod")
        source = volume_paths[vm["name"]]
        sub = vm.get("subPath") or (expand(vm["subPathExpr"], mapping_for(env)) if vm.get("subPathExpr") else "")
        if sub:
            if sub.startswith("/") or ".." in sub.split("/"):
                raise podenv.ConfigError(f"subPath {sub!r} must be a relative path inside the volume")
            source = make_sub_path(source, sub)
        return {"source": source, "target": vm["mountPath"], "readOnly": bool(vm.get("readOnly"))}


def make_sub_path(volume: str, sub: str) -> str:
    """The subPath folder, created when missing with the volume root's mode, as the kubelet does
    (Argo mounts its 0777 emptyDir at /tmp through subPath `0` for non-root users)."""
    mode = os.stat(volume).st_mode & 0o7777
    path = volume
    for part in sub.split("/"):
        if not part:
            continue
        path = os.path.join(path, part)
        if not os.path.lexists(path):
            os.mkdir(path)
            os.chmod(path, mode)
    return path
