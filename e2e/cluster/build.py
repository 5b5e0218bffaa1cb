"""Build the e2e cluster's programs from Go modules, once, into a per-user cache.

Every program is built from a pinned module version with the Go toolchain on this machine; a
program already in the cache under its versioned name is reused, so a warm `make e2e-up` builds
nothing. Go's own module and build caches make a rebuild after a version bump incremental.

    python -m e2e.cluster.build            # build whatever is missing, print one line per program
    python -m e2e.cluster.build --print minio   # the path of one program (built if missing)
    python -m e2e.cluster.build --except kube   # all but one
"""
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from translator.gobuild import BUILD_ENV, BUILD_FLAGS

HERE = Path(__file__).resolve().parent
KUBERNETES = "v1.37.2"
ARGO = "v4.0.7"
TEKTON = "v1.15.0"
MINIO = "v0.0.0-20260212201848-7aac2a2c5b7c"
AWSCLI = "1.46.3"

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
    # How a remote program is built: "install" (`go install PACKAGE@VERSION`), "wrapper" (a throw-away
    # main module requiring the module, for modules whose proxy refuses `@v/list`, which
    # `go install` reads for deprecations) or "copy" (a writable copy of the module's source).
    mode: str = "install"
    module: str = ""
    restore: dict[str, str] = dataclasses.field(default_factory=dict)  # copy mode: file -> copied from
    revision: str = ""  # bumped when the way it is built changes, so cached copies are rebuilt
    gcflags: str = ""  # compiler flags for every package, instead of BUILD_FLAGS' own

    def cached_name(self) -> str:
        return f"{self.name}-{self.version}" + (f"-{self.revision}" if self.revision else "")


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
    Program("workflow-controller", f"{_ARGO_MODULE}/cmd/workflow-controller", ARGO, module=_ARGO_MODULE,
            ldflags=f"-s -w -X {_ARGO_MODULE}.version={ARGO}"),
    # Argo's git tree has signal_linux.go as a symlink to signal_darwin.go; module zips drop
    # symlinks (a build then fails with `undefined: Setpgid`): build a copy with the file restored.
    Program("argoexec", "./cmd/argoexec", ARGO, ldflags=f"-s -w -X {_ARGO_MODULE}.version={ARGO}",
            mode="copy", module=_ARGO_MODULE,
            restore={"workflow/executor/osspecific/signal_linux.go":
                     "workflow/executor/osspecific/signal_darwin.go"}),
    *(Program(f"tekton-{cmd}", f"{_TEKTON_MODULE}/cmd/{cmd}", TEKTON, mode="wrapper", module=_TEKTON_MODULE)
      for cmd in ("controller", "webhook", "entrypoint", "nop", "workingdirinit", "sidecarlogresults")),
    # MinIO compiled without optimisation (-N -l): 26% less compile CPU on a cold machine, and it
    # serves little here (8 CPU-s over CI's whole e2e suite), so its speed does not matter.
    Program("minio", "github.com/minio/minio", MINIO, revision="noopt", gcflags="all=-dwarf=false -N -l"),
    Program("nodeserver", ".", "local", local_module="nodeserver"),
    # The AWS CLI for the Tekton backend's artifact steps (its image is amazon/aws-cli): the
    # maintained v1 CLI from PyPI, installed into a folder (`lib/`) with an `aws` launcher that
    # runs it with the python3 a container sees (the node maps the folder into that image).
    Program("awscli", "awscli", AWSCLI, mode="pip", revision="pyc"),
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


