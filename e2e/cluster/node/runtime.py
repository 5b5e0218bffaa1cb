"""Start and watch one container process (contain.py does the namespace work inside it)."""
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

from kubernetes.utils.quantity import parse_quantity

from .fsutil import safe_rmtree

log = logging.getLogger("node.runtime")
CONTAIN = str(Path(__file__).resolve().parent / "contain.py")
MESSAGE_BYTES = 4096           # kubelet: MaxContainerTerminationMessageLength
FALLBACK_LOG_BYTES = 2048      # kubelet: MaxContainerTerminationMessageLogLength
FALLBACK_LOG_LINES = 80        # kubelet: MaxContainerTerminationMessageLogLines


def memory_cgroup_parent() -> Optional[Path]:
    """The agent's own cgroup v1 memory folder (containers' cgroups go below it), or None when the
    memory controller cannot be used here."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "memory" in controllers.split(","):
                folder = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
                return folder if (folder / "memory.limit_in_bytes").exists() else None
    except OSError:
        pass
    return None


class ContainerProcess:
    """One run of a container. Files live in its folder (see e2e/cluster/go/nodeserver/main.go)."""

    def __init__(self, folder: Path, cgroup_parent: Optional[Path], cgroup_name: str, label: str = ""):
        self.folder, self.label = folder, label or folder.name
        self.cgroup_parent, self.cgroup_name = cgroup_parent, cgroup_name
        self.proc: Optional[subprocess.Popen] = None
        self.started_at = self.finished_at = None
        self.cgroup: Optional[Path] = None
        self.exec_ready = threading.Event()  # its command runs (the pid file is there) or it ended

    @property
    def log_path(self) -> Path:
        return self.folder / "log"

    @property
    def termination_log(self) -> Path:
        return self.folder / "termination-log"

    def start(self, spec: dict, on_exit) -> None:
        """Start the container described by spec (see contain.py); on_exit() runs once its
        command runs and again once it ends."""
        for stale in ("pid", "status", "rootfs", "upper", "work"):
            path = self.folder / stale
            if path.is_dir():
                if not safe_rmtree(path):
                    raise OSError(f"{path} still has mounts")
            elif path.exists():
                path.unlink()
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "rootfs").mkdir()
        self.termination_log.write_bytes(b"")
        self.termination_log.chmod(0o666)  # as the kubelet makes it: any user may write it
        spec = dict(spec, dir=str(self.folder), rootfs=str(self.folder / "rootfs"),
                    upper=str(self.folder / "upper"), work=str(self.folder / "work"),
                    cgroup=self._make_cgroup(spec.pop("memoryLimit", None)))
        spec["mounts"] = list(spec["mounts"]) + [
            {"source": str(self.termination_log), "target": spec.pop("terminationMessagePath")}]
        (self.folder / "spec.json").write_text(json.dumps(spec))
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, CONTAIN, str(self.folder / "spec.json")], stdin=subprocess.DEVNULL,
                stdout=out, stderr=out, cwd="/", start_new_session=True, close_fds=True)
        self.started_at = time.time()
        threading.Thread(target=self._wait, args=(on_exit,), daemon=True,
                         name=f"wait-{self.cgroup_name}").start()

    def _wait(self, on_exit):
        while self.proc.poll() is None and not (self.folder / "pid").exists():
            time.sleep(0.02)  # the namespaces and the root take a moment to build
        self.exec_ready.set()
        on_exit()
        self.proc.wait()
        self.finished_at = time.time()
        outcome = self.result()
        log.info("container %s ended: exit %s, %.2f CPU-s in %.1f s", self.label, outcome.get("exitCode"),
                 outcome.get("cpuSeconds") or 0.0, self.finished_at - self.started_at)
        if self.cgroup is not None:
            for _ in range(50):  # the cgroup empties a moment after the last process ends
                try:
                    self.cgroup.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
        on_exit()

    def _make_cgroup(self, limit: Optional[str]) -> Optional[str]:
        if not limit or self.cgroup_parent is None:
            return None
        folder = self.cgroup_parent / self.cgroup_name
        folder.mkdir(exist_ok=True)
        size = str(int(parse_quantity(limit)))
        (folder / "memory.limit_in_bytes").write_text(size)
        swap = folder / "memory.memsw.limit_in_bytes"
        if swap.exists():
            try:
                swap.write_text(size)  # no swap beyond the limit, as a container runtime sets
            except OSError:
                pass
        self.cgroup = folder
        return str(folder)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def host_pid(self) -> Optional[int]:
        try:
            return int((self.folder / "pid").read_text())
        except (OSError, ValueError):
            return None

    def signal(self, sig: int):
        """Signal the container's first process; before it runs, its runner (which passes SIGTERM
        on, and whose death takes the container with it)."""
        if not self.running:
            return
        try:
            os.kill(self.host_pid() or self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def result(self) -> dict:
        """How the run ended: exitCode, signal, oomKilled, startError (None entries when unknown)."""
        try:
            return json.loads((self.folder / "status").read_text())
        except (OSError, ValueError):
            code = self.proc.returncode if self.proc else None
            sig = -code if code is not None and code < 0 else None
            return {"exitCode": 128 + sig if sig else (code or 0), "signal": sig, "oomKilled": False,
                    "startError": None}

    def termination_message(self, policy: str, exit_code: int) -> str:
        """The kubelet's rule: the last 4096 bytes of the termination-message file; with
        FallbackToLogsOnError and a failure, the last 80 lines (2048 bytes) of the log if it is empty."""
        message = _tail_bytes(self.termination_log, MESSAGE_BYTES)
        if not message and policy == "FallbackToLogsOnError" and exit_code != 0:
            lines = _tail_bytes(self.log_path, 1 << 20).splitlines(keepends=True)[-FALLBACK_LOG_LINES:]
            message = b"".join(lines)[-FALLBACK_LOG_BYTES:]
        return message.decode(errors="replace")

    def remove_layers(self):
        """Drop the root and upper layer of a finished run (logs and status stay)."""
        for name in ("rootfs", "upper", "work"):
            safe_rmtree(self.folder / name)


def _tail_bytes(path: Path, size: int) -> bytes:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read()
    except OSError:
        return b""
