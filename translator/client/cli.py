"""The client's commands: `translate submit`, `translate runs ...`, `translate schedule ...`,
`translate upload`, `translate pipelines ...`, `translate experiments ...`.

Errors are one line on stderr, exit status 2. With `--wait`, the exit status is the run's
outcome: 0 succeeded, 1 failed, canceled or still running at `--timeout`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Callable, Sequence

from translator.errors import TranslateError


def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _connection_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cluster")
    g.add_argument("--backend", default="argo", choices=["argo", "tekton"], help="engine: argo (default) or tekton")
    g.add_argument("-n", "--namespace", help="namespace (default: the kubeconfig context's, or the pod's)")
    g.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
    g.add_argument("--context", help="kubeconfig context")
    g.add_argument("--host", help="API server URL (with --token; instead of a kubeconfig)")
    g.add_argument("--token", help="bearer token for --host (default: $KFP_TRANSLATE_TOKEN)")
    g.add_argument("--ca-cert", help="CA certificate file of --host")
    g.add_argument("--insecure-skip-tls-verify", action="store_true", help="do not verify --host's certificate")
    g.add_argument("--ui-url", help="base URL of the Argo server / Tekton Dashboard, for run links "
                                    "(default: $KFP_TRANSLATE_UI_URL)")


def _run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--parameter", action="append", type=_param, default=[], metavar="NAME=VALUE",
                   help="a pipeline argument (typed as the pipeline declares it)")
    p.add_argument("--experiment", help="experiment name (a label on the run)")
    p.add_argument("--service-account", help="service account the run's pods use")
    caching = p.add_mutually_exclusive_group()
    caching.add_argument("--enable-caching", dest="enable_caching", action="store_true", default=None)
    caching.add_argument("--disable-caching", dest="enable_caching", action="store_false")
    p.add_argument("--artifact-repository", metavar="CONFIGMAP[:KEY]",
                   help="Argo: the artifact repository ConfigMap (default: the namespace's default)")
    p.add_argument("--artifact-store", metavar="SECRET",
                   help="Tekton: the artifact store Secret (default: kfp-translate-artifacts)")
    p.add_argument("--pipeline", metavar="NAME", help="run an uploaded pipeline by reference (instead of INPUT)")
    p.add_argument("--version", help="with --pipeline: the version (default: the latest)")


def _client(args: argparse.Namespace) -> Any:
    import os

    from .client import Client

    options: dict[str, Any] = {}
    if getattr(args, "artifact_repository", None):
        configmap, _, key = args.artifact_repository.partition(":")
        options["artifact_repository_ref"] = (configmap, key or "default-v1")
    if getattr(args, "artifact_store", None):
        options["artifact_store"] = args.artifact_store
    for flag, key in (("--artifact-repository", "artifact_repository_ref"), ("--artifact-store", "artifact_store")):
        if key in options and (key == "artifact_store") != (args.backend == "tekton"):
            raise TranslateError(f"applies to --backend {'tekton' if key == 'artifact_store' else 'argo'} only", element=flag)
    return Client(host=args.host, token=args.token or os.environ.get("KFP_TRANSLATE_TOKEN"), backend=args.backend,
                  namespace=args.namespace, kubeconfig=args.kubeconfig, context=args.context, ui_url=args.ui_url,
                  verify_ssl=not args.insecure_skip_tls_verify, ssl_ca_cert=args.ca_cert, translate_options=options)


def _guard(prog: str, body: Callable[[], int]) -> int:
    try:
        return body()
    except TranslateError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except TimeoutError as exc:
        print(f"{prog}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1


def _dump(value: Any) -> str:
    import dataclasses

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v) if f.name != "raw"}
        if isinstance(v, list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return json.dumps(plain(value), indent=2, sort_keys=False, ensure_ascii=False)


def _progress(out: Any) -> Callable[[Any], None]:
    """Print each task's state as it changes: `HH:MM:SS  task[iteration]  STATE`."""
    seen: dict[tuple, str] = {}

    def show(run: Any) -> None:
        stamp = time.strftime("%H:%M:%S")
        if seen.get(("run",)) != run.state:
            seen[("run",)] = run.state
            print(f"{stamp}  run {run.run_id}  {run.state}", file=out, flush=True)
        for t in run.tasks:
            key = (t.name, t.iteration)
            if seen.get(key) != t.state:
                seen[key] = t.state
                label = t.name if t.iteration is None else f"{t.name}[{t.iteration}]"
                print(f"{stamp}    {label:<40} {t.state}", file=out, flush=True)
    return show


