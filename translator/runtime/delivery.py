"""How the pod shim reaches a pod: once per manifest, never copied into each template.

The contract both backends follow (docs/design.md, "Delivering the shim"):

- The manifest carries the shim once, as `packed_shim(parts)`: base64 of the zlib-compressed
  shim, minified. Base64 holds neither `{{` nor `$` nor quotes, so no engine substitution
  (Argo's `{{...}}`, Tekton's `$(...)`) and no kubelet `$(VAR)` expansion can touch it.
- Minified: the shim's source as `tools/pack_shim.py` rewrote it with python-minifier (local
  names shortened, docstrings and comments gone), with the optional `PARTS` a manifest does not
  use taken out. The rewrite runs when the shim changes, not at translate time: its results are
  checked in (packed_shims.json, keyed by the sha256 of the source; `make golden` refreshes
  them). A source without an entry (a shim edited since) is packed whole, comments removed.
- Every pod that runs the shim has it in the environment variable `SHIM_ENV`. How the value gets
  there is the engine's business (Argo: `spec.templateDefaults`; an engine without defaults: one
  manifest-level parameter named `SHIM_PARAM` that each task's env references).
- The container starts with `shim_command(spec_json)`: `python3 -c BOOTSTRAP <SPEC> --`, then
  the component's own command. BOOTSTRAP (stdlib only, Python 3.7+) unpacks the variable and runs
  the shim as `__main__` with the same argv the shim always had.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import tokenize
import zlib
from functools import lru_cache
from importlib import resources as importlib_resources
from typing import Iterable, Optional

SHIM_ENV = "KFPT_SHIM"
SHIM_PARAM = "kfpt-shim"
BOOTSTRAP = 'import base64,os,zlib;exec(zlib.decompress(base64.b64decode(os.environ["%s"])))' % SHIM_ENV

# Optional parts of podshim.py: top-level names a manifest's pods never reach unless it uses
# the feature. A pruned shim lacks the functions and has the constants set to None.
PARTS = {
    # kfp < 2.5 executors (or an unknown kfp): the sitecustomize that gives local artifact paths
    "kfp-compat": ("KFP_COMPAT", "old_kfp_paths_env"),
    # dsl.Collected parameters and artifacts, list-of-artifact inputs
    "collections": ("flat", "retype", "listed_artifacts", "write_item"),
}
ALL_PARTS = frozenset(PARTS)
PACKED_FILE = "packed_shims.json"

# kfp's own command installs the kfp it runs: `'kfp==2.14.3'` (quoted by kfp's compiler).
_KFP_PIN = re.compile(r"""['"]kfp==(\d+)\.(\d+)[.\d]*['"]""")
_COMPAT_BELOW = (2, 5)  # kfp 2.5 made a local URI an artifact's path (podshim.py KFP_COMPAT)


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


def source_key(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def parts_key(parts: Iterable[str]) -> str:
    return ",".join(sorted(parts))


@lru_cache(maxsize=1)
def packed_table() -> dict[str, dict[str, str]]:
    """packed_shims.json: sha256 of a shim source -> parts key -> minified source."""
    path = importlib_resources.files("translator.runtime").joinpath(PACKED_FILE)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def minified(source: str, parts: Iterable[str] = ALL_PARTS) -> Optional[str]:
    """The checked-in minified shim for this source and these parts, or None (source edited)."""
    return packed_table().get(source_key(source), {}).get(parts_key(parts))


def pack(source: str, parts: Iterable[str] = ALL_PARTS) -> str:
    """base64(zlib(the minified shim)), ASCII only; the whole source less its comments when the
    table has no entry for it."""
    text = minified(source, parts) or strip_comments(source)
    return base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")


@lru_cache(maxsize=8)
def _packed(source: str, parts: frozenset) -> str:
    return pack(source, parts)


def packed_shim(parts: Iterable[str] = ALL_PARTS) -> str:
    """The single manifest-level value for podshim.py with these optional parts."""
    return _packed(shim_source(), frozenset(parts))


packed_shim.cache_clear = _packed.cache_clear  # type: ignore[attr-defined]


def parts_needed(specs: Iterable[dict], commands: Iterable[list[str]]) -> frozenset:
    """The optional parts the pods of one manifest can reach: `specs` are their SPECs, `commands`
    the component commands they run (KFP's own, after the shim's `--`)."""
    parts = set()
    for spec in specs:
        ins, outs = spec.get("inputs", {}), spec.get("outputs", {})
        if any(p.get("collected") for p in ins.get("parameters", {}).values()) or \
                any(a.get("isList") for a in ins.get("artifacts", {}).values()) or \
                any(a.get("itemPath") for a in outs.get("artifacts", {}).values()):
            parts.add("collections")
    for command in commands:
        pins = [tuple(map(int, m.groups())) for part in command for m in _KFP_PIN.finditer(part)]
        if not pins or min(pins) < _COMPAT_BELOW:
            parts.add("kfp-compat")
    return frozenset(parts)


def unpack(value: str) -> str:
    """What BOOTSTRAP executes, given the variable's value (for tests and tools)."""
    return zlib.decompress(base64.b64decode(value)).decode("utf-8")


def shim_command(spec_json: str, python: str = "python3") -> list[str]:
    """The argv prefix of a shimmed container; the component's command follows it."""
    return [python, "-c", BOOTSTRAP, spec_json, "--"]
