"""A step's own view of the file system: its pod paths (`/kfp/...`, volume mount paths) are real
directories of its sandbox, without root and without rewriting any string.

The step starts under a small setup program that enters a new user and mount namespace (Linux,
unprivileged: the step keeps this machine's user id), builds a root whose top-level entries are
bind mounts of this machine's (so tools, Python and the work dir are where they are), in which
each mount path is a bind mount of its sandbox directory (every directory on the way is a fresh
one holding bind mounts of the host's entries), then `chroot`s there and execs the command. A
step's process writes to `/mnt/state` and lands in the run's volume directory; a value that
merely looks like a path reaches the step as written.
"""
from __future__ import annotations

import functools
import json
import subprocess
import sys

SETUP = r'''
import ctypes, json, os, sys
plan, argv = json.loads(sys.argv[1]), sys.argv[3:]
libc = ctypes.CDLL(None, use_errno=True)
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
def fail(what):
    e = ctypes.get_errno()
    sys.stderr.write("kfp-translate sandbox: %s: %s\n" % (what, os.strerror(e)))
    sys.exit(125)
def write(path, text):
    with open(path, "w") as f:
        f.write(text)
uid, gid = os.getuid(), os.getgid()
if libc.unshare(0x10000000 | 0x00020000) != 0:  # CLONE_NEWUSER | CLONE_NEWNS
    fail("cannot enter a user and mount namespace")
write("/proc/self/setgroups", "deny")
write("/proc/self/uid_map", "%d %d 1" % (uid, uid))
write("/proc/self/gid_map", "%d %d 1" % (gid, gid))
if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
    fail("cannot make mounts private")
root, targets = plan["root"], plan["mounts"]
def bind(src, dst):
    if libc.mount(src.encode(), dst.encode(), None, MS_BIND | MS_REC, None) != 0:
        fail("cannot bind %s on %s" % (src, dst))
synthetic = {"/"}
for t in targets:
    d = os.path.dirname(t)
    while d not in synthetic:
        synthetic.add(d)
        d = os.path.dirname(d)
for d in sorted(synthetic):
    inside = root + d
    os.makedirs(inside, exist_ok=True)
    try:
        names = os.listdir(d)
    except OSError:
        names = []
    for n in names:
        host = os.path.join(d, n)
        if host in synthetic or host in targets or host == root.rstrip("/"):
            continue
        mine = os.path.join(inside, n)
        if os.path.islink(host):
            os.symlink(os.readlink(host), mine)
            continue
        if os.path.isdir(host):
            os.makedirs(mine, exist_ok=True)
        else:
            open(mine, "a").close()
        bind(host, mine)
for t in sorted(targets):
    os.makedirs(root + t, exist_ok=True)
    bind(targets[t], root + t)
os.chroot(root)
os.chdir(plan["cwd"])
try:
    os.execvpe(argv[0], argv, os.environ)
except OSError as e:
    sys.stderr.write("kfp-translate sandbox: cannot start %r: %s\n" % (argv[0], e.strerror))
    sys.exit(127)
'''


def wrap(argv: list[str], root: str, mounts: dict[str, str], cwd: str) -> list[str]:
    """The command line that runs `argv` with `mounts` (path inside → directory) in place."""
    plan = json.dumps({"root": root, "mounts": mounts, "cwd": cwd})
    return [sys.executable, "-I", "-c", SETUP, plan, "--", *argv]


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """Whether this machine lets an unprivileged process build the sandbox (Linux user namespaces)."""
    if not sys.platform.startswith("linux"):
        return False
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        try:
            done = subprocess.run(wrap(["true"], tmp + "/root", {"/kfp": tmp}, "/"), capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0
