"""Lint Argo Workflows manifests with Argo's own offline validation.

The checks run in ``tools/argolint``, a small Go program built against one pinned
Argo Workflows release: strict decoding (unknown fields are errors) followed by
the validation ``argo lint --offline`` runs. This module finds or builds that
program and turns its JSON output into :class:`LintError` values.
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


def find_linter() -> Path | None:
    """Return the argolint binary to use, or None if there is none.

    Looks at ``$KFP_TRANSLATE_ARGOLINT`` first (an error if it names no
    executable file), then ``tools/argolint/bin/argolint`` in this repository,
    then ``argolint`` on PATH.
    """
    configured = os.environ.get(ENV_VAR)
    if configured:
        path = Path(configured)
        if not _is_executable(path):
            raise LintToolError(f"{ENV_VAR}={configured} is not an executable file")
        return path
    if _is_executable(BUILT_LINTER):
        return BUILT_LINTER
    found = shutil.which("argolint")
    if found:
        return Path(found)
    cached = gobuild.cached_binary("argolint", TOOL_DIR) if (TOOL_DIR / "go.mod").is_file() else None
    return cached if cached is not None and _is_executable(cached) else None  # built by an earlier lint


def build_linter() -> Path:
    """Build ``tools/argolint/bin/argolint`` with ``go build`` and return its path.

    Go's default module and build caches are used, so a rebuild with warm caches
    takes about a second; a cold build takes a minute or two.
    """
    if not (TOOL_DIR / "go.mod").is_file():
        raise LintToolError(f"argolint sources not found in {TOOL_DIR}")
    go = shutil.which("go")
    if go is None:
        raise GoNotFoundError(
            "the Go toolchain ('go' on PATH) is needed to build tools/argolint "
            f"(Go >= {_required_go_version()}); install Go, or set {ENV_VAR} "
            "to a prebuilt argolint binary"
        )
    cmd = [go, "build", "-trimpath", "-o", str(BUILT_LINTER), "."]
    proc = subprocess.run(cmd, cwd=TOOL_DIR, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LintToolError(
            f"building argolint failed ({' '.join(cmd)} in {TOOL_DIR}, "
            f"exit {proc.returncode}):\n{proc.stderr.strip()}"
        )
    return BUILT_LINTER


def _required_go_version() -> str:
    try:
        for line in (TOOL_DIR / "go.mod").read_text().splitlines():
            if line.startswith("go "):
                return line.split()[1]
    except OSError:
        pass
    return "?"


def lint_documents(docs: list[dict[str, Any]], linter: Path | None = None) -> list[LintError]:
    """Lint manifests given as parsed documents (all in one run, so a Workflow
    can reference a WorkflowTemplate given alongside it)."""
    # JSON documents separated by '---' form a YAML stream that round-trips exactly.
    # ASCII escapes: YAML forbids raw control and noncharacters (U+FFFF, our ABSENT) in a stream.
    stream = "".join("---\n" + json.dumps(doc, ensure_ascii=True) + "\n" for doc in docs)
    return _run(["-"], stream, linter)


def lint_files(paths: Iterable[str | os.PathLike[str]], linter: Path | None = None) -> list[LintError]:
    """Lint manifest files (multi-document YAML or JSON) or directories of them."""
    args = [os.fspath(p) for p in paths]
    if not args:
        return []
    # A leading '-' would read as standard input or an option.
    args = [f"./{a}" if a.startswith("-") else a for a in args]
    return _run(args, None, linter)


def _run(args: list[str], stdin: str | None, linter: Path | None) -> list[LintError]:
    linter = linter or find_linter() or gobuild.ensure_built("argolint", TOOL_DIR)
    proc = subprocess.run(
        [str(linter), *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in (0, 1):
        raise LintToolError(f"argolint failed (exit {proc.returncode}): {proc.stderr.strip()}")
    try:
        results = json.loads(proc.stdout)
        errors = [LintError(**e) for result in results for e in result["errors"]]
    except (ValueError, TypeError, KeyError) as exc:
        raise LintToolError(f"unexpected argolint output: {exc}: {proc.stdout[:500]!r}") from exc
    if proc.returncode == 1 and not errors:
        raise LintToolError("argolint exited 1 without reporting errors")
    return errors
