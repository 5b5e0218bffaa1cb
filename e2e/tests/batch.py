"""The session's batch: every case translated once, run on Argo (a bounded number of Workflows at
a time, so 2 cores are not drowned) and through `translate run`'s engine at the same time, plus the
scenarios that need several runs in order (scenarios.py), each in its own thread.

Tests read the outcomes (`argo`, `local`, `scenario`), which wait for the thread that makes them.
At the end the batch writes a JSON file of outcomes and times (KFPT_E2E_RESULTS, default
`<tmp>/results.json`) from which `python -m e2e.tests.batch FILE` prints e2e/RESULTS.md's table.
"""
from __future__ import annotations

import copy
import json
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import translator
from e2e.differential import Record, differences, from_argo, from_runner, run_local
from e2e.harness import ArgoRun, Cluster

from .cases import CASES, Case, Context, selected

INFLIGHT = int(os.environ.get("KFPT_E2E_INFLIGHT", "4"))


@dataclass
class Side:
    """One engine's run of one case."""

    phase: str = ""
    records: dict[str, Record] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""
    run: ArgoRun | None = None
    result: Any = None  # the runner's RunResult


def workflow_name(case: str, sid: str) -> str:
    return f"e2e-{case[:50].rstrip('-')}-{sid}"


class Batch:
    def __init__(self, cluster: Cluster, data_url: str, corpus: Path | None, sid: str, tmp: Path):
        self.cluster, self.sid, self.tmp = cluster, sid, tmp
        self.ctx = Context(data_url, corpus, tmp)
        self.manifests: dict[str, dict[str, Any]] = {}
        self.errors: dict[str, str] = {}
        self.argo_out: dict[str, Side] = {}
        self.local_out: dict[str, Side] = {}
        self.scenarios: dict[str, Any] = {}
        self.threads: dict[str, threading.Thread] = {}
        self.started = time.monotonic()
        self.buckets: set[str] = set()
        self.cleanup: list[Callable[[], None]] = []

    # --------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        chosen = selected([c.name for c in CASES], "KFPT_E2E_CASES")
        for case in CASES:
            if case.name not in chosen:
                self.errors[case.name] = "skip: not selected by KFPT_E2E_CASES"
                continue
            if case.corpus and self.ctx.corpus is None:
                self.errors[case.name] = "skip: the KFP corpus is absent (set KFP_CORPUS)"
                continue
            try:
                self.manifests[case.name] = self.translate(case)
            except Exception as exc:  # noqa: BLE001 - reported by the case's test
                self.errors[case.name] = f"translation failed: {exc}"
        # The runner's side stores its artifacts in the cluster's own MinIO (a real S3 server), in
        # buckets of its own, so the two engines never read each other's objects.
        if not self.cluster.s3:
            raise RuntimeError("the cluster has no artifact repository (ConfigMap artifact-repositories)")
        self.s3_endpoint = self.cluster.s3["endpoint"]
        self.venvs = None  # the runner's per-user environments (translator.runner.venvs.default_root)
        from . import scenarios

        self._thread("argo", self._run_argo)
        wanted = selected(list(scenarios.SCENARIOS), "KFPT_E2E_SCENARIOS")
        for name, fn in scenarios.SCENARIOS.items():
            if name not in wanted:
                continue
            self._thread(f"scenario:{name}", lambda fn=fn, name=name: self.scenarios.__setitem__(name, fn(self)))
        self._thread("local", self._run_local)

    def translate(self, case: Case, **extra: Any) -> dict[str, Any]:
        options = {"enable_caching": False, **case.options, **extra}
        options.setdefault("name", workflow_name(case.name, self.sid))
        [wf] = translator.translate(case.source(self.ctx), backend="argo", namespace=self.cluster.namespace,
                                    parameters=tuple(case.params(self.ctx).items()), **options)
        return wf

    def _thread(self, name: str, target: Callable[[], None]) -> None:
        def guarded():
            try:
                target()
            except BaseException:  # noqa: BLE001 - kept for the test that reads this thread's result
                self.errors[name] = traceback.format_exc()
        t = threading.Thread(target=guarded, name=name, daemon=True)
        self.threads[name] = t
        t.start()

    def join(self, name: str, timeout: float = 3000) -> None:
        self.threads[name].join(timeout)
        assert not self.threads[name].is_alive(), f"batch thread {name} still running after {timeout:.0f} s"
        assert name not in self.errors, f"batch thread {name} crashed:\n{self.errors[name]}"

    def close(self) -> None:
        for t in self.threads.values():
            t.join(60)
        for fn in self.cleanup:
            try:
                fn()
            except Exception:  # noqa: BLE001 - cleanup must not hide the tests' own results
                pass
        if os.environ.get("KFPT_E2E_KEEP") != "1":
            for case in self.manifests:
                self.cluster.delete("Workflow", workflow_name(case, self.sid))
        self.write_results()
        self._drop_buckets()

    # ------------------------------------------------------------------------------- Argo

    def _run_argo(self) -> None:
        pending = [c for c in CASES if c.name in self.manifests]
        inflight: dict[str, tuple[Case, float]] = {}
        while pending or inflight:
            while pending and len(inflight) < INFLIGHT:
                case = pending.pop(0)
                try:
                    name = self.cluster.submit_argo(self.manifests[case.name])
                    inflight[name] = (case, time.monotonic())
                except Exception as exc:  # noqa: BLE001
                    self.argo_out[case.name] = Side(error=f"submission refused: {exc}")
            for name, run in self.cluster.finished(list(inflight)).items():
                case, _ = inflight.pop(name)
                self.argo_out[case.name] = Side(run.phase, seconds=run.seconds, run=run)
            for name, (case, t0) in list(inflight.items()):
                if time.monotonic() - t0 > case.timeout:
                    run = ArgoRun(name, self.cluster.get_workflow(name))
                    running = [n.get("displayName") for n in run.nodes if n.get("phase") in ("Running", "Pending")]
                    self.argo_out[case.name] = Side(run.phase, run=run, error=(
                        f"workflow {name} not done after {case.timeout:.0f} s; running nodes: {running}\n"
                        f"{self.cluster.report(run)}"))
                    self.cluster.stop_workflow(name, "Terminate")
                    del inflight[name]
            time.sleep(1)

    def argo(self, case: str) -> Side:
        self.join("argo")
        side = self.argo_out[case]
        if side.run is not None and not side.records and not side.error:
            side.records = from_argo(side.run.workflow, self.cluster.fetch_artifact, self.manifests[case])
        return side

    # ------------------------------------------------------------------------------ runner

    def store(self, bucket: str):
        from translator.runner.store import S3Store

        self.buckets.add(bucket)  # names carry the session id (local-<sid>-...): never the cluster's bucket
        return S3Store(self.s3_endpoint, bucket, self.cluster.s3["access_key"], self.cluster.s3["secret_key"])

    def _drop_buckets(self) -> None:
        """Empty and remove the runner's buckets (kept with KFPT_E2E_KEEP=1)."""
        if os.environ.get("KFPT_E2E_KEEP") == "1":
            return
        s3 = self.cluster.s3_client()
        for bucket in sorted(self.buckets):
            try:
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                    for obj in page.get("Contents", []):
                        s3.delete_object(Bucket=bucket, Key=obj["Key"])
                s3.delete_bucket(Bucket=bucket)
            except Exception:  # noqa: BLE001 - cleanup must not hide the tests' own results
                pass

    def _run_local(self) -> None:
        for case in CASES:
            if case.name not in self.manifests:
                continue
            self.local_out[case.name] = self.run_local(case.name, self.manifests[case.name], case.local_params(self.ctx))

    def run_local(self, label: str, manifest: dict[str, Any], params: dict[str, str], work: Path | None = None,
                  bucket: str | None = None) -> Side:
        store = self.store(bucket or f"local-{self.sid}-{label}"[:63].rstrip("-").lower())
        t0 = time.monotonic()
        try:
            result = run_local(copy.deepcopy(manifest), params, work or self.tmp / "local" / label, store, self.venvs)
        except Exception:  # noqa: BLE001 - reported by the differential test
            return Side(error=traceback.format_exc())
        side = Side(result.phase, seconds=time.monotonic() - t0, result=result)
        side.records = from_runner(result, store)
        return side

    def local(self, case: str) -> Side:
        self.join("local")
        return self.local_out[case]

    def scenario(self, name: str) -> Any:
        import pytest

        if f"scenario:{name}" not in self.threads:
            pytest.skip(f"scenario {name} not selected by KFPT_E2E_SCENARIOS")
        self.join(f"scenario:{name}")
        return self.scenarios[name]

    # ----------------------------------------------------------------------------- results

    def write_results(self) -> None:
        rows = []
        for case in CASES:
            a, b = self.argo_out.get(case.name), self.local_out.get(case.name)
            if a is not None and a.run is not None and not a.records and not a.error:
                try:
                    a.records = from_argo(a.run.workflow, self.cluster.fetch_artifact, self.manifests[case.name])
                except Exception:  # noqa: BLE001
                    pass
            rows.append({"case": case.name, "expected": case.phase,
                         "argo": {"phase": a.phase, "seconds": round(a.seconds, 1), "error": a.error[:300]} if a else None,
                         "local": {"phase": b.phase, "seconds": round(b.seconds, 1), "error": b.error[-300:]} if b else None,
                         "differences": differences(a.records, b.records) if a and b and a.records and b.records else None,
                         "error": self.errors.get(case.name, "")})
        scen = {k: v.get("summary") if isinstance(v, dict) else None for k, v in self.scenarios.items()}
        data = {"session": self.sid, "wall_seconds": round(time.monotonic() - self.started, 1),
                "cases": rows, "scenarios": scen}
        path = Path(os.environ.get("KFPT_E2E_RESULTS") or self.tmp / "results.json")
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        print(f"\ne2e results: {path}", file=sys.stderr)


def render(data: dict[str, Any]) -> str:
    """The markdown table of e2e/RESULTS.md from a results file."""
    lines = ["| pipeline | expected | Argo (phase, s) | runner (phase, s) | differences |", "| --- | --- | --- | --- | --- |"]
    for row in data["cases"]:
        a, b = row["argo"] or {}, row["local"] or {}
        diffs = row["differences"]
        text = "none" if diffs == [] else "; ".join(diffs)[:400] if diffs else (row["error"] or a.get("error") or b.get("error") or "n/a")[:200]
        lines.append(f"| {row['case']} | {row['expected']} | {a.get('phase', '-')} {a.get('seconds', '')} | "
                     f"{b.get('phase', '-')} {b.get('seconds', '')} | {text.replace('|', '/').replace(chr(10), ' ')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(json.loads(Path(sys.argv[1]).read_text())))
