"""Build the e2e cluster's programs from Go modules, once, into a per-user cache.

Every program is built from a pinned module version with the Go toolchain on this machine; a
program already in the cache under its versioned name is reused, so a warm `make e2e-up` builds
nothing. Go's own module and build caches make a rebuild after a version bump incremental.

    python -m e2e.cluster.build            # build whatever is missing, print one line per program
    python -m e2e.cluster.build --print minio   # the path of one program (built if missing)
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
KUBERNETES = "v1.37.2"
ARGO = "v4.0.7"
TEKTON = "v1.15.0"
MINIO = "v0.0.0-20260212201848-7aac2a2c5b7c"

_ARGO_MODULE = "github.com/argoproj/argo-workflows/v4"
_TEKTON_MODULE = "github.com/tektoncd/pipeline"


def cache_dir() -> Path:
    """Where built programs live: outside the work tree, so every clone on the machine shares it."""
    explicit = os.environ.get("KFPT_E2E_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kfp-translate" / "e2e"


@dataclasses.dataclass(frozen=True)
class Program:
    """One binary: either `go install PACKAGE@VERSION` or a build of a module in this repo."""

    name: str
    package: str
    version: str
    local_module: str = ""  # folder under e2e/cluster/go holding our own go.mod
    ldflags: str = "-s -w"
    overlay: dict[str, str] = dataclasses.field(default_factory=dict)  # module-relative: target -> source

    def cached_name(self) -> str:
        return f"{self.name}-{self.version}"


def _k8s_version_flags() -> str:
    major, minor = KUBERNETES.lstrip("v").split(".")[:2]
    flags = [
        f"-X k8s.io/component-base/version.gitVersion={KUBERNETES}",
        f"-X k8s.io/component-base/version.gitMajor={major}",
        f"-X k8s.io/component-base/version.gitMinor={minor}",
        "-X k8s.io/component-base/version.gitTreeState=clean",
        f"-X k8s.io/client-go/pkg/version.gitVersion={KUBERNETES}",
    ]
    return "-s -w " + " ".join(flags)


PROGRAMS: tuple[Program, ...] = (
    Program("kube", ".", KUBERNETES, local_module="kube", ldflags=_k8s_version_flags()),
    Program("workflow-controller", f"{_ARGO_MODULE}/cmd/workflow-controller", ARGO,
            ldflags=f"-s -w -X {_ARGO_MODULE}.version={ARGO}"),
    # Argo's git tree has signal_linux.go as a symlink to signal_darwin.go; module zips drop
    # symlinks, so the build overlays the missing file with the module's own darwin file.
    Program("argoexec", f"{_ARGO_MODULE}/cmd/argoexec", ARGO,
            ldflags=f"-s -w -X {_ARGO_MODULE}.version={ARGO}",
            overlay={"workflow/executor/osspecific/signal_linux.go":
                     "workflow/executor/osspecific/signal_darwin.go"}),
    Program("tekton-controller", f"{_TEKTON_MODULE}/cmd/controller", TEKTON),
    Program("tekton-webhook", f"{_TEKTON_MODULE}/cmd/webhook", TEKTON),
    Program("tekton-entrypoint", f"{_TEKTON_MODULE}/cmd/entrypoint", TEKTON),
    Program("tekton-nop", f"{_TEKTON_MODULE}/cmd/nop", TEKTON),
    Program("tekton-workingdirinit", f"{_TEKTON_MODULE}/cmd/workingdirinit", TEKTON),
    Program("tekton-sidecarlogresults", f"{_TEKTON_MODULE}/cmd/sidecarlogresults", TEKTON),
    Program("minio", "github.com/minio/minio", MINIO),
    Program("nodeserver", ".", "local", local_module="nodeserver"),
)


def _go() -> str:
    found = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if not found:
        raise SystemExit("e2e build: Go is not installed (https://go.dev/dl/); it builds the cluster's programs")
    return found


def _module_dir(go: str, module: str, version: str) -> Path:
    out = subprocess.run([go, "mod", "download", "-json", f"{module}@{version}"],
                         check=True, capture_output=True, text=True, cwd=tempfile.gettempdir())
    return Path(json.loads(out.stdout)["Dir"])


def _local_stamp(program: Program) -> str:
    """Our own modules rebuild when their sources change: the cached name carries a content hash."""
    import hashlib

    digest = hashlib.sha256()
    root = HERE / "go" / program.local_module
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in {".go", ".mod", ".sum"}:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def target_path(program: Program) -> Path:
    name = program.cached_name()
    if program.version == "local":
        name = f"{program.name}-{_local_stamp(program)}"
    return cache_dir() / "bin" / name


def _build(program: Program, out: Path) -> None:
    go = _go()
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=mod")
    env.setdefault("GOTOOLCHAIN", "local")
    with tempfile.TemporaryDirectory(prefix=f"kfpt-build-{program.name}-") as tmp:
        args = ["-trimpath", "-ldflags", program.ldflags]
        if program.overlay:
            moddir = _module_dir(go, program.package.split("/cmd/")[0], program.version)
            replace = {str(moddir / dst): str(moddir / src) for dst, src in program.overlay.items()}
            overlay = Path(tmp) / "overlay.json"
            overlay.write_text(json.dumps({"Replace": replace}))
            args += ["-overlay", str(overlay)]
        if program.local_module:
            cmd = [go, "build", *args, "-o", str(Path(tmp) / program.name), program.package]
            cwd = HERE / "go" / program.local_module
        else:
            cmd = [go, "install", *args, f"{program.package}@{program.version}"]
            env["GOBIN"] = tmp
            cwd = Path(tmp)
        subprocess.run(cmd, check=True, cwd=cwd, env=env)
        built = Path(tmp) / (program.name if program.local_module else program.package.rsplit("/", 1)[-1])
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = out.with_name(out.name + ".partial")
        shutil.move(str(built), staging)
        os.replace(staging, out)


def ensure(name: str, quiet: bool = False) -> Path:
    """The path of program `name`, building it first when the cache lacks it."""
    program = next((p for p in PROGRAMS if p.name == name), None)
    if program is None:
        raise SystemExit(f"e2e build: unknown program {name!r}")
    out = target_path(program)
    if out.exists():
        return out
    if not quiet:
        print(f"e2e build: building {program.name} {program.version} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    _build(program, out)
    if not quiet:
        print(f"e2e build: {program.name} built in {time.monotonic() - started:.0f} s -> {out}",
              file=sys.stderr, flush=True)
    return out


def ensure_all() -> dict[str, Path]:
    return {program.name: ensure(program.name) for program in PROGRAMS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.cluster.build", description=__doc__.splitlines()[0])
    parser.add_argument("--print", dest="program", metavar="PROGRAM", help="print the path of one program")
    parser.add_argument("programs", nargs="*", help="build only these (default: all)")
    args = parser.parse_args(argv)
    if args.program:
        print(ensure(args.program))
        return 0
    names = args.programs or [p.name for p in PROGRAMS]
    for name in names:
        print(f"{name}: {ensure(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
