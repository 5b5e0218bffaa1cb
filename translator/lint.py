"""Lint manifests with the engines' own offline validation.

Argo objects go to ``tools/argolint`` (Argo Workflows' own code: strict decoding,
then the validation ``argo lint --offline`` runs); Tekton objects (PipelineRun,
Pipeline, Task) to ``tools/tektonlint`` (Tekton Pipelines' own SetDefaults,
Validate and the reconciler's pre-run checks, stock feature flags). The engine is
picked from each document's kind. This module finds or builds those programs and
turns their JSON output into :class:`LintError` values.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import gobuild
from .errors import TranslateError

ENV_VAR = "KFP_TRANSLATE_ARGOLINT"
"""Path of an argolint binary to use instead of the built or installed one."""

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOL_DIR = gobuild.source_dir("argolint")  # tools/argolint, or its copy shipped in the package
BUILT_LINTER = TOOL_DIR / "bin" / "argolint"

TEKTON_ENV_VAR = "KFP_TRANSLATE_TEKTONLINT"
"""Path of a tektonlint binary to use instead of the built or installed one."""
TEKTON_TOOL_DIR = gobuild.source_dir("tektonlint")
TEKTON_KINDS = frozenset({"PipelineRun", "Pipeline", "Task"})
ARGO_KINDS = frozenset({"Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow"})


class LintToolError(TranslateError):
    """argolint could not be found, built or run."""


class GoNotFoundError(LintToolError):
    """The Go toolchain needed to build argolint is not installed."""


@dataclass(frozen=True)
class LintError:
    """One problem found in a manifest.

    ``kind`` and ``name`` are empty for problems outside any Argo object (YAML
    syntax errors, inputs without Argo objects). ``file`` is ``"-"`` for
    documents linted with :func:`lint_documents`.
    """

    file: str
    kind: str
    name: str
    message: str

    def __str__(self) -> str:
        where = f"{self.kind} {self.name!r}" if self.kind else "document"
        return f"{self.file}: {where}: {self.message}"


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _tool(engine: str) -> tuple[str, str, Path, Path]:
    """(program, env var, source directory, built binary) of an engine's linter."""
    if engine == "argo":
        return "argolint", ENV_VAR, TOOL_DIR, BUILT_LINTER
    if engine == "tekton":
        return "tektonlint", TEKTON_ENV_VAR, TEKTON_TOOL_DIR, TEKTON_TOOL_DIR / "bin" / "tektonlint"
    raise LintToolError(f"no linter for engine {engine!r}")


def find_linter(engine: str = "argo") -> Path | None:
    """Return the engine's lint binary (argolint or tektonlint), or None if there is none.

    Looks at ``$KFP_TRANSLATE_ARGOLINT`` / ``$KFP_TRANSLATE_TEKTONLINT`` first (an
    error if it names no executable file), then ``tools/<program>/bin/<program>``
    in this repository, then the program on PATH, then one built by an earlier lint.
    """
    program, env_var, tool_dir, built = _tool(engine)
    configured = os.environ.get(env_var)
    if configured:
        path = Path(configured)
        if not _is_executable(path):
            raise LintToolError(f"{env_var}={configured} is not an executable file")
        return path
    if _is_executable(built):
        return built
    found = shutil.which(program)
    if found:
        return Path(found)
    cached = gobuild.cached_binary(program, tool_dir) if (tool_dir / "go.mod").is_file() else None
    return cached if cached is not None and _is_executable(cached) else None  # built by an earlier lint


def build_linter(engine: str = "argo") -> Path:
    """Build ``tools/<program>/bin/<program>`` with ``go build`` and return its path.

    Go's default module and build caches are used, so a rebuild with warm caches
    takes about a second; a cold build takes minutes.
    """
    program, env_var, tool_dir, built = _tool(engine)
    if not (tool_dir / "go.mod").is_file():
        raise LintToolError(f"{program} sources not found in {tool_dir}")
    go = shutil.which("go")
    if go is None:
        raise GoNotFoundError(
            f"the Go toolchain ('go' on PATH) is needed to build tools/{program} "
            f"(Go >= {_required_go_version(tool_dir)}); install Go, or set {env_var} "
            f"to a prebuilt {program} binary"
        )
    cmd = [go, "build", *gobuild.BUILD_FLAGS, "-o", str(built), "."]
    proc = subprocess.run(cmd, cwd=tool_dir, capture_output=True, text=True, check=False,
                          env={**os.environ, **gobuild.BUILD_ENV})  # gobuild.BUILD_FLAGS says why
    if proc.returncode != 0:
        raise LintToolError(
            f"building {program} failed ({' '.join(cmd)} in {tool_dir}, "
            f"exit {proc.returncode}):\n{proc.stderr.strip()}"
        )
    return built


