"""One Python virtual environment per image, created once and reused across steps and runs.

The image is never pulled: a step whose image runs Python gets `python3` (and `pip`) from the
environment of its image, so KFP's own `python3 -m pip install ...` line installs a component's
`packages_to_install` there, as it would in the container. Creating one is cheap: `venv
--without-pip` plus a `.pth` line to a seed directory holding copies of this machine's `pip`
and `kfp` (so `pip install 'kfp==<this version>' --no-deps` is already satisfied, no network).
A step pinning another kfp version gets an environment of its own (key: image + kfp pin), so
two KFP versions never swap under a running step. `pip` runs one at a time per environment
(a lock taken by the `python3` wrapper), as concurrent installs into one environment corrupt it.
"""
from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

_PIN = re.compile(r"kfp==([0-9][0-9A-Za-z.+!-]*)")
_PY = re.compile(r"(^|[\s/'\"])python3?(\s|$|['\"])")

PYTHON_WRAPPER = """#!/bin/sh
# kfp-translate run: python3 of {label}; pip runs one at a time here, and only when needed.
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
    exec "{python}" "{piplock}" "$@"
fi
exec "{python}" "$@"
"""
PIP_WRAPPER = """#!/bin/sh
exec "{venv}/kfpt-bin/python3" -m pip "$@"
"""
# The `-m pip` handler beside every wrapper (a copy of piplock.py: one pip at a time, none when
# every requirement is already installed).
PIPLOCK = (Path(__file__).resolve().parent / "piplock.py").read_text()


def kfp_pin(argv: list[str]) -> str | None:
    for text in argv:
        m = _PIN.search(text)
        if m:
            return m.group(1)
    return None


def runs_python(image: str, argv: list[str]) -> bool:
    """Whether a step needs Python: a python image, or a command that calls python."""
    name = image.rsplit("/", 1)[-1].lower()
    return "python" in name or any(_PY.search(x) for x in argv[:8])


def default_root() -> Path:
    """Where environments live unless a run names a folder: one per user, shared by every run and
    work dir (KFP_TRANSLATE_VENVS, else $XDG_CACHE_HOME/kfp-translate/run-venvs), so a step's
    packages (pandas, xgboost, ...) install once per image, not once per work dir."""
    if os.environ.get("KFP_TRANSLATE_VENVS"):
        return Path(os.environ["KFP_TRANSLATE_VENVS"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kfp-translate" / "run-venvs"


def _host_kfp_version() -> str:
    return importlib.metadata.version("kfp")


class Venvs:
    def __init__(self, root: Path, python: str | None = None):
        self.root = Path(root).resolve()
        self.python = python or sys.executable
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.created: list[str] = []  # images whose environment this process created

    # --- the seed: this machine's pip and kfp, copied once ---------------------------------

    def _copy_dist(self, dist_name: str, target: Path) -> None:
        dist = importlib.metadata.distribution(dist_name)
        tops = (dist.read_text("top_level.txt") or dist_name).split()
        site = Path(str(dist.locate_file("")))
        for top in tops:
            src = site / top
            if src.is_dir():
                shutil.copytree(src, target / top, ignore=shutil.ignore_patterns("__pycache__"))
        info = Path(str(dist._path))  # type: ignore[attr-defined]  # the .dist-info directory
        shutil.copytree(info, target / info.name)

    def seed(self) -> Path:
        seed = self.root / ".seed" / f"kfp-{_host_kfp_version()}-{sys.version_info[0]}.{sys.version_info[1]}"
        with self._file_lock(self.root / ".seed.lock"):
            if not (seed / ".ready").exists():
                tmp = seed.with_name(seed.name + ".tmp")
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir(parents=True)
                self._copy_dist("pip", tmp)
                self._copy_dist("kfp", tmp)
                # steps run with PYTHONDONTWRITEBYTECODE: compile once here, or pip costs 0.4 s a step
                subprocess.run([self.python, "-m", "compileall", "-q", "-j", "0", str(tmp)], check=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                (tmp / ".ready").write_text("")
                shutil.rmtree(seed, ignore_errors=True)
                tmp.rename(seed)
        return seed

    # --- environments ---------------------------------------------------------------------

    @staticmethod
    def key(image: str, pin: str | None) -> str:
        base = re.sub(r"[^a-zA-Z0-9.-]+", "-", image).strip("-")[:60] or "image"
        return f"{base}-{hashlib.sha256(f'{image}|{pin}'.encode()).hexdigest()[:10]}"

    def _file_lock(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        return _Flock(path)

    def bin_dir(self, image: str, pin: str | None) -> Path:
        """The directory to put first on PATH for a step of this image (created on first use)."""
        key = self.key(image, pin)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        venv = self.root / key
        with lock, self._file_lock(self.root / f"{key}.lock"):
            if not (venv / ".ready").exists():
                self._create(venv, image, pin)
                self.created.append(image)
            _write_if_changed(venv / "kfpt-bin" / "piplock.py", PIPLOCK)  # environments outlive versions
        return venv / "kfpt-bin"

    def _create(self, venv: Path, image: str, pin: str | None) -> None:
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([self.python, "-m", "venv", "--without-pip", str(venv)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        site = next((venv / "lib").glob("python*/site-packages"))
        seed = self.seed()
        # pip always; kfp only when the steps pin this machine's version (else pip installs the pin)
        (site / "kfpt-seed.pth").write_text(f"{seed}\n")
        if pin is not None and pin != _host_kfp_version():
            hidden = site / "kfpt-pip-only"
            hidden.mkdir()
            for item in seed.iterdir():
                if item.name.startswith("pip"):
                    os.symlink(item, hidden / item.name)
            (site / "kfpt-seed.pth").write_text(f"{hidden}\n")
        bin_dir = venv / "kfpt-bin"
        bin_dir.mkdir()
        write_python_wrappers(bin_dir, f"{venv}/bin/python", f"the environment for image {image}")
        for name in ("pip", "pip3"):
            (bin_dir / name).write_text(PIP_WRAPPER.format(venv=venv))
            (bin_dir / name).chmod(0o755)
        (venv / "kfpt-image.txt").write_text(image + "\n")
        (venv / ".ready").write_text("")


def write_python_wrappers(bin_dir: Path, python: str, label: str) -> None:
    """`python3` and `python` in bin_dir running `python`, with `-m pip` going through piplock.py
    (copied beside them). The runner's environments use it, and so does the Tekton test harness."""
    piplock = bin_dir / "piplock.py"
    _write_if_changed(piplock, PIPLOCK)
    text = PYTHON_WRAPPER.format(python=python, piplock=piplock, label=label.replace("\n", " "))
    for name in ("python3", "python"):
        _write_if_changed(bin_dir / name, text)
        (bin_dir / name).chmod(0o755)


def _write_if_changed(path: Path, text: str) -> None:
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class _Flock:
    """An exclusive lock on a file: two `translate run` sharing a work dir create each venv once."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.fh = open(self.path, "w")
        fcntl.flock(self.fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