def _build_pip(program: Program, out: Path) -> None:
    """A pure-Python tool installed into `out/lib`, with a launcher `out/bin/<name>` that finds it."""
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target",
                    str(staging / "lib"), f"{program.package}=={program.version}"], check=True)
    # Byte-compiled now, by the python3 an aws-cli container finds first on its PATH (images.yaml):
    # the folder is mounted read-only, so otherwise every `aws` run compiles botocore again
    # (2.1 -> 1.15 CPU-s a run).
    container_python = shutil.which("python3", path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") \
        or sys.executable
    subprocess.run([container_python, "-m", "compileall", "-q", "-j", "0", str(staging / "lib")],
                   check=True, stdout=subprocess.DEVNULL)
    launcher = staging / "bin" / program.name.removesuffix("cli")
    launcher.parent.mkdir()
    launcher.write_text('#!/bin/sh\nexport PYTHONPATH="$(dirname "$(readlink -f "$0")")/../lib"\n'
                        f'exec python3 -m {program.package} "$@"\n')
    launcher.chmod(0o755)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(staging, out)


def _build(program: Program, out: Path) -> None:
    if program.mode == "pip":
        return _build_pip(program, out)
    go = _go()
    env = {**os.environ, **BUILD_ENV, "GOFLAGS": "-mod=mod"}
    env.setdefault("GOTOOLCHAIN", "local")
    with tempfile.TemporaryDirectory(prefix=f"kfpt-build-{program.name}-") as tmp:
        binary = Path(tmp) / "bin" / program.name
        binary.parent.mkdir()
        flags = [*BUILD_FLAGS, "-ldflags", program.ldflags]  # translator/gobuild.py says why
        if program.gcflags:
            flags.append(f"-gcflags={program.gcflags}")  # the last -gcflags for a pattern wins
        if program.local_module:
            cmd, cwd = [go, "build", *flags, "-o", str(binary), program.package], HERE / "go" / program.local_module
        elif program.mode == "wrapper":
            cwd = Path(tmp) / "wrapper"
            cwd.mkdir()
            (cwd / "go.mod").write_text(f"module kfpt-build/{program.name}\n\ngo 1.26\n\n"
                                        f"require {program.module} {program.version}\n")
            cmd = [go, "build", *flags, "-o", str(binary), program.package]
        elif program.mode == "copy":
            cwd = Path(tmp) / "src"
            shutil.copytree(_module_dir(go, program.module, program.version), cwd)
            for path in [cwd, *cwd.rglob("*")]:
                path.chmod(path.stat().st_mode | 0o200)
            for target, source in program.restore.items():
                shutil.copyfile(cwd / source, cwd / target)
            cmd = [go, "build", *flags, "-o", str(binary), program.package]
        else:
            env["GOBIN"] = str(binary.parent)
            cmd, cwd = [go, "install", *flags, f"{program.package}@{program.version}"], Path(tmp)
            binary = binary.with_name(program.package.rsplit("/", 1)[-1])
        subprocess.run(cmd, check=True, cwd=cwd, env=env)
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = out.with_name(out.name + ".partial")
        shutil.move(str(binary), staging)
        os.replace(staging, out)


def _program(name: str) -> Program:
    program = next((p for p in PROGRAMS if p.name == name), None)
    if program is None:
        raise SystemExit(f"e2e build: unknown program {name!r}")
    return program


def ensure(name: str, quiet: bool = False) -> Path:
    """The path of program `name`, building it first when the cache lacks it."""
    program = _program(name)
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


def _chains(names: list[str]) -> list[list[str]]:
    """Programs of one module are built one after another: the first fills Go's build cache with
    the packages they share, and the others then compile only what is theirs alone."""
    chains: dict[str, list[str]] = {}
    for name in names:
        chains.setdefault(_program(name).module or name, []).append(name)
    return list(chains.values())


def ensure_many(names: list[str], jobs: int = 2) -> dict[str, Path]:
    """Build `names` in `jobs` lanes. One Go build leaves part of two cores idle (module downloads,
    links, the narrow tail of a package graph): a second build beside it uses that time."""
    if jobs <= 1:
        return {name: ensure(name) for name in names}
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        lanes = [(chain, pool.submit(lambda chain: [ensure(name) for name in chain], chain))
                 for chain in _chains(names)]
        paths = {name: path for chain, lane in lanes for name, path in zip(chain, lane.result())}
    return {name: paths[name] for name in names}


def ensure_all() -> dict[str, Path]:
    return ensure_many([program.name for program in PROGRAMS])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.cluster.build", description=__doc__.splitlines()[0])
    parser.add_argument("--print", dest="program", metavar="PROGRAM", help="print the path of one program")
    parser.add_argument("programs", nargs="*", help="build only these (default: all)")
    parser.add_argument("--except", dest="excluded", action="append", default=[], metavar="PROGRAM",
                        help="leave this one out (repeatable)")
    args = parser.parse_args(argv)
    if args.program:
        print(ensure(args.program))
        return 0
    for name in args.excluded:
        _program(name)  # an unknown name is an error, not a no-op
    names = [n for n in (args.programs or [p.name for p in PROGRAMS]) if n not in args.excluded]
    for name, path in ensure_many(names, int(os.environ.get("KFPT_E2E_BUILD_JOBS", "2"))).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
