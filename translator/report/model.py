"""The run as the report sees it, whatever the engine: tasks with their phase, inputs and outputs,
artifacts with their KFP type, location and metadata, and the edges of the graph.

The engine readers (`argo.py`, `tekton.py`) fill it from the objects the Kubernetes API returns;
`page.py` draws it. Values are the user's text: our transport encodings (base64 for values an
engine would rewrite, Tekton's doubled dollars, a loop's `<index>:` prefix) are undone here.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from translator.runtime.podshim import B64_PREFIX  # the pod contract owns the transport prefix

SHIM_BOOTSTRAP_MARK = "KFPT_SHIM"  # the bootstrap names the variable holding the shim (delivery.py)
SHIM_SOURCE_MARK = "# kfp-translate pod shim"  # the shim inline (manifests before the shared shim)
HELPER_SUFFIXES = ("metadata", "digest", "item", "items", "prefix")  # <artifact>-<suffix> helpers


@dataclass
class Artifact:
    name: str
    schema: str = ""  # KFP schema title, e.g. system.ClassificationMetrics ("" when unknown)
    uri: str | None = None  # where read_artifact finds it
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Task:
    id: str
    name: str  # what the engine's UI shows (Argo displayName, Tekton pipeline task)
    phase: str  # Succeeded, Failed, Error, Skipped, Omitted, Running, Pending
    kind: str = "Pod"  # Pod, DAG, TaskGroup, Skipped, ...
    template: str = ""
    message: str = ""
    started: str = ""
    finished: str = ""
    cached: bool = False
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    input_artifacts: list[Artifact] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)


@dataclass
class Run:
    name: str
    engine: str
    phase: str
    message: str = ""
    started: str = ""
    finished: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    tasks: list[Task] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)  # (upstream task id, downstream task id)


def user_value(text: Any) -> str:
    """A parameter value as the user's text (our base64 transport form undone)."""
    if not isinstance(text, str):
        return json.dumps(text, sort_keys=True)
    from translator.runner.summary import user_value as decoded  # the one decoder of our transport form

    return decoded(text)


def metadata_value(text: Any) -> dict[str, Any]:
    """An artifact's metadata parameter (JSON object text) as a dict; {} when absent or not JSON."""
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(user_value(text)) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def shim_spec(command: list[Any] | None) -> dict[str, Any]:
    """The pod shim's SPEC (artifact schema titles, output types) from a shimmed container's
    command: `python3 -c <bootstrap> <SPEC> ...`; {} for any other container."""
    command = command or []
    if len(command) < 4 or command[1] != "-c" or not isinstance(command[2], str):
        return {}
    if SHIM_BOOTSTRAP_MARK not in command[2] and not command[2].startswith(SHIM_SOURCE_MARK):
        return {}
    try:  # every `$` is doubled for the kubelet (both backends)
        spec = json.loads(str(command[3]).replace("$$", "$"))
    except ValueError:
        return {}
    return spec if isinstance(spec, dict) else {}


def visible(values: dict[str, Any], hidden: set[str]) -> dict[str, str]:
    """Parameters without our helpers (`<artifact>-metadata`, `-digest`, ...), values decoded."""
    return {k: user_value(v) for k, v in sorted(values.items()) if k not in hidden}
