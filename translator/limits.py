"""Bounds on what we read and write.

Input: a file's size, how far YAML aliases expand it (a 692-byte "billion laughs" document
expands to gigabytes once anything walks it), and how deep it nests: clear errors, fast.

Output, checked on what we write:
- Argo's workflow controller refuses a Workflow whose JSON exceeds MAX_WORKFLOW_SIZE (default
  1 MiB, `workflow/packer/packer.go`); only `status.nodes` is ever compressed, never the spec, so
  a spec over the limit cannot run. A WorkflowTemplate's or CronWorkflow's spec becomes a
  Workflow's (or its `status.storedWorkflowTemplateSpec`), so the same limit applies.
- etcd refuses to store an object over its request limit (default 1.5 MiB), whatever the kind.
  Both are warnings (`size_warnings`).
- kube-apiserver refuses a request body over 3 MiB: such a manifest is refused unless the user
  asks for it anyway (`check_output_size`, `--allow-oversize`).
"""
from __future__ import annotations

import json
from typing import Any

from .errors import TranslateError

ARGO_MAX = 1024 * 1024
ETCD_MAX = 1536 * 1024


def json_size(manifest: dict[str, Any]) -> int:
    """Bytes of the object as Go's encoding/json writes it (compact; `<`, `>`, `&` escaped as
    six-byte `\\u003c` sequences; other text UTF-8)."""
    text = json.dumps(manifest, separators=(",", ":"), ensure_ascii=False)
    return len(text.encode("utf-8")) + 5 * (text.count("<") + text.count(">") + text.count("&"))


def size_warnings(manifests: list[dict[str, Any]], sizes: list[int] | None = None) -> list[str]:
    """One line per manifest over a limit: its size and what to do about it. `sizes`: their
    json_size when the caller has them."""
    out = []
    for i, manifest in enumerate(manifests):
        size = json_size(manifest) if sizes is None else sizes[i]
        kind = manifest.get("kind", "manifest")
        meta = manifest.get("metadata") or {}
        name = meta.get("name") or meta.get("generateName") or ""
        what = f"{kind} {name}".strip()
        if size > ETCD_MAX:
            out.append(f"{what} is {size:,} bytes as JSON, over etcd's 1.5 MiB object limit: the API server will "
                       "not store it; split the pipeline into smaller pipelines")
        elif size > ARGO_MAX:
            out.append(f"{what} is {size:,} bytes as JSON, over Argo's 1 MiB workflow limit (MAX_WORKFLOW_SIZE): "
                       "the controller will not run it; split the pipeline, or raise MAX_WORKFLOW_SIZE on the "
                       "workflow controller")
    return out


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
    if all(_plain_walk_fits(doc) for doc in docs):
        return
    sizes: dict[int, int] = {}  # over a bound: the exact walk names what is wrong
    for doc in docs:
        if _expanded_size(doc, sizes, source) > MAX_EXPANDED_NODES:
            raise TranslateError(f"YAML aliases expand the document to more than {MAX_EXPANDED_NODES:,} values "
                                 "(an alias bomb?)", file=source)


def _plain_walk_fits(root: Any) -> bool:
    """Whether the document, aliases expanded, stays within both bounds: one walk that visits a
    shared part once per reference, as any later reader does, and stops at the first bound it
    crosses (so an alias bomb or a recursive alias costs at most MAX_EXPANDED_NODES steps).
    Counts exactly what `_expanded_size` counts, at a third of its cost: no identities kept."""
    if not isinstance(root, (dict, list)):
        return True
    total, stack = 1, [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        total += len(node)
        if total > MAX_EXPANDED_NODES:
            return False
        depth += 1
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                stack.append((child, depth))
    return True


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


def check_output_size(manifests: list[dict[str, Any]], allow: bool = False, sizes: list[int] | None = None) -> None:
    """Refuse a manifest over the API server's request limit (3 MiB as JSON) unless `allow`.

    (Smaller manifests can still exceed Argo's or etcd's limits; `translate` warns about those.)
    """
    if allow:
        return
    for i, doc in enumerate(manifests):
        size = json_size(doc) if sizes is None else sizes[i]
        if size > MAX_REQUEST_BYTES:
            meta = doc.get("metadata") or {}
            name = meta.get("name") or meta.get("generateName") or "?"
            raise TranslateError(
                f"the {doc.get('kind', 'manifest')} is {size / 2**20:.1f} MiB as JSON, over the 3 MiB the Kubernetes "
                "API server accepts (large parameter defaults?); --allow-oversize writes it anyway",
                element=f"{doc.get('kind', 'manifest')} {name}")
