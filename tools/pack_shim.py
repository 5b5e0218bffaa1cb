"""Rewrite translator/runtime/packed_shims.json: the minified pod shims the manifests carry.

    .venv/bin/python tools/pack_shim.py          # `make golden` runs it first
    .venv/bin/python tools/pack_shim.py --check  # exit 1 when the table is stale

For podshim.py, one entry per subset of the optional parts (translator/runtime/delivery.py
PARTS): the parts a manifest does not use are taken out (their functions removed, their
constants set to None), then python-minifier (a test dependency, pinned in pyproject.toml)
shortens names and drops docstrings. For the Tekton shim (podshim.py + podshim_tekton.py), the
whole program. Translation only reads the table: no minifier runs at translate time.
"""
from __future__ import annotations

import argparse
import ast
import itertools
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from translator.runtime import delivery  # noqa: E402

TABLE = REPO / "translator" / "runtime" / delivery.PACKED_FILE


def prune(source: str, dropped: set[str]) -> str:
    """The source without the top-level functions named in `dropped` (constants so named: None)
    and without constants it never reads, its entry point called without the `__main__` guard."""
    names = {n for part in dropped for n in delivery.PARTS[part]}
    tree = ast.parse(source)
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store)}
    body, seen = [], set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id not in read | names
                                                for t in node.targets):
            continue  # a constant the program never reads (SHIM_VERSION: for tests and readers)
        if isinstance(node, ast.FunctionDef) and node.name in names:
            seen.add(node.name)
            continue
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name) and node.targets[0].id in names:
            seen.add(node.targets[0].id)
            node = ast.Assign(targets=node.targets, value=ast.Constant(None), lineno=node.lineno)
        body.append(node)
    if seen != names:
        raise SystemExit(f"podshim.py has no top-level {sorted(names - seen)} (delivery.PARTS)")
    last = body[-1]
    if isinstance(last, ast.If) and ast.unparse(last.test) == "__name__ == '__main__'":
        body[-1:] = last.body  # the bootstrap always runs it as __main__
    tree.body = body
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def minify(source: str) -> str:
    import python_minifier

    return python_minifier.minify(source, rename_globals=True, remove_literal_statements=True,
                                  hoist_literals=False) + "\n"


def tekton_source() -> str | None:
    try:
        from backends.tekton.steps import _shim_source
    except ImportError:
        return None
    return _shim_source()


def table() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    source = delivery.shim_source()
    entries = out.setdefault(delivery.source_key(source), {})
    names = sorted(delivery.PARTS)
    for n in range(len(names) + 1):
        for kept in itertools.combinations(names, n):
            entries[delivery.parts_key(kept)] = minify(prune(source, set(names) - set(kept)))
    tekton = tekton_source()
    if tekton is not None:
        out[delivery.source_key(tekton)] = {delivery.parts_key(delivery.ALL_PARTS): minify(prune(tekton, set()))}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 when stale")
    args = ap.parse_args()
    text = json.dumps(table(), indent=1, sort_keys=True) + "\n"
    if args.check:
        current = TABLE.read_text(encoding="utf-8") if TABLE.exists() else ""
        if current != text:
            print(f"{TABLE.relative_to(REPO)} is stale: run `make golden` (or tools/pack_shim.py)", file=sys.stderr)
            return 1
        return 0
    TABLE.write_text(text, encoding="utf-8")
    print(f"wrote {TABLE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
