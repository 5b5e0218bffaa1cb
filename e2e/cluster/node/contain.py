"""Run one container: new mount, PID, UTS and IPC namespaces, an overlay root, the pod's mounts.

Started by the node agent as `python contain.py <spec.json>` (by file path, so that nothing of the
project is imported). The spec is written by `runtime.py`. This process unshares the namespaces and
forks; the child becomes PID 1 of the new PID namespace, builds the root, enters it and execs the
container's command; this process waits and records how it ended in the container folder:
  pid     host PID of the container's first process (written once the command runs)
  status  {"exitCode": n, "signal": s|null, "oomKilled": bool, "startError": str|null}
It uses only the standard library, as it runs before anything else is set up.
"""
import ctypes
import json
import os
import signal
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID = 0x20000, 0x4000000, 0x8000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG = 1
START_ERROR_EXIT = 128  # what the kubelet reports for a container that could not start

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source, target, fstype=None, flags=0, data=None):
    enc = (lambda s: s.encode() if s is not None else None)
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {source} on {target}")


def bind(source, target, readonly=False):
    mount(source, target, None, MS_BIND | MS_REC)
    if readonly:
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)


def resolve_in_root(root, path):
    """The host path of `path` inside `root`, following symlinks as the container would see them
    (an absolute link such as /var/run -> /run stays inside the root)."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if os.path.islink(candidate):
            hops += 1
            if hops > 40:
                raise OSError(f"too many symlinks under {path}")
            link = os.readlink(candidate)
            if link.startswith("/"):
                resolved = []
            parts = [p for p in link.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def mount_point(root, path, is_dir):
    """Create (inside the root) what a mount on `path` needs, and return its host path."""
    target = resolve_in_root(root, path)
    if is_dir:
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "a").close()
    return target


def build_root(spec):
    root = spec["rootfs"]
    layer = spec["root"]
    if layer["kind"] == "dir":
        _overlay(layer["path"], root, spec, "root")
    elif layer["kind"] == "empty":
        pass  # nothing but what is bound in (an image holding one program)
    else:  # the host's own files: one overlay per top-level folder, links copied as they are
        for name in layer["overlay"]:
            lower = "/" + name
            if os.path.islink(lower):
                if not os.path.lexists(os.path.join(root, name)):
                    os.symlink(os.readlink(lower), os.path.join(root, name))
            elif os.path.isdir(lower):
                os.makedirs(os.path.join(root, name), exist_ok=True)
                _overlay(lower, os.path.join(root, name), spec, name)
    for name, mode in (("proc", 0o555), ("sys", 0o555), ("dev", 0o755), ("tmp", 0o1777),
                       ("root", 0o700), ("run", 0o755), ("home", 0o755)):
        path = os.path.join(root, name)
        if not os.path.lexists(path):
            os.mkdir(path)
            os.chmod(path, mode)
    mount("proc", os.path.join(root, "proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    bind("/sys", os.path.join(root, "sys"), readonly=True)
    _build_dev(os.path.join(root, "dev"))


def _overlay(lower, target, spec, name):
    upper = os.path.join(spec["upper"], name)
    work = os.path.join(spec["work"], name)
    os.makedirs(upper, exist_ok=True)
    os.makedirs(work, exist_ok=True)
    mount("overlay", target, "overlay", 0, f"lowerdir={lower},upperdir={upper},workdir={work}")


def _build_dev(dev):
    mount("tmpfs", dev, "tmpfs", MS_NOSUID, "mode=755,size=65536k")
    for node in ("null", "zero", "full", "random", "urandom", "tty"):
        open(os.path.join(dev, node), "a").close()
        bind("/dev/" + node, os.path.join(dev, node))
    os.mkdir(os.path.join(dev, "pts"))
    mount("devpts", os.path.join(dev, "pts"), "devpts", MS_NOSUID | MS_NOEXEC,
          "newinstance,ptmxmode=0666,mode=0620")
    os.symlink("pts/ptmx", os.path.join(dev, "ptmx"))
    os.mkdir(os.path.join(dev, "shm"))
    mount("shm", os.path.join(dev, "shm"), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=65536k")
    for name, link in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                       ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(link, os.path.join(dev, name))


def apply_mounts(spec):
    """The pod's volume mounts, in the order given (a later mount may sit inside an earlier one)."""
    for m in spec["mounts"]:
        source = m["source"]
        target = mount_point(spec["rootfs"], m["target"], os.path.isdir(source))
        bind(source, target, readonly=m.get("readOnly", False))


