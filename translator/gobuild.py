"""Build a Go helper (a `tools/<name>` module: argolint, tektonlint, ...) into a per-user cache.

`translate lint` needs the engine's own Go validation code. After `pip install` there is no
prebuilt binary: the first use builds it from the sources shipped with the package (one
progress line on stderr), keyed by a digest of those sources, so an upgrade rebuilds and
nothing is rebuilt otherwise. Without Go, one line says what to install.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from .errors import TranslateError

CACHE_ENV = "KFP_TRANSLATE_CACHE"
"""Folder for built helpers (default: $XDG_CACHE_HOME/kfp-translate, else ~/.cache/kfp-translate)."""

_PACKAGED = Path(__file__).resolve().parent / "_gotools"  # the tools/ sources, shipped as package data
_SOURCE_TREE = Path(__file__).resolve().parent.parent / "tools"
_SOURCE_FILES = ("*.go", "go.mod", "go.sum")
# How every Go program of the project is built (the Go helpers, the e2e cluster's programs, the test
# oracles): equal flags give equal package build IDs, so Go's build cache compiles each shared package
# (Argo's, Tekton's, Kubernetes' client libraries) once. No cgo; -trimpath; no DWARF from the compiler,
# since the linkers drop it anyway (-s -w, or no debugger here): 12% less compile CPU, measured on
# k8s.io/client-go's tree (289 -> 254 CPU-s), nothing changed at run time.
BUILD_FLAGS = ("-trimpath", "-gcflags=all=-dwarf=false")
BUILD_ENV = {"CGO_ENABLED": "0"}


class GoBuildError(TranslateError):
    """A Go helper could not be built."""


class GoMissingError(GoBuildError):
    """The Go toolchain is not installed."""


def source_dir(name: str) -> Path:
    """Where the helper's Go module lives: the source tree's `tools/<name>`, else the packaged copy."""
    for root in (_SOURCE_TREE, _PACKAGED):
        if (root / name / "go.mod").is_file():
            return root / name
    return _SOURCE_TREE / name  # missing: ensure_built says so


def cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kfp-translate"


def source_digest(src: Path) -> str:
    digest = hashlib.sha256()
    files = sorted({p for pattern in _SOURCE_FILES for p in src.glob(pattern) if not p.name.endswith("_test.go")})
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cached_binary(name: str, src: Path | None = None) -> Path:
    src = src or source_dir(name)
    return cache_root() / f"{name}-{source_digest(src)}" / name


def required_go(src: Path) -> str:
    for line in (src / "go.mod").read_text().splitlines():
        if line.startswith("go "):
            return line.split()[1]
    return "?"


def find_go() -> str | None:
    return shutil.which("go")


def ensure_built(name: str, src: Path | None = None, progress: TextIO | None = None) -> Path:
    """The cached binary of helper `name`, built first if it is not there yet."""
    src = src or source_dir(name)
    if not (src / "go.mod").is_file():
        raise GoBuildError(f"the Go sources of {name} are not installed (no {src / 'go.mod'})")
    exe = cached_binary(name, src)
    if exe.is_file() and os.access(exe, os.X_OK):
        return exe
    go = find_go()
    if go is None:
        raise GoMissingError(f"{name} is built once from its Go sources, and that needs Go >= {required_go(src)}: "
                             "install Go (https://go.dev/dl/, or your system's golang package) and run this again")
    print(f"translate: building {name} (once, into {exe.parent}) ...", file=progress or sys.stderr, flush=True)
    exe.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=exe.parent, prefix=f".{name}-", suffix=".tmp")
    os.close(fd)
    try:
        proc = subprocess.run([go, "build", *BUILD_FLAGS, "-o", tmp, "."], cwd=src, capture_output=True, text=True,
                              check=False, env={**os.environ, **BUILD_ENV})
        if proc.returncode != 0:
            detail = " | ".join(proc.stderr.strip().splitlines()[:3])
            raise GoBuildError(f"building {name} failed (go build in {src}, exit {proc.returncode}): {detail}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, exe)  # atomic: a concurrent build never leaves a half-written binary
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return exe
