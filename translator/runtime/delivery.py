"""How the pod shim reaches a pod: once per manifest, never copied into each template.

The contract both backends follow (docs/design.md, "Delivering the shim"):

- The manifest carries the shim once, as `packed_shim()`: base64 of the zlib-compressed shim
  source (comments and blank lines removed; the code itself is unchanged). Base64 holds neither
  `{{` nor `$` nor quotes, so no engine substitution (Argo's `{{...}}`, Tekton's `$(...)`) and no
  kubelet `$(VAR)` expansion can touch it.
- Every pod that runs the shim has it in the environment variable `SHIM_ENV`. How the value gets
  there is the engine's business (Argo: `spec.templateDefaults`; an engine without defaults: one
  manifest-level parameter named `SHIM_PARAM` that each task's env references).
- The container starts with `shim_command(spec_json)`: `python3 -c BOOTSTRAP <SPEC> --`, then
  the component's own command. BOOTSTRAP (stdlib only, Python 3.7+) unpacks the variable and runs
  the shim as `__main__` with the same argv the shim always had.
"""
from __future__ import annotations

import base64
import io
import tokenize
import zlib
from functools import lru_cache
from importlib import resources as importlib_resources

SHIM_ENV = "KFPT_SHIM"
SHIM_PARAM = "kfpt-shim"
BOOTSTRAP = 'import base64,os,zlib;exec(zlib.decompress(base64.b64decode(os.environ["%s"])))' % SHIM_ENV


@lru_cache(maxsize=1)
def shim_source() -> str:
    """translator/runtime/podshim.py as shipped."""
    return importlib_resources.files("translator.runtime").joinpath("podshim.py").read_text(encoding="utf-8")


def strip_comments(source: str) -> str:
    """The source without comments, trailing blanks and blank lines: the same program (same AST),
    fewer bytes. Lines are never joined, so strings and indentation are untouched."""
    cut: dict[int, int] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            cut[tok.start[0]] = tok.start[1]
    kept = []
    for number, line in enumerate(source.splitlines(), 1):
        line = line[: cut.get(number, len(line))].rstrip()
        if line:
            kept.append(line)
    return "\n".join(kept) + "\n"


@lru_cache(maxsize=1)
def packed_shim() -> str:
    """The single manifest-level value: base64(zlib(shim without comments)), ASCII only."""
    return base64.b64encode(zlib.compress(strip_comments(shim_source()).encode("utf-8"), 9)).decode("ascii")


def unpack(value: str) -> str:
    """What BOOTSTRAP executes, given the variable's value (for tests and tools)."""
    return zlib.decompress(base64.b64decode(value)).decode("utf-8")


def shim_command(spec_json: str, python: str = "python3") -> list[str]:
    """The argv prefix of a shimmed container; the component's command follows it."""
    return [python, "-c", BOOTSTRAP, spec_json, "--"]
