"""`translate run`: run a pipeline, or a Workflow we produced, on this machine.

    translate run pipeline.py -p lr=0.01 --summary out.json
    translate run workflow.yaml --work-dir .runs --jobs 2 --logs
    translate run pipeline.py --report report.html

Errors are one line on stderr and exit status 2; a run that fails exits 1.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Sequence

import yaml

from translator.errors import TranslateError

from .engine import RunError, Runner
from .store import StoreError

DEFAULT_WORK_DIR = ".kfp-translate-run"


def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="translate run", description="Run a KFP pipeline (or an Argo Workflow "
                                "kfp-translate produced) on this machine, with Argo's semantics.")
    p.add_argument("input", help="pipeline (FILE.py[:FUNCTION], IR .yaml/.json) or an Argo Workflow YAML")
    p.add_argument("-p", "--parameter", action="append", type=_param, default=[], metavar="NAME=VALUE",
                   help="pipeline parameter (typed as the pipeline declares it)")
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR,
                   help=f"runs, cache and artifact copies live here (default {DEFAULT_WORK_DIR}/)")
    p.add_argument("--venv-dir", metavar="DIR",
                   help="the steps' Python environments, one per image, reused by every run (default "
                        "$KFP_TRANSLATE_VENVS, else ~/.cache/kfp-translate/run-venvs)")
    p.add_argument("--summary", metavar="FILE", help="write the run's summary (JSON) here")
    p.add_argument("--report", metavar="FILE", help="write the run's report here: one HTML page with the graph, "
                   "phases, inputs, outputs and metrics pictures (docs/report.md)")
    p.add_argument("--s3-endpoint", metavar="URL", help="S3-compatible endpoint (default: a folder under the work dir)")
    p.add_argument("--bucket", help="bucket at --s3-endpoint (credentials from AWS_ACCESS_KEY_ID/..._SECRET_...)")
    p.add_argument("--logs", action="store_true", help="print each step's log when it finishes")
    p.add_argument("--jobs", type=int, default=None, help="steps running at once (default: CPU count)")
    p.add_argument("--secret", action="append", default=[], metavar="NAME:KEY=VALUE",
                   help="a key of a Kubernetes Secret the pipeline reads (repeatable)")
    p.add_argument("--config-map", action="append", default=[], metavar="NAME:KEY=VALUE",
                   help="a key of a Kubernetes ConfigMap the pipeline reads (repeatable)")
    p.add_argument("--from-env-file", action="append", default=[], metavar="secret/NAME=FILE",
                   help="a whole Secret or ConfigMap (configmap/NAME=FILE) from a KEY=VALUE file")
    p.add_argument("--kube-context", metavar="CONTEXT",
                   help="read Secrets and ConfigMaps not given otherwise from this kubeconfig context")
    return p


def objects(args: argparse.Namespace, manifest: dict[str, Any]) -> Any:
    """Secrets and ConfigMaps from the flags (env files first, single keys over them)."""
    from .kube import KubeObjects, parse_value, read_env_file

    found = KubeObjects(context=args.kube_context, namespace=(manifest.get("metadata") or {}).get("namespace"))
    for spec in args.from_env_file:
        kind, name, data = read_env_file(spec)
        for key, value in data.items():
            found.add(kind, name, key, value)
    for flag, kind, values in (("--secret", "Secret", args.secret), ("--config-map", "ConfigMap", args.config_map)):
        for text in values:
            name, key, value = parse_value(text, flag)
            found.add(kind, name, key, value)
    return found


def load(input_: str, params: list[tuple[str, str]], bucket: str = "kfp-translate-run") -> tuple[dict[str, Any], dict[str, str]]:
    """The Workflow to run, and the parameter overrides still to apply to it."""
    path = input_.rsplit(":", 1)[0] if input_.rsplit(":", 1)[0].endswith(".py") else input_
    if not os.path.exists(path):
        raise RunError(f"{path}: no such file")
    if not path.endswith(".py"):
        try:
            docs = [d for d in yaml.safe_load_all(Path(path).read_text(encoding="utf-8")) if d is not None]
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise RunError(f"{path}: not YAML or JSON: {str(exc).splitlines()[0]}") from None
        first = docs[0] if docs else None
        if isinstance(first, dict) and str(first.get("apiVersion", "")).startswith("argoproj.io/"):
            kind = first.get("kind")
            if kind == "CronWorkflow":
                name = (first.get("metadata") or {}).get("name", "cron")
                first = {"apiVersion": first["apiVersion"], "kind": "Workflow",
                         "metadata": {"generateName": f"{name}-"}, "spec": first["spec"]["workflowSpec"]}
            return first, dict(params)
    import translator

    # the run's artifact repository is its store: importers of URIs in its bucket read it by key
    manifests = translator.translate(input_, backend="argo", parameters=tuple(params), artifact_bucket=bucket)
    workflow = next((m for m in manifests if m.get("kind") == "Workflow"), None)
    if workflow is None:
        raise RunError(f"{input_}: the translation holds no Workflow")
    return workflow, {}


def start_store(args: argparse.Namespace, work: Path) -> Any:
    """The artifact repository of the run: an S3 server named with --s3-endpoint, else a folder
    under the work dir (objects under their Argo keys, kept across runs for cache hits)."""
    from .store import DirStore, S3Store

    if args.s3_endpoint:
        if not args.bucket:
            raise RunError("--s3-endpoint needs --bucket")
        return S3Store(args.s3_endpoint, args.bucket, os.environ.get("AWS_ACCESS_KEY_ID", "test"),
                       os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
                       os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    return DirStore(work / "objects")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.jobs is not None and args.jobs < 1:
        print("translate run: --jobs must be at least 1", file=sys.stderr)
        return 2
    view = None
    runner = None
    stopped_by: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        """SIGTERM or SIGINT: stop as `argo stop` does (running steps' process groups are
        terminated, exit handlers run, the summary is written); a second one cancels outright."""
        if runner is None or stopped_by:
            raise KeyboardInterrupt
        stopped_by.append(signum)
        print(f"translate run: {signal.Signals(signum).name}: stopping (running steps are terminated, "
              "exit handlers run)", file=sys.stderr)
        runner.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)} \
        if threading.current_thread() is threading.main_thread() else {}
    try:
        if args.report and not os.path.isdir(os.path.dirname(os.path.abspath(args.report))):
            raise RunError(f"--report {args.report}: no such folder (the run did not start)")
        manifest, overrides = load(args.input, args.parameter, args.bucket or "kfp-translate-run")
        work = Path(args.work_dir).resolve()
        store = start_store(args, work)
        from .live import LiveView

        view = LiveView(logs=args.logs)
        found = objects(args, manifest)
        from .kube import check

        check(manifest, found)  # before any step runs (and before the live view): what is missing
        runner = Runner(work, store=store, jobs=args.jobs, on_event=view.on_event, objects=found,
                        venv_dir=args.venv_dir)
        t0 = time.time()
        name = (manifest.get("metadata") or {}).get("name") or (manifest.get("metadata") or {}).get("generateName", "run-")
        view.start(name.rstrip("-"))
        result = runner.run(manifest, overrides)
        view.stop()
        steps = [n for n in result.nodes if n.pod]
        cached = sum(1 for n in result.nodes if n.cached)
        print(f"{result.workflow_name}: {result.phase} in {time.time() - t0:.1f}s, {len(steps)} steps ran, "
              f"{cached} cached; files in {result.run_dir}", file=sys.stderr)
        if args.summary:
            from .summary import summarize

            data = summarize(result, store, result.run_dir / "outputs")
            Path(args.summary).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        if args.report:
            from translator.report import write_report
            from translator.report.local import store_reader, workflow

            bucket = args.bucket or "kfp-translate-run"
            write_report(workflow(result, bucket, overrides), "argo", args.report, store_reader(store, bucket))
        if stopped_by:
            return 128 + stopped_by[0]
        return 0 if result.phase == "Succeeded" else 1
    except KeyboardInterrupt:
        if runner is not None:
            runner.cancel()
        print("translate run: interrupted", file=sys.stderr)
        return 130
    except (TranslateError, RunError, StoreError, OSError) as exc:
        if view is not None:
            view.stop()
        print(f"translate run: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return 2
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
