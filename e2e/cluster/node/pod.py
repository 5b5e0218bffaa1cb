"""One pod's life on the node: volumes, init containers in order, then the others side by side,
status through the status subresource, graceful deletion, and removal of the pod's folder."""
import json
import logging
import signal
import threading
import time
from pathlib import Path

from kubernetes.client.rest import ApiException

from . import podenv
from .fsutil import safe_rmtree
from .images import ImageError
from .runtime import ContainerProcess
from .status import Conditions, ContainerRecord, pod_status, terminated_state
from .volumes import PodVolumes

log = logging.getLogger("node.pod")
TICK = 1.0                  # seconds between checks when nothing happens
DONE_TICK = 30.0            # the same for a finished pod (only its deletion is left to handle)
MAX_BACKOFF = 20.0          # restart back-off cap (the kubelet's is 5 minutes)
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


class PodWorker:
    def __init__(self, node, pod: dict):
        self.node, self.pod = node, pod
        meta = pod["metadata"]
        self.uid, self.key = meta["uid"], f"{meta['namespace']}/{meta['name']}"
        self.folder: Path = node.pods_dir / self.uid
        self.records = [ContainerRecord(c, True, self.uid) for c in pod["spec"].get("initContainers") or ()]
        self.records += [ContainerRecord(c, False, self.uid) for c in pod["spec"]["containers"]]
        self.conditions = Conditions()
        self.wake = threading.Event()
        self.deleted = False
        self.stage = "setup"           # setup | init | main | done
        self.phase, self.reason, self.message = "Pending", None, None
        self.start_time = time.time()
        self.volumes = None
        self.finalizing = False
        self._setup_retry_at = 0.0
        self._reported = None
        self._seen_meta = None
        self.thread = threading.Thread(target=self._run, name=f"pod-{self.key}", daemon=True)

    # -- events from the agent ----------------------------------------------------------------
    def start(self):
        self.thread.start()

    def update(self, pod: dict):
        self.pod = pod
        self.wake.set()

    def gone(self):
        self.deleted = True
        self.wake.set()

    # -- the loop -----------------------------------------------------------------------------
    def _run(self):
        while not self.node.stopping.is_set():
            if self.deleted:
                self.kill_all(0)
                self._remove_folder()
                return
            try:
                self._step(self.pod)
            except Exception:  # noqa: BLE001 - one pod's trouble must not take the node down
                log.exception("pod %s: worker step failed; retrying", self.key)
                time.sleep(1)
            self.wake.wait(TICK if self.stage != "done" else DONE_TICK)
            self.wake.clear()

    def _step(self, pod):
        if pod["metadata"].get("deletionTimestamp"):
            if not self.finalizing:
                self._finalize(pod)
            return
        if self.stage != "done":
            self._advance(pod)
        self._refresh_files(pod)
        self._report(pod)

    def _advance(self, pod):
        for record in self.records:
            if record.state == "running" and not record.proc.running:
                self._record_exit(record)
        self._apply_image_changes(pod)
        deadline = pod["spec"].get("activeDeadlineSeconds")
        if deadline is not None and time.time() - self.start_time > deadline:
            self.kill_all(pod["spec"].get("terminationGracePeriodSeconds", 30))
            self._finish("Failed", "DeadlineExceeded", DEADLINE_MESSAGE)
            return
        if self.stage == "setup":
            self._setup(pod)
        if self.stage == "init":
            self._run_init(pod)
        if self.stage == "main":
            self._run_main(pod)

    def _setup(self, pod):
        if time.time() < self._setup_retry_at:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = pod["metadata"]
        (self.folder / "pod.json").write_text(json.dumps(
            {"namespace": meta["namespace"], "name": meta["name"], "uid": self.uid}))
        try:
            self.volumes = PodVolumes(self.node.kube, pod, self.folder, self.node.allocatable)
            self.volumes.build()
        except (podenv.ConfigError, ApiException, OSError) as exc:
            self._setup_retry_at = time.time() + 2
            self.conditions.set("PodReadyToStartContainers", False)
            log.info("pod %s: volumes not ready: %s", self.key, _short(exc))
            return
        self.conditions.set("PodReadyToStartContainers", True)
        self.stage = "init"

    def _run_init(self, pod):
        policy = pod["spec"].get("restartPolicy", "Always")
        for record in (r for r in self.records if r.init):
            if record.sidecar:
                if record.state == "waiting":
                    self._start(pod, record)
                    return
                if record.state == "running" and not record.running:
                    return  # the next init container waits for the sidecar to have started
                if record.state == "terminated" and self._due(record):
                    self._restart(pod, record)
                continue
            if record.state == "running":
                return
            if record.state == "terminated":
                if record.terminated["exitCode"] == 0:
                    continue
                if policy == "Never":
                    self._finish("Failed")
                    return
                if self._due(record):
                    self._restart(pod, record)
                return
            self._start(pod, record)
            return
        self.stage = "main"
        for record in (r for r in self.records if not r.init):
            record.waiting = ("ContainerCreating", None)

    def _run_main(self, pod):
        policy = pod["spec"].get("restartPolicy", "Always")
        mains = [r for r in self.records if not r.init]
        for record in mains:
            if record.state == "waiting":
                self._start(pod, record)
            elif record.state == "terminated" and self._wants_restart(record, policy) and self._due(record):
                self._restart(pod, record)
        for record in (r for r in self.records if r.sidecar):
            if record.state == "terminated" and self._due(record):
                self._restart(pod, record)
        if all(r.state == "terminated" and not self._wants_restart(r, policy) for r in mains):
            for record in (r for r in self.records if r.sidecar and r.state == "running"):
                record.proc.signal(signal.SIGTERM)  # sidecars stop once the main containers are done
            failed = any(r.terminated["exitCode"] != 0 for r in mains)
            self._finish("Failed" if failed else "Succeeded")

    def _apply_image_changes(self, pod):
        """A running container whose image was changed is killed and started again with the new
        image, whatever the restart policy, as the kubelet does when a container's spec changes
        (Tekton stops sidecars this way, swapping in its `nop` image)."""
        current = {c["name"]: c for c in pod["spec"]["containers"]}
        for record in (r for r in self.records if not r.init and r.name in current):
            new = current[record.name]
            if new.get("image") == record.spec.get("image"):
                continue
            record.spec = new
            if record.state == "running":
                record.proc.signal(signal.SIGKILL)
                record.proc.proc.wait()
                self._record_exit(record)
                record.force_restart = True

    @staticmethod
    def _wants_restart(record, policy):
        if record.force_restart:
            return True
        code = record.terminated["exitCode"] if record.terminated else 0
        return policy == "Always" or (policy == "OnFailure" and code != 0)

    @staticmethod
    def _due(record):
        if record.force_restart:
            return True
        if record.restart_at is None:
            record.restart_at = time.time() + min(MAX_BACKOFF, 2 ** record.restarts)
        return time.time() >= record.restart_at

    def _restart(self, pod, record):
        record.force_restart = False
        record.last_terminated, record.terminated = record.terminated, None
        record.restarts += 1
        record.restart_at = None
        record.state = "waiting"
        self._start(pod, record)

    def _start(self, pod, record: ContainerRecord):
        try:
            spec = self.node.container_spec(pod, record.spec, self.volumes)
        except ImageError as exc:
            record.waiting = ("ErrImagePull", str(exc))
            return
        except (podenv.ConfigError, ApiException, OSError) as exc:
            record.waiting = ("CreateContainerConfigError", _short(exc))
            return
        record.image_id = spec.pop("imageID")
        record.proc = ContainerProcess(self.folder / "containers" / record.name,
                                       self.node.cgroup_parent, f"kfpt-{self.uid}-{record.name}",
                                       label=f"{self.key}/{record.name} ({record.spec.get('image')})")
        record.proc.start(spec, self.wake.set)
        record.state, record.started_at, record.waiting = "running", record.proc.started_at, (None, None)
        log.info("pod %s: started container %s", self.key, record.name)

    def _record_exit(self, record: ContainerRecord):
        result = record.proc.result()
        policy = record.spec.get("terminationMessagePolicy", "File")
        message = record.proc.termination_message(policy, result["exitCode"])
        record.terminated = terminated_state(record, result, message)
        record.state = "terminated"
        log.info("pod %s: container %s exited %s", self.key, record.name, result["exitCode"])

    def _finish(self, phase, reason=None, message=None):
        self.stage, self.phase, self.reason, self.message = "done", phase, reason, message
        for record in self.records:
            if record.state == "running" and not record.proc.running:
                self._record_exit(record)
        self._report(self.pod)
        self._tear_down()

    # -- stopping -----------------------------------------------------------------------------
    def kill_all(self, grace: float):
        """SIGTERM every running container, SIGKILL what still runs after `grace` seconds."""
        running = [r for r in self.records if r.state == "running"]
        for record in running:
            record.proc.signal(signal.SIGTERM if grace > 0 else signal.SIGKILL)
        until = time.time() + max(0.0, grace)
        while any(r.proc.running for r in running) and time.time() < until:
            time.sleep(0.1)
        for record in running:
            if record.proc.running:
                record.proc.signal(signal.SIGKILL)
        for record in running:
            if record.proc.proc:
                record.proc.proc.wait()
            self._record_exit(record)

    def _finalize(self, pod):
        """The pod is being deleted: stop it within its grace period, then delete it for good."""
        grace = pod["metadata"].get("deletionGracePeriodSeconds", 30)
        self.kill_all(grace)
        if self.stage != "done":
            mains = [r for r in self.records if not r.init and r.terminated]
            ok = mains and len(mains) == len([r for r in self.records if not r.init]) and \
                all(r.terminated["exitCode"] == 0 for r in mains)
            self.stage, self.phase = "done", "Succeeded" if ok else "Failed"
        self._report(pod)
        meta = pod["metadata"]
        self.node.kube.delete(f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                              {"gracePeriodSeconds": 0, "preconditions": {"uid": self.uid}})
        self.finalizing = True
        self._tear_down()

    def _tear_down(self):
        """A finished pod's volumes and container layers go (logs and statuses stay), as the
        kubelet tears down the volumes of terminated pods: argoexec copies 200+ MB into each."""
        for record in self.records:
            if record.proc:
                record.proc.remove_layers()
        safe_rmtree(self.folder / "volumes")

    def _remove_folder(self):
        if not safe_rmtree(self.folder):
            log.warning("pod %s: %s still has mounts; left in place", self.key, self.folder)

    # -- reporting ----------------------------------------------------------------------------
    def _refresh_files(self, pod):
        meta = pod["metadata"]
        seen = (meta.get("labels"), meta.get("annotations"))
        if self.volumes and self.stage in ("init", "main") and \
                (seen != self._seen_meta or self.volumes.token_due()):
            self._seen_meta = seen
            try:
                self.volumes.refresh(pod)
            except (podenv.ConfigError, ApiException, OSError) as exc:
                log.warning("pod %s: refreshing files: %s", self.key, _short(exc))

    def _update_conditions(self):
        mains = [r for r in self.records if not r.init]
        initialized = self.stage in ("main", "done") and all(
            r.sidecar or (r.terminated and r.terminated["exitCode"] == 0) for r in self.records if r.init)
        pending = [r.name for r in self.records if r.init and not r.sidecar and not
                   (r.terminated and r.terminated["exitCode"] == 0)]
        self.conditions.set("Initialized", initialized, None if initialized else "ContainersNotInitialized",
                            None if initialized else f"containers with incomplete status: [{' '.join(pending)}]")
        unready = [r.name for r in self.records if (not r.init or r.sidecar) and not r.running]
        ready = not unready and self.stage == "main"
        reason = "PodCompleted" if self.stage == "done" else "ContainersNotReady"
        message = None if ready else f"containers with unready status: [{' '.join(unready)}]"
        for kind in ("ContainersReady", "Ready"):
            self.conditions.set(kind, ready, None if ready else reason,
                                None if ready or self.stage == "done" else message)
        if self.stage == "main" and any(r.running or r.state == "terminated" for r in mains):
            self.phase = "Running"

    def _report(self, pod):
        self._update_conditions()
        status = pod_status(pod, self.records, self.conditions, self.phase, self.start_time,
                            self.reason, self.message)
        if status == self._reported:
            return
        meta = pod["metadata"]
        try:
            self.node.kube.patch(f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status",
                                 {"status": status})
            self._reported = status
        except ApiException as exc:
            if exc.status != 404:
                log.warning("pod %s: status update failed: %s", self.key, _short(exc))


def _short(exc) -> str:
    if isinstance(exc, ApiException):
        try:
            return json.loads(exc.body).get("message", exc.reason)
        except (TypeError, ValueError):
            return f"{exc.status} {exc.reason}"
    return str(exc)
