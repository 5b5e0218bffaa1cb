"""The container runner with real processes: namespaces, overlay root, mounts, exit statuses,
termination messages, memory limits. Needs root (mount and PID namespaces), as the node does."""
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from e2e.cluster.node.images import ImageTable
from e2e.cluster.node.runtime import ContainerProcess, memory_cgroup_parent

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the node runs containers as root")
HOST = {"kind": "host", "overlay": list(ImageTable().host_folders)}


def ended(proc, timeout):
    """True once the container's runner has exited (its status is written by then)."""
    try:
        proc.proc.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        return False


def run(tmp_path, argv, mounts=(), wait=30, name="c", **extra):
    """Start a container, wait for it, return (process, result, log text)."""
    done = threading.Event()
    proc = ContainerProcess(tmp_path / name, memory_cgroup_parent(), f"kfpt-test-{os.getpid()}-{name}")
    spec = {"root": HOST, "mounts": list(mounts), "terminationMessagePath": "/dev/termination-log",
            "hostname": "test-pod", "workingDir": "/", "env": {"PATH": "/usr/local/bin:/usr/bin:/bin"},
            "argv": argv}
    spec.update(extra)
    proc.start(spec, done.set)
    assert ended(proc, wait), "container did not finish"
    return proc, proc.result(), proc.log_path.read_text()


def test_exit_code_output_and_termination_message(tmp_path):
    proc, result, log = run(tmp_path, ["sh", "-c", "echo out; echo err >&2; printf done > /dev/termination-log; exit 7"])
    assert result["exitCode"] == 7 and result["signal"] is None and not result["startError"]
    assert log == "out\nerr\n"
    assert proc.termination_message("File", 7) == "done"


def test_signals_start_at_their_defaults(tmp_path):
    """As runc starts a container: no signal ignored or blocked, even when the node's own process
    ignores SIGPIPE (Python does) and SIGINT (a shell's background job does)."""
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _, result, log = run(tmp_path, ["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"])
    finally:
        signal.signal(signal.SIGINT, old)
    assert result["exitCode"] == 0
    assert log == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"


def test_pid_uts_namespaces_and_working_dir(tmp_path):
    _, result, log = run(tmp_path, ["sh", "-c", "echo $$ $(hostname) $(pwd) $HOME_X"],
                         workingDir="/srv/made/here", env={"PATH": "/usr/bin:/bin", "HOME_X": "x y"})
    assert result["exitCode"] == 0
    assert log == "1 test-pod /srv/made/here x y\n"
    assert not Path("/srv/made").exists(), "the working dir is made in the container's own layer"


def test_writes_stay_in_the_container_and_private_folders_are_hidden(tmp_path):
    marker = "/usr/local/kfpt-node-test-marker"
    script = (f"touch {marker} && echo $(ls -A /root | wc -l)$(ls -A /tmp | wc -l) && test ! -e /work && "
              "test ! -e /usr/lib/python3.11/EXTERNALLY-MANAGED && python --version")
    _, result, log = run(tmp_path, ["sh", "-c", script], removeExternallyManaged=True, pythonAlias=True)
    assert result["exitCode"] == 0, log
    assert log.splitlines()[0] == "00" and log.splitlines()[1].startswith("Python 3")
    assert not os.path.exists(marker)
    assert os.path.exists("/usr/lib/python3.11/EXTERNALLY-MANAGED") or not os.path.exists("/usr/lib/python3.11")


def test_mounts_follow_links_inside_the_root_read_only_and_single_files(tmp_path):
    volume = tmp_path / "vol"
    volume.mkdir()
    (volume / "in.txt").write_text("hello")
    single = tmp_path / "single.txt"
    single.write_text("one file")
    # /var/run is a link to /run in Debian: the mount must land in the container's /run.
    mounts = [{"source": str(volume), "target": "/var/run/argo", "readOnly": True},
              {"source": str(single), "target": "/data/file.txt"}]
    script = "cat /run/argo/in.txt; echo; cat /data/file.txt; echo; touch /var/run/argo/x 2>/dev/null || echo ro"
    _, result, log = run(tmp_path, ["sh", "-c", script], mounts=mounts)
    assert result["exitCode"] == 0
    assert log == "hello\none file\nro\n"
    assert not Path("/run/argo").exists()