def _finish(client: Any, run_id: str, args: argparse.Namespace) -> int:
    on_change = _progress(sys.stderr) if getattr(args, "watch", False) else None
    run = client.wait_for_run_completion(run_id, timeout=args.timeout, on_change=on_change)
    _summary(run)
    return 0 if run.state == "SUCCEEDED" else 1


def _summary(run: Any) -> None:
    print(f"run {run.run_id}: {run.state}" + (f" ({run.message})" if run.message else ""))
    if run.outputs:
        print(f"  outputs: {json.dumps(run.outputs, sort_keys=True, ensure_ascii=False)}")
    for t in run.tasks:
        label = t.name if t.iteration is None else f"{t.name}[{t.iteration}]"
        extra = f" {json.dumps(t.outputs, sort_keys=True, ensure_ascii=False)}" if t.outputs else ""
        print(f"  {label:<40} {t.state}{extra}")
        for a in t.artifacts.values():
            print(f"    {a.name}: {a.uri}")


# --------------------------------------------------------------------------- submit


def submit(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="translate submit", description="Translate a pipeline and start a run on the cluster.")
    p.add_argument("input", nargs="?", help="pipeline IR (.yaml/.json) or FILE.py[:FUNCTION]")
    p.add_argument("--run-name", help="the run's display name (its object name starts with it)")
    _run_flags(p)
    p.add_argument("--wait", action="store_true", help="wait for the run to end; exit status 0 only if it succeeded")
    p.add_argument("--watch", action="store_true", help="print each task's state as it changes (implies --wait)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds --wait waits (default 3600)")
    _connection_flags(p)
    args = p.parse_args(argv)
    if bool(args.input) == bool(args.pipeline):
        p.error("give INPUT or --pipeline NAME (one of them)")

    def body() -> int:
        client = _client(args)
        params = dict(args.parameter)
        if args.pipeline:
            if args.enable_caching is not None:
                raise TranslateError("caching is fixed when a pipeline is uploaded (translate upload --enable-caching)",
                                     element="--enable-caching")
            run = client.run_pipeline(pipeline_name=args.pipeline, version=args.version, arguments=params,
                                      run_name=args.run_name, experiment_name=args.experiment,
                                      service_account=args.service_account)
        else:
            run = client.create_run_from_pipeline_package(args.input, params, args.run_name, args.experiment,
                                                          args.enable_caching, service_account=args.service_account)
        print(f"run {run.run_id} created in namespace {run.namespace}" + (f": {run.url}" if run.url else ""), flush=True)
        if args.wait or args.watch:
            return _finish(client, run.run_id, args)
        return 0
    return _guard("translate submit", body)


# ----------------------------------------------------------------------------- runs


