"""Artifact types the pipeline declares, for outputs whose pod carries no shim SPEC.

A lightweight Python component's type travels in its pod shim SPEC (model.shim_spec); a
container component (`@dsl.container_component`, a plain `ContainerSpec`) has no shim, so
nothing in the engine's object says that its `summary` output is a `system.Markdown`. The
client puts what the pipeline declares on the run it creates, in the annotation
`kfp-translate.dev/artifact-types`: {KFP task name: {output artifact: schema title}}, for the
types the report draws. The readers use it where the SPEC says nothing.
"""
from __future__ import annotations

import json
import re
from typing import Any

ANNOTATION = "kfp-translate.dev/artifact-types"
TASK_NAMES = "kfp-translate.dev/task-names"  # on Argo DAG templates: Argo task name -> KFP task name
DRAWN = ("system.Metrics", "system.ClassificationMetrics", "system.SlicedClassificationMetrics",
         "system.Markdown", "system.HTML")
_ITERATION = re.compile(r"\(.*\)$")


def declared(source: Any) -> dict[str, dict[str, str]]:
    """{task: {artifact: schema}} over every DAG of the pipeline (a task name used twice with
    different types is left out: it cannot be told apart)."""
    import translator
    from translator.graph import DagImpl

    found: dict[str, dict[str, str]] = {}
    clashes: set[str] = set()

    def walk(component: Any) -> None:
        if not isinstance(component.impl, DagImpl):
            return
        for task in component.impl.tasks:
            types = {a.name: a.schema_title for a in task.component.interface.output_artifacts if a.schema_title in DRAWN}
            if types:
                if task.name in found and found[task.name] != types:
                    clashes.add(task.name)
                found[task.name] = types
            walk(task.component)

    walk(translator.load_graph(source).root)
    return {k: v for k, v in sorted(found.items()) if k not in clashes}


def annotate(obj: dict[str, Any], types: dict[str, dict[str, str]]) -> None:
    if types:
        obj.setdefault("metadata", {}).setdefault("annotations", {})[ANNOTATION] = json.dumps(
            types, sort_keys=True, separators=(",", ":"))


def of_run(obj: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The annotation read back ({} when absent or not the JSON we write)."""
    text = ((obj.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): {str(a): str(s) for a, s in v.items()} for k, v in value.items() if isinstance(v, dict)}


def kfp_task(shown: str, names: dict[str, str]) -> str:
    """The KFP task of a task as the engine shows it (`train-model`, a loop's `train-model(1)`)."""
    base = _ITERATION.sub("", shown)
    return names.get(base, base)