def test_run_as_user(tmp_path):
    _, result, log = run(tmp_path, ["sh", "-c", "id -u; id -g; touch /etc/x 2>/dev/null || echo denied"],
                         runAsUser=1000, runAsGroup=2000)
    assert result["exitCode"] == 0
    assert log == "1000\n2000\ndenied\n"


def test_command_not_found_is_a_start_error(tmp_path):
    _, result, log = run(tmp_path, ["/no/such/program"])
    assert result["exitCode"] == 128
    assert "No such file" in result["startError"]


def test_sigterm_and_sigkill_from_the_node(tmp_path):
    done = threading.Event()
    proc = ContainerProcess(tmp_path / "t", None, "unused")
    spec = {"root": HOST, "mounts": [], "terminationMessagePath": "/dev/termination-log",
            "hostname": "t", "workingDir": "/", "env": {"PATH": "/usr/bin:/bin"},
            "argv": ["sh", "-c", "trap 'echo term; exit 143' TERM; while :; do sleep 0.1; done"]}
    proc.start(spec, done.set)
    for _ in range(100):
        if proc.host_pid():
            break
        time.sleep(0.05)
    time.sleep(0.3)
    proc.signal(signal.SIGTERM)
    assert ended(proc, 10)
    assert proc.result()["exitCode"] == 143 and proc.log_path.read_text() == "term\n"

    done2 = threading.Event()
    proc2 = ContainerProcess(tmp_path / "k", None, "unused")
    proc2.start(dict(spec, argv=["sleep", "600"]), done2.set)
    time.sleep(0.5)
    proc2.signal(signal.SIGTERM)  # PID 1 without a handler ignores SIGTERM, as in a real container
    assert not ended(proc2, 1)
    proc2.signal(signal.SIGKILL)
    assert ended(proc2, 10)
    assert proc2.result()["exitCode"] == 137 and proc2.result()["signal"] == 9


def test_fallback_to_logs_on_error(tmp_path):
    lines = "; ".join(f"echo line{i}" for i in range(100))
    proc, result, _ = run(tmp_path, ["sh", "-c", f"{lines}; exit 1"])
    message = proc.termination_message("FallbackToLogsOnError", 1)
    assert message.splitlines() == [f"line{i}" for i in range(20, 100)]
    assert proc.termination_message("File", 1) == ""


def test_termination_message_keeps_the_last_4096_bytes(tmp_path):
    proc, _, _ = run(tmp_path, ["sh", "-c", "head -c 5000 /dev/zero | tr '\\0' a > /dev/termination-log; printf END >> /dev/termination-log"])
    message = proc.termination_message("File", 0)
    assert len(message) == 4096 and message.endswith("aEND")


@pytest.mark.skipif(memory_cgroup_parent() is None, reason="no cgroup v1 memory controller here")
def test_memory_limit_ends_in_oom_kill(tmp_path):
    _, result, _ = run(tmp_path, ["python3", "-c", "x = bytearray(400 * 1024 * 1024)"], memoryLimit="64Mi")
    assert result["oomKilled"] is True and result["exitCode"] == 137
    _, result, _ = run(tmp_path, ["python3", "-c", "x = bytearray(8 * 1024 * 1024)"], memoryLimit="64Mi", name="ok")
    assert result["exitCode"] == 0 and result["oomKilled"] is False


def test_cleanup_kills_what_a_killed_agent_left_and_can_repeat(tmp_path):
    from e2e.cluster.node.cleanup import cleanup
    state = tmp_path / "state"
    folder = state / "pods" / "0000-uid" / "containers" / "left"
    done = threading.Event()
    proc = ContainerProcess(folder, None, "unused")
    spec = {"root": HOST, "mounts": [], "terminationMessagePath": "/dev/termination-log", "hostname": "t",
            "workingDir": "/", "env": {"PATH": "/usr/bin:/bin"}, "argv": ["sleep", "600"]}
    proc.start(spec, done.set)
    for _ in range(100):
        if proc.host_pid():
            break
        time.sleep(0.05)
    pid = proc.host_pid()
    assert pid and os.path.exists(f"/proc/{pid}")
    cleanup(state)
    assert ended(proc, 10), "the container's runner is gone"
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(") ")[1][0] == "Z"
    assert not (state / "pods" / "0000-uid").exists()
    cleanup(state)  # again: nothing left to do, no error


def test_an_empty_root_holds_only_what_is_bound_in(tmp_path):
    _, result, _ = run(tmp_path, ["sleep", "1"], root={"kind": "empty"})
    assert result["exitCode"] == 128 and "No such file" in result["startError"]