def adjust_image(spec):
    """Make the host's files look like the image: pip may install (no PEP 668 marker, as in the
    official python images) and `python` exists where only `python3` does."""
    root = spec["rootfs"]
    if spec.get("removeExternallyManaged"):
        lib = resolve_in_root(root, "/usr/lib")
        for name in os.listdir(lib) if os.path.isdir(lib) else ():
            marker = os.path.join(lib, name, "EXTERNALLY-MANAGED")
            if name.startswith("python3") and os.path.exists(marker):
                os.unlink(marker)
    if spec.get("pythonAlias"):
        python = resolve_in_root(root, "/usr/bin/python")
        local = resolve_in_root(root, "/usr/local/bin/python")
        if not os.path.lexists(python) and not os.path.lexists(local) and \
                os.path.exists(resolve_in_root(root, "/usr/bin/python3")):
            os.makedirs(os.path.dirname(local), exist_ok=True)
            os.symlink("/usr/bin/python3", local)


def child(spec, report_fd):
    """PID 1 of the container: build everything, enter the root, exec the command."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    if spec.get("cgroup"):
        with open(os.path.join(spec["cgroup"], "cgroup.procs"), "w") as f:
            f.write("0")
    build_root(spec)
    apply_mounts(spec)
    adjust_image(spec)
    hostname = spec["hostname"].encode()
    _check(_libc.sethostname(hostname, len(hostname)), "sethostname")
    os.chroot(spec["rootfs"])
    os.chdir("/")
    os.makedirs(spec["workingDir"], exist_ok=True)
    os.chdir(spec["workingDir"])
    if spec.get("runAsUser") is not None:
        gid = spec.get("runAsGroup")
        gid = spec["runAsUser"] if gid is None else gid
        os.setgroups([])
        os.setgid(gid)
        os.setuid(spec["runAsUser"])
    default_signals()
    argv = spec["argv"]
    os.execvpe(argv[0], argv, spec["env"])  # the report pipe closes on exec: that says "running"


def default_signals():
    """A container starts with every signal at its default action and none blocked, as runc
    starts it. Ignored signals survive exec: without this, Python's own SIGPIPE ignore (and a
    SIGINT ignored by a shell that started the node in the background) would reach every pod."""
    for sig in range(1, signal.NSIG):
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            _default_action(sig)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


# rt_sigaction's number; glibc's own wrappers refuse signals 32 and 33 (its internal ones), which a
# parent may still have ignored, so the call goes to the kernel directly.
_RT_SIGACTION = {"x86_64": 13, "aarch64": 134}.get(os.uname().machine)


def _default_action(sig):
    if _RT_SIGACTION is None:
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
        return
    action = ctypes.create_string_buffer(32)  # struct kernel_sigaction, all zero: SIG_DFL, no flags, empty mask
    _libc.syscall(ctypes.c_long(_RT_SIGACTION), ctypes.c_long(sig), action, None, ctypes.c_long(8))


def main(path):
    with open(path) as f:
        spec = json.load(f)
    read_end, write_end = os.pipe()  # both close on exec
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC), "unshare")
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            child(spec, write_end)
        except BaseException as exc:  # noqa: BLE001 - anything that stops the start is reported
            message = f"failed to start container: {exc}"
            os.write(write_end, message.encode()[:4000])
            os.write(2, (message + "\n").encode())
        os._exit(START_ERROR_EXIT)
    os.close(write_end)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, _f: os.kill(pid, signum))
    start_error = b""
    while chunk := os.read(read_end, 4096):
        start_error += chunk
    if not start_error:
        _write(os.path.join(spec["dir"], "pid"), str(pid))
    status = _wait(pid)
    status["startError"] = start_error.decode(errors="replace") or None
    status["oomKilled"] = _oom_killed(spec.get("cgroup"))
    _write(os.path.join(spec["dir"], "status"), json.dumps(status))
    return status["exitCode"]


def _wait(pid):
    while True:
        try:
            _, raw, usage = os.wait4(pid, 0)
            break
        except InterruptedError:
            continue
    # CPU of the container's first process and every descendant it waited for (the node's log
    # reports it: what a pod costs on this machine).
    cpu = round(usage.ru_utime + usage.ru_stime, 3)
    if os.WIFSIGNALED(raw):
        sig = os.WTERMSIG(raw)
        return {"exitCode": 128 + sig, "signal": sig, "cpuSeconds": cpu}
    return {"exitCode": os.WEXITSTATUS(raw), "signal": None, "cpuSeconds": cpu}


def _oom_killed(cgroup):
    if not cgroup:
        return False
    try:
        with open(os.path.join(cgroup, "memory.oom_control")) as f:
            return any(line.split() == ["oom_kill", n] and n != "0"
                       for line in f for n in line.split()[1:2])
    except OSError:
        return False


def _write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
