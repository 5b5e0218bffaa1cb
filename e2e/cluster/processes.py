"""Start, find and stop the cluster's processes by PID file, one log file each."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def pid_file(state: Path, name: str) -> Path:
    return state / "pids" / f"{name}.pid"


def running_pid(state: Path, name: str) -> int | None:
    """The PID recorded for `name` if that process is still alive (and not a zombie)."""
    path = pid_file(state, name)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return None
    return pid


def start(state: Path, name: str, argv: list[str], env: dict[str, str] | None = None,
          cwd: Path | None = None) -> int:
    """Start `argv` in its own session unless it already runs; return its PID."""
    pid = running_pid(state, name)
    if pid:
        return pid
    (state / "logs").mkdir(parents=True, exist_ok=True)
    (state / "pids").mkdir(parents=True, exist_ok=True)
    log = open(state / "logs" / f"{name}.log", "ab")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True)
    log.close()
    pid_file(state, name).write_text(f"{proc.pid}\n")
    return proc.pid


def stop(state: Path, name: str, grace: float = 20.0) -> bool:
    """SIGTERM the process group of `name`, SIGKILL after `grace` seconds; True if it was running."""
    pid = running_pid(state, name)
    pid_file(state, name).unlink(missing_ok=True)
    if not pid:
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 5.0)
        while time.monotonic() < deadline:
            if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
                _reap(pid)
                return True
            time.sleep(0.2)
    return True


def cpu_seconds(state: Path, name: str) -> float | None:
    """CPU time `name` has used so far, its own and its reaped children's (None if not running)."""
    pid = running_pid(state, name)
    if not pid:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def log_tail(state: Path, name: str, lines: int = 30) -> str:
    try:
        text = (state / "logs" / f"{name}.log").read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
