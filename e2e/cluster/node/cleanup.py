"""Remove what a stopped (or killed) agent left: container processes, cgroups, pod folders.
Containers' mounts live in their own mount namespaces and vanish with their processes, so after
the processes are gone only plain folders remain. Safe to run any number of times."""
import logging
import os
import signal
import time
from pathlib import Path

from .fsutil import mounts_under, safe_rmtree
from .runtime import memory_cgroup_parent

log = logging.getLogger("node.cleanup")


def container_pids(pods_dir: Path) -> list:
    """Host PIDs of the containers' first processes and of their runners still alive."""
    pids = []
    for spec_file in pods_dir.glob("*/containers/*/spec.json"):
        folder = spec_file.parent
        try:
            pids.append(int((folder / "pid").read_text()))
        except (OSError, ValueError):
            pass
    me = str(Path(__file__).resolve().parent / "contain.py")
    for pid, cmd in _processes():
        if len(cmd) > 2 and cmd[1] == me and cmd[2].startswith(str(pods_dir)):
            pids.append(pid)
    return pids


def server_pids(state: Path) -> list:
    """The Go nodeserver of this state folder, if a killed agent left it running."""
    return [pid for pid, cmd in _processes()
            if cmd and Path(cmd[0]).name.startswith("nodeserver") and cmd[1:3] == ["--state", str(state)]]


def _processes():
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            yield int(proc.name), [c.decode(errors="replace") for c in cmd]


def cleanup(state: Path):
    pods_dir = state / "pods"
    for pid in server_pids(state):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    if pods_dir.is_dir():
        for _ in range(30):
            pids = [p for p in container_pids(pods_dir) if _alive(p)]
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
    parent = memory_cgroup_parent()
    if parent is not None:
        for group in parent.glob("kfpt-*"):
            try:
                group.rmdir()
            except OSError:
                pass
    for folder in sorted(pods_dir.iterdir()) if pods_dir.is_dir() else ():
        for point in mounts_under(folder):  # never expected: containers mount in their own namespaces
            os.system(f"umount -l '{point}'")
        if not safe_rmtree(folder):
            log.warning("could not remove %s", folder)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1].split()[0] != "Z"
    except OSError:
        return False
