"""Size limits a manifest meets on a cluster, checked on what we write.

- Argo's workflow controller refuses a Workflow whose JSON exceeds MAX_WORKFLOW_SIZE (default
  1 MiB, `workflow/packer/packer.go`); only `status.nodes` is ever compressed, never the spec, so
  a spec over the limit cannot run. A WorkflowTemplate's or CronWorkflow's spec becomes a
  Workflow's (or its `status.storedWorkflowTemplateSpec`), so the same limit applies.
- etcd refuses to store an object over its request limit (default 1.5 MiB), whatever the kind.
"""
from __future__ import annotations

import json
from typing import Any

ARGO_MAX = 1024 * 1024
ETCD_MAX = 1536 * 1024


def json_size(manifest: dict[str, Any]) -> int:
    """Bytes of the object as Go's encoding/json writes it (compact; `<`, `>`, `&` escaped as
    six-byte `\\u003c` sequences; other text UTF-8)."""
    text = json.dumps(manifest, separators=(",", ":"), ensure_ascii=False)
    return len(text.encode("utf-8")) + 5 * (text.count("<") + text.count(">") + text.count("&"))


def size_warnings(manifests: list[dict[str, Any]]) -> list[str]:
    """One line per manifest over a limit: its size and what to do about it."""
    out = []
    for manifest in manifests:
        size = json_size(manifest)
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