def runs(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="translate runs", description="List, read, wait for, stop and delete runs.")
    sub = p.add_subparsers(dest="action", required=True)
    ls = sub.add_parser("list", help="the namespace's runs")
    ls.add_argument("--experiment")
    ls.add_argument("--schedule", help="runs of one recurring run")
    ls.add_argument("-o", "--output", choices=["table", "json"], default="table")
    get = sub.add_parser("get", help="one run: state, tasks, typed outputs, artifact locations")
    get.add_argument("run")
    get.add_argument("-o", "--output", choices=["text", "json"], default="text")
    get.add_argument("--report", metavar="FILE", help="write the HTML run report (translator.report)")
    logs = sub.add_parser("logs", help="the run's step logs")
    logs.add_argument("run")
    logs.add_argument("--task", help="one task's logs only")
    logs.add_argument("-f", "--follow", action="store_true", help="stream until the steps end")
    wait = sub.add_parser("wait", help="wait for the run to end; exit status 0 only if it succeeded")
    wait.add_argument("run")
    wait.add_argument("--timeout", type=float, default=3600)
    wait.add_argument("--watch", action="store_true", help="print each task's state as it changes")
    for name, text in (("terminate", "stop a running run"), ("delete", "delete a run")):
        sub.add_parser(name, help=text).add_argument("run")
    retry = sub.add_parser("retry", help="Argo: retry a failed run in place (its failed tasks and those after "
                                         "them run again); Tekton: start a new run with the finished run's spec")
    retry.add_argument("run")
    retry.add_argument("--wait", action="store_true", help="wait for the retried run; exit 0 only if it succeeds")
    retry.add_argument("--timeout", type=float, default=3600)
    retry.add_argument("--watch", action="store_true", help="with --wait: print each task's state as it changes")
    for sp in sub.choices.values():
        _connection_flags(sp)
    args = p.parse_args(argv)

    def body() -> int:
        client = _client(args)
        if args.action == "list":
            found = client.list_runs(experiment_name=args.experiment, recurring_run_id=args.schedule)
            if args.output == "json":
                print(_dump(found))
            else:
                for r in found:
                    print(f"{r.run_id:<50} {r.state:<10} {r.experiment_id or '-':<24} {r.created_at or ''}")
            return 0
        if args.action == "get":
            run = client.get_run(args.run)
            print(_dump(run)) if args.output == "json" else _summary(run)
            if args.report:
                return _report(client, run, args.report)
            return 0
        if args.action == "logs":
            for line in client.logs(args.run, task=args.task, follow=args.follow):
                print(f"[{line.task}] {line.text}", flush=args.follow)
            return 0
        if args.action == "wait":
            return _finish(client, args.run, args)
        if args.action == "retry":
            run = client.retry_run(args.run)
            if run.run_id == args.run:
                print(f"run {run.run_id} retried in place (its failed tasks and those after them run again)")
            else:
                print(f"run {run.run_id} created (a retry of {args.run})")
            if getattr(args, "wait", False):
                return _finish(client, run.run_id, args)
            return 0
        getattr(client, f"{args.action}_run")(args.run)
        print(f"run {args.run}: {'terminating' if args.action == 'terminate' else 'deleted'}")
        return 0
    return _guard("translate runs", body)


def _report(client: Any, run: Any, path: str) -> int:
    client.write_report(run.run_id, path, run.namespace)
    print(f"report written to {path}")
    return 0


# ------------------------------------------------------------------------- schedule


def _when(recurring: Any) -> str:
    text = recurring.cron_expression or f"every {recurring.interval_second} s"
    window = [f"from {recurring.start_time}"] if recurring.start_time else []
    window += [f"until {recurring.end_time}"] if recurring.end_time else []
    return " ".join([text, *window])


def schedule(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="translate schedule", description="Recurring runs (cron).")
    sub = p.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="runs of a pipeline on a cron schedule")
    create.add_argument("name", help="the recurring run's name")
    create.add_argument("input", nargs="?", help="pipeline IR or FILE.py[:FUNCTION] (or --pipeline NAME)")
    when = create.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", help="cron expression, 5 fields ('0 2 * * *')")
    when.add_argument("--interval", type=int, metavar="SECONDS", help="a run every SECONDS (kfp's interval_second)")
    create.add_argument("--start-time", help="no run before this RFC 3339 time (2026-12-01T10:00:00Z)")
    create.add_argument("--end-time", help="no run from this RFC 3339 time on")
    create.add_argument("--max-concurrency", type=int, default=1, help="at most this many runs at a time (default 1, as kfp's; 0: no limit)")
    create.add_argument("--timezone", help="IANA time zone of the schedule")
    create.add_argument("--disabled", action="store_true", help="create it paused")
    _run_flags(create)
    ls = sub.add_parser("list", help="the namespace's recurring runs")
    ls.add_argument("--experiment")
    for name in ("get", "enable", "disable", "delete"):
        sub.add_parser(name, help=f"{name} a recurring run").add_argument("name")
    for sp in sub.choices.values():
        _connection_flags(sp)
    args = p.parse_args(argv)
    if args.action == "create" and bool(args.input) == bool(args.pipeline):
        p.error("give INPUT or --pipeline NAME (one of them)")

    def body() -> int:
        client = _client(args)
        if args.action == "create":
            made = client.create_recurring_run(
                args.name, args.cron, pipeline_package_path=args.input, pipeline_name=args.pipeline,
                version=args.version, arguments=dict(args.parameter), max_concurrency=args.max_concurrency or None,
                experiment_name=args.experiment, enabled=not args.disabled, enable_caching=args.enable_caching,
                timezone=args.timezone, service_account=args.service_account, interval_second=args.interval,
                start_time=args.start_time, end_time=args.end_time)
            print(f"recurring run {made.recurring_run_id} created ({_when(made)}, "
                  f"{'enabled' if made.enabled else 'disabled'})")
            return 0
        if args.action == "list":
            for s in client.list_recurring_runs(experiment_name=args.experiment):
                print(f"{s.recurring_run_id:<40} {_when(s):<16} {'enabled' if s.enabled else 'disabled':<9} "
                      f"max_concurrency={s.max_concurrency or '-'}")
            return 0
        if args.action == "get":
            print(_dump(client.get_recurring_run(args.name)))
            return 0
        getattr(client, f"{args.action}_recurring_run")(args.name)
        print(f"recurring run {args.name}: {args.action}d")
        return 0
    return _guard("translate schedule", body)


