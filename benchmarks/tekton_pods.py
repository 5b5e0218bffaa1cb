"""Pods per run on Tekton: kfp-translate's PipelineRuns against its Argo Workflows, over the corpus.

Every TaskRun is one pod. For each corpus pipeline that translates on both backends, count the
TaskRuns one run creates: a pipeline task is 1, a matrix is its number of combinations (a
literal `include`), `finally` tasks run. Counted statically with every `when` true (every branch
runs: an upper bound for pipelines with conditions); pipelines with a matrix over a run-time list
are left out (their size is known only at run time). The Argo count (benchmarks/pods_per_run.py)
is given where it is static too. Writes benchmarks/tekton_pods.md.

    .venv/bin/python benchmarks/tekton_pods.py
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import translator  # noqa: E402
from benchmarks.pods_per_run import pods as argo_pods  # noqa: E402

CORPUS = Path(os.environ.get("KFP_CORPUS", REPO.parent / "shared" / "kfp-corpus"))
ADDED = ("-condition", "-items")  # tasks the Tekton backend adds: condition evaluation, loop listing


def tekton_pods(run: dict) -> tuple[int, int] | None:
    """(TaskRuns, of which added by us) with every `when` true; None when a matrix is dynamic."""
    spec = run["spec"]["pipelineSpec"]
    total = added = 0
    for task in spec["tasks"] + spec.get("finally", []):
        matrix = task.get("matrix")
        if matrix and "include" not in matrix:
            return None
        n = len(matrix["include"]) if matrix else 1
        total += n
        if task["name"].endswith(ADDED) and task["taskSpec"]["steps"][0]["name"] in ("evaluate", "list-iterations"):
            added += n
    return total, added


def main() -> None:
    rows = []
    for source in sorted(p for p in (CORPUS / "ir" / "valid").rglob("*.yaml")):
        try:
            [run] = translator.translate(str(source), backend="tekton")
        except translator.TranslateError:
            continue
        try:  # the Argo column stays empty where Argo needs options this comparison does not give
            [wf] = translator.translate(str(source), backend="argo")
        except translator.TranslateError:
            wf = None
        counted = tekton_pods(run)
        if counted is None:
            continue
        rows.append((str(source.relative_to(CORPUS / "ir" / "valid")), *counted,
                     argo_pods(wf) if wf is not None else None))
    comparable = [r for r in rows if r[3] is not None]
    lines = [
        "# Pods per run on Tekton",
        "",
        f"{len(rows)} corpus pipelines that translate to Tekton with a static number of TaskRuns "
        "(every `when` counted as true). Regenerate: `.venv/bin/python benchmarks/tekton_pods.py`.",
        "",
        "| pipeline | pods (Tekton) | of which added (conditions, loop listing) | pods (Argo, ours) |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [f"| {n} | {t} | {a} | {'' if g is None else g} |" for n, t, a, g in rows]
    lines += [
        "",
        f"Totals: {sum(r[1] for r in rows)} TaskRuns over {len(rows)} pipelines, {sum(r[2] for r in rows)} of them "
        "added by the Tekton backend (a condition that is not a string comparison, a loop over a run-time list).",
        f"Where the Argo count is static too ({len(comparable)} pipelines, no conditions or loops): Tekton "
        f"{sum(r[1] for r in comparable)}, Argo {sum(r[3] for r in comparable)} pods: one pod per executing "
        "KFP task on both.",
        "",
    ]
    (REPO / "benchmarks" / "tekton_pods.md").write_text("\n".join(lines))
    print("\n".join(lines[-4:]))


if __name__ == "__main__":
    main()
