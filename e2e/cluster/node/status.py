"""Pod and container status objects in the API's JSON form, built as the kubelet reports them."""
import time
from typing import Optional

NODE_IP = "127.0.0.1"
POD_MESSAGE_BYTES = 12 * 1024  # kubelet: MaxPodTerminationMessageLogLength, shared by the containers


def rfc3339(t: Optional[float]) -> Optional[str]:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class ContainerRecord:
    """What the node knows about one container of the pod, across restarts."""

    def __init__(self, spec: dict, init: bool, uid: str):
        self.spec, self.init, self.uid = spec, init, uid
        self.name = spec["name"]
        self.sidecar = init and spec.get("restartPolicy") == "Always"
        self.proc = None                  # runtime.ContainerProcess of the current run
        self.restarts = 0
        self.state = "waiting"            # waiting | running | terminated
        self.waiting = ("PodInitializing" if init else "ContainerCreating", None)
        self.terminated: Optional[dict] = None
        self.last_terminated: Optional[dict] = None
        self.started_at: Optional[float] = None
        self.restart_at: Optional[float] = None
        self.force_restart = False        # its spec changed while it ran: start it again at once
        self.image_id = ""

    @property
    def container_id(self) -> str:
        return f"kfpt://{self.uid}-{self.name}-{self.restarts}"

    @property
    def running(self) -> bool:
        """Running as the API means it: its command has started (not just its runner)."""
        return self.state == "running" and self.proc.exec_ready.is_set()

    def status(self, message_cap: int) -> dict:
        running = self.running
        status = {"name": self.name, "image": self.spec.get("image", ""), "imageID": self.image_id,
                  "ready": running, "started": running, "restartCount": self.restarts,
                  "state": self._state(message_cap), "lastState": {}}
        if self.last_terminated:
            status["lastState"] = {"terminated": _capped(self.last_terminated, message_cap)}
        if self.state != "waiting" or self.last_terminated:
            status["containerID"] = self.container_id
        return status

    def _state(self, message_cap):
        if self.state == "running" and not self.running:
            return {"waiting": {"reason": "ContainerCreating"}}
        if self.state == "running":
            return {"running": {"startedAt": rfc3339(self.started_at)}}
        if self.state == "terminated":
            return {"terminated": _capped(self.terminated, message_cap)}
        reason, message = self.waiting
        return {"waiting": {"reason": reason, **({"message": message} if message else {})}}


def _capped(terminated: dict, cap: int) -> dict:
    if "message" in terminated and len(terminated["message"].encode()) > cap:
        terminated = dict(terminated, message=terminated["message"].encode()[:cap].decode(errors="ignore"))
    return terminated


def terminated_state(record: ContainerRecord, result: dict, message: str) -> dict:
    """state.terminated for a finished run (reasons as containerd and the kubelet give them)."""
    code = result["exitCode"]
    if result.get("startError"):
        reason, message = "StartError", result["startError"]
    elif result.get("oomKilled"):
        reason = "OOMKilled"
    else:
        reason = "Completed" if code == 0 else "Error"
    state = {"exitCode": code, "reason": reason, "startedAt": rfc3339(record.started_at),
             "finishedAt": rfc3339(record.proc.finished_at or time.time()),
             "containerID": record.container_id}
    if result.get("signal"):
        state["signal"] = result["signal"]
    if message:
        state["message"] = message
    return state


class Conditions:
    """Pod conditions the node owns, with lastTransitionTime kept until a status changes."""
    OWNED = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")

    def __init__(self):
        self._current: dict = {}

    def set(self, kind: str, ok: bool, reason: str = None, message: str = None):
        value = "True" if ok else "False"
        old = self._current.get(kind)
        since = old["lastTransitionTime"] if old and old["status"] == value else rfc3339(time.time())
        cond = {"type": kind, "status": value, "lastProbeTime": None, "lastTransitionTime": since}
        if reason:
            cond["reason"] = reason
        if message:
            cond["message"] = message
        self._current[kind] = cond

    def merged(self, api_conditions: list) -> list:
        """Ours, plus the ones others own (PodScheduled from the scheduler, DisruptionTarget, ...)."""
        others = [c for c in api_conditions or () if c.get("type") not in self._current]
        if not any(c.get("type") == "PodScheduled" for c in others) and "PodScheduled" not in self._current:
            others.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                           "lastTransitionTime": rfc3339(time.time())})
        return others + [self._current[k] for k in self.OWNED if k in self._current]


def pod_status(pod: dict, records: list, conditions: Conditions, phase: str, start_time: float,
               reason: str = None, message: str = None) -> dict:
    count = max(1, len(records))
    cap = POD_MESSAGE_BYTES // count
    inits = [r.status(cap) for r in records if r.init]
    mains = sorted((r.status(cap) for r in records if not r.init), key=lambda s: s["name"])
    status = {
        "phase": phase, "conditions": conditions.merged((pod.get("status") or {}).get("conditions")),
        "hostIP": NODE_IP, "hostIPs": [{"ip": NODE_IP}], "podIP": NODE_IP, "podIPs": [{"ip": NODE_IP}],
        "startTime": rfc3339(start_time), "containerStatuses": mains,
    }
    if inits:
        status["initContainerStatuses"] = inits
    if pod["metadata"].get("generation"):
        status["observedGeneration"] = pod["metadata"]["generation"]  # the spec this status is about
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    return status