# --------------------------------------------------------------- upload / pipelines


def upload(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="translate upload",
                                description="Store a pipeline on the cluster (a WorkflowTemplate or a Tekton Pipeline).")
    p.add_argument("input", help="pipeline IR (.yaml/.json) or FILE.py[:FUNCTION]")
    p.add_argument("--pipeline-name", help="the pipeline's name (default: the pipeline's own)")
    p.add_argument("--version", help="version name (default: v1, v2, ...)")
    p.add_argument("--description")
    caching = p.add_mutually_exclusive_group()
    caching.add_argument("--enable-caching", dest="enable_caching", action="store_true", default=None)
    caching.add_argument("--disable-caching", dest="enable_caching", action="store_false")
    _connection_flags(p)
    args = p.parse_args(argv)

    def body() -> int:
        v = _client(args).upload_pipeline(args.input, args.pipeline_name, args.description, args.version,
                                          enable_caching=args.enable_caching)
        print(f"pipeline {v.pipeline_id} version {v.version} uploaded as {v.pipeline_version_id} in namespace {v.namespace}")
        return 0
    return _guard("translate upload", body)


def pipelines(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="translate pipelines", description="Uploaded pipelines and their versions.")
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="every uploaded version (of one pipeline)").add_argument("name", nargs="?")
    rm = sub.add_parser("delete", help="delete a pipeline (every version) or one version")
    rm.add_argument("name")
    rm.add_argument("--version")
    for sp in sub.choices.values():
        _connection_flags(sp)
    args = p.parse_args(argv)

    def body() -> int:
        client = _client(args)
        if args.action == "list":
            for v in client.list_pipeline_versions(args.name):
                print(f"{v.pipeline_id:<40} {v.version:<12} {v.pipeline_version_id:<52} {v.created_at or ''}")
            return 0
        if args.version:
            from .uploads import resolve

            v = resolve(client.conn, client.backend, client.namespace, args.name, args.version)
            client.delete_pipeline_version(v.pipeline_version_id)
        else:
            client.delete_pipeline(args.name)
        print(f"pipeline {args.name}{' version ' + args.version if args.version else ''}: deleted")
        return 0
    return _guard("translate pipelines", body)


def experiments(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="translate experiments", description="Experiments (labels on runs).")
    sub = p.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="create an experiment")
    create.add_argument("name")
    create.add_argument("--description")
    sub.add_parser("list", help="the namespace's experiments")
    for sp in sub.choices.values():
        _connection_flags(sp)
    args = p.parse_args(argv)

    def body() -> int:
        client = _client(args)
        if args.action == "create":
            e = client.create_experiment(args.name, args.description)
            print(f"experiment {e.experiment_id} ({e.display_name})")
            return 0
        for e in client.list_experiments():
            print(f"{e.experiment_id:<40} {e.display_name}")
        return 0
    return _guard("translate experiments", body)
