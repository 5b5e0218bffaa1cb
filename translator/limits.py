"""Bounds on what we read and write, so hostile or accidental input fails fast with a clear error.

Input: a file's size, how far YAML aliases expand it (a 692-byte "billion laughs" document
expands to gigabytes once anything walks it), and how deep it nests. Output: a manifest the
Kubernetes API server cannot accept at all (its request body limit) is refused unless the user
asks for it anyway.
"""
from __future__ import annotations

import json
from typing import Any

from .errors import TranslateError

MAX_INPUT_BYTES = 64 * 1024 * 1024
"""Largest pipeline file we read (a KFP IR is kilobytes; the output must fit Kubernetes' 1.5 MiB)."""
MAX_EXPANDED_NODES = 2_000_000
"""Largest number of values a document may hold once its YAML aliases are expanded."""
MAX_DEPTH = 200
"""Deepest nesting of mappings and lists (KFP's own documents stay under 20)."""
MAX_REQUEST_BYTES = 3 * 1024 * 1024
"""kube-apiserver refuses a request body over 3 MiB (`MaxRequestBodyBytes`): no cluster accepts it."""


def check_input_size(size: int, source: str) -> None:
    if size > MAX_INPUT_BYTES:
        raise TranslateError(f"the file is {size / 2**20:.1f} MiB, more than the {MAX_INPUT_BYTES // 2**20} MiB "
                             "a pipeline may hold", file=source)


def check_shape(docs: list[Any], source: str) -> None:
    """Fail on documents nested too deep or whose shared (aliased) parts expand too far.

    PyYAML builds an alias as a second reference to the same object, so the cost shows only
    later, when pydantic or a backend walks the data. Sizes are counted once per distinct object.
    """
    sizes: dict[int, int] = {}
    for doc in docs:
        if _expanded_size(doc, sizes, source) > MAX_EXPANDED_NODES:
            raise TranslateError(f"YAML aliases expand the document to more than {MAX_EXPANDED_NODES:,} values "
                                 "(an alias bomb?)", file=source)


def _expanded_size(root: Any, sizes: dict[int, int], source: str) -> int:
    if not isinstance(root, (dict, list)):
        return 1
    # Iterative post-order walk: (object, depth, children visited?)
    stack: list[tuple[Any, int, bool]] = [(root, 1, False)]
    on_path: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            children = node.values() if isinstance(node, dict) else node
            total = 1 + len(node)  # the node and its keys (or scalar items) ...
            for child in children:
                if isinstance(child, (dict, list)):
                    total += sizes[id(child)] - 1  # ... plus what its containers hold
                if total > MAX_EXPANDED_NODES:
                    break
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise TranslateError("the document refers to itself (a recursive YAML alias)", file=source)
        if depth > MAX_DEPTH:
            raise TranslateError(f"the document nests deeper than {MAX_DEPTH} levels", file=source)
        on_path.add(key)
        stack.append((node, depth, True))
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)) and id(child) not in sizes:
                stack.append((child, depth + 1, False))
    return sizes[id(root)]


def json_size(doc: Any) -> int:
    """Bytes of the document as the API server receives it (compact JSON)."""
    return len(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def check_output_size(manifests: list[dict[str, Any]], allow: bool = False) -> None:
    """Refuse a manifest over the API server's request limit (3 MiB as JSON) unless `allow`.

    (Smaller manifests can still exceed Argo's or etcd's limits; `translate` warns about those.)
    """
    if allow:
        return
    for doc in manifests:
        size = json_size(doc)
        if size > MAX_REQUEST_BYTES:
            meta = doc.get("metadata") or {}
            name = meta.get("name") or meta.get("generateName") or "?"
            raise TranslateError(
                f"the {doc.get('kind', 'manifest')} is {size / 2**20:.1f} MiB as JSON, over the 3 MiB the Kubernetes "
                "API server accepts (large parameter defaults?); --allow-oversize writes it anyway",
                element=f"{doc.get('kind', 'manifest')} {name}")