def _required_go_version(tool_dir: Path = TOOL_DIR) -> str:
    try:
        for line in (tool_dir / "go.mod").read_text().splitlines():
            if line.startswith("go "):
                return line.split()[1]
    except OSError:
        pass
    return "?"


def engine_of(kind: Any) -> str:
    """The engine whose linter validates objects of this kind (Argo for anything else, which
    argolint then reports as not an Argo object)."""
    return "tekton" if kind in TEKTON_KINDS else "argo"


def _stream(docs: list[dict[str, Any]]) -> str:
    # JSON documents separated by '---' form a YAML stream that round-trips exactly.
    # ASCII escapes: YAML forbids raw control and noncharacters (U+FFFF, our ABSENT) in a stream.
    return "".join("---\n" + json.dumps(doc, ensure_ascii=True) + "\n" for doc in docs)


def lint_documents(docs: list[dict[str, Any]], linter: Path | None = None) -> list[LintError]:
    """Lint manifests given as parsed documents (one run per engine, so a Workflow can
    reference a WorkflowTemplate, or a PipelineRun a Pipeline, given alongside it).
    With ``linter`` given, every document goes to that one program."""
    if linter is not None:
        return _run(["-"], _stream(docs), linter)
    by_engine: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        by_engine.setdefault(engine_of(doc.get("kind") if isinstance(doc, dict) else None), []).append(doc)
    errors: list[LintError] = []
    for engine in sorted(by_engine or {"argo": []}):
        errors += _run(["-"], _stream(by_engine.get(engine, [])), None, engine)
    return errors


def lint_files(paths: Iterable[str | os.PathLike[str]], linter: Path | None = None) -> list[LintError]:
    """Lint manifest files (multi-document YAML or JSON) or directories of them; each file
    goes to the linter of the engine its objects belong to."""
    args = [os.fspath(p) for p in paths]
    if not args:
        return []
    # A leading '-' would read as standard input or an option.
    args = [f"./{a}" if a.startswith("-") else a for a in args]
    if linter is not None:
        return _run(args, None, linter)
    by_engine: dict[str, list[str]] = {}
    for path in _expand(args):
        for engine in _engines_in(path):
            by_engine.setdefault(engine, []).append(path)
    errors: list[LintError] = []
    for engine in sorted(by_engine):
        errors += _run(by_engine[engine], None, None, engine)
    return errors


def _expand(args: list[str]) -> list[str]:
    """Files as the Go helpers read them: a directory is its *.yaml/*.yml/*.json, recursively."""
    out: list[str] = []
    for arg in args:
        if os.path.isdir(arg):
            for root, dirs, files in os.walk(arg):
                dirs.sort()
                out += [os.path.join(root, f) for f in sorted(files)
                        if f.lower().endswith((".yaml", ".yml", ".json"))]
        else:
            out.append(arg)  # a missing file is reported by the linter (exit 2)
    return out


def _engines_in(path: str) -> list[str]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with open(path, encoding="utf-8") as fh:
            kinds = {doc.get("kind") for doc in yaml.load_all(fh, Loader=loader) if isinstance(doc, dict)}
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return ["argo"]  # the Go helper reports the unreadable file or the syntax error
    engines = []
    if kinds & TEKTON_KINDS:
        engines.append("tekton")
    if kinds & ARGO_KINDS or not engines:
        engines.append("argo")  # argolint also reports a file with neither engine's objects
    return sorted(engines)


def _run(args: list[str], stdin: str | None, linter: Path | None, engine: str = "argo") -> list[LintError]:
    program, _, tool_dir, _ = _tool(engine)
    linter = linter or find_linter(engine) or gobuild.ensure_built(program, tool_dir)
    proc = subprocess.run(
        [str(linter), *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in (0, 1):
        raise LintToolError(f"{linter.name} failed (exit {proc.returncode}): {proc.stderr.strip()}")
    try:
        results = json.loads(proc.stdout)
        errors = [LintError(**e) for result in results for e in result["errors"]]
    except (ValueError, TypeError, KeyError) as exc:
        raise LintToolError(f"unexpected {linter.name} output: {exc}: {proc.stdout[:500]!r}") from exc
    if proc.returncode == 1 and not errors:
        raise LintToolError(f"{linter.name} exited 1 without reporting errors")
    return errors
