"""`Client`: kfp.Client's run, experiment, recurring-run and pipeline calls, served by the
Kubernetes API and the engine's own objects (no KFP API server)."""
from __future__ import annotations

import os
from typing import Any, Callable, Iterator

from . import experiments, prerequisites, runs, schedules, uploads
from .connection import Connection, connect
from .errors import ClientError
from .logs import LogLine, read as read_logs
from .model import EXPERIMENT, Experiment, PipelineVersion, RecurringRun, Run

UI_PATH = {"argo": "{base}/workflows/{namespace}/{name}",
           "tekton": "{base}/#/namespaces/{namespace}/pipelineruns/{name}"}


class Client:
    """Runs of KFP pipelines on Argo Workflows (`backend="argo"`) or Tekton (`backend="tekton"`).

        client = Client(backend="argo")                 # kubeconfig / in-cluster / host=, token=
        run = client.create_run_from_pipeline_func(pipeline, arguments={"lr": 0.1},
                                                   experiment_name="ml-experiments")
        run = client.wait_for_run_completion(run.run_id, timeout=3600)

    `ui_url`: the Argo server's or Tekton Dashboard's base URL, for `Run.url`
    (default $KFP_TRANSLATE_UI_URL). `translate_options`: options every translation gets
    (those of `translator.translate`, such as `artifact_store` or `service_account`).
    """

    def __init__(self, host: str | None = None, token: str | None = None, *, backend: str = "argo",
                 namespace: str | None = None, kubeconfig: str | None = None, context: str | None = None,
                 ui_url: str | None = None, verify_ssl: bool = True, ssl_ca_cert: str | None = None,
                 translate_options: dict[str, Any] | None = None, scheduler_image: str = schedules.DEFAULT_IMAGE):
        if backend not in ("argo", "tekton"):
            raise ClientError(f"unknown backend {backend!r} (choose argo or tekton)", element="backend")
        self.backend = backend
        self.conn: Connection = connect(host, token, kubeconfig=kubeconfig, context=context, namespace=namespace,
                                        verify_ssl=verify_ssl, ssl_ca_cert=ssl_ca_cert)
        self.namespace = self.conn.namespace
        self.ui_url = (ui_url or os.environ.get("KFP_TRANSLATE_UI_URL") or "").rstrip("/") or None
        self.translate_options = dict(translate_options or {})
        self.scheduler_image = scheduler_image
        self._buckets: dict[str, str | None] = {}  # Tekton artifact store bucket per namespace

    # ----------------------------------------------------------------- helpers

    def _ns(self, namespace: str | None) -> str:
        return namespace or self.namespace

    def _url(self, namespace: str, name: str) -> str | None:
        return UI_PATH[self.backend].format(base=self.ui_url, namespace=namespace, name=name) if self.ui_url else None

    def _bucket(self, namespace: str) -> str | None:
        """The Tekton artifact store's bucket (for artifact URIs), when we may read its Secret."""
        import base64

        if namespace in self._buckets:
            return self._buckets[namespace]
        name = self.translate_options.get("artifact_store", "kfp-translate-artifacts")
        self._buckets[namespace] = None
        try:
            secret = self.conn.call("read the artifact store Secret", self.conn.core.read_namespaced_secret, name, namespace)
        except ClientError:
            return None
        value = (secret.data or {}).get("KFP_TRANSLATE_BUCKET")
        self._buckets[namespace] = base64.b64decode(value).decode() if value else None
        return self._buckets[namespace]

    def _options(self, arguments: dict[str, Any] | None, enable_caching: bool | None,
                 service_account: str | None) -> dict[str, Any]:
        options = dict(self.translate_options)
        options["parameters"] = dict(arguments or {})
        if enable_caching is not None:
            options["enable_caching"] = enable_caching
        if service_account:
            options["service_account"] = service_account
        return options

    def _run_object(self, source: Any, options: dict[str, Any]) -> dict[str, Any]:
        import translator

        from translator.report import types

        kind = "Workflow" if self.backend == "argo" else "PipelineRun"
        docs = translator.translate(source, backend=self.backend, **options)
        obj = next(d for d in docs if d.get("kind") == kind)
        types.annotate(obj, types.declared(source))  # for the report: container components' artifact types
        return obj

    def _submit(self, obj: dict[str, Any], namespace: str | None, run_name: str | None,
                experiment_name: str | None) -> Run:
        ns = self._ns(namespace)
        self.conn.require_engine(self.backend)
        runs.label(obj, experiment_name, run_name)
        prerequisites.check(self.conn, self.backend, obj, ns)
        stored = runs.create(self.conn, obj, ns)
        return runs.to_run(self.conn, self.backend, stored, self._url, self._bucket, detail=False)

    # -------------------------------------------------------------------- runs

    def create_run_from_pipeline_func(self, pipeline_func: Any, arguments: dict[str, Any] | None = None,
                                      run_name: str | None = None, experiment_name: str | None = None,
                                      enable_caching: bool | None = None, namespace: str | None = None,
                                      service_account: str | None = None) -> Run:
        """Translate a `@dsl.pipeline` function and start it; returns the new run (state PENDING)."""
        obj = self._run_object(pipeline_func, self._options(arguments, enable_caching, service_account))
        return self._submit(obj, namespace, run_name, experiment_name)

    def create_run_from_pipeline_package(self, pipeline_file: str, arguments: dict[str, Any] | None = None,
                                         run_name: str | None = None, experiment_name: str | None = None,
                                         enable_caching: bool | None = None, namespace: str | None = None,
                                         service_account: str | None = None) -> Run:
        """The same from a compiled pipeline (IR YAML/JSON) or a `FILE.py[:FUNCTION]`."""
        obj = self._run_object(pipeline_file, self._options(arguments, enable_caching, service_account))
        return self._submit(obj, namespace, run_name, experiment_name)

    def run_pipeline(self, experiment_id: str | None = None, job_name: str | None = None,
                     pipeline_package_path: str | None = None, params: dict[str, Any] | None = None,
                     pipeline_id: str | None = None, version_id: str | None = None,
                     enable_caching: bool | None = None, service_account: str | None = None, *,
                     pipeline_name: str | None = None, version: str | None = None,
                     arguments: dict[str, Any] | None = None, run_name: str | None = None,
                     experiment_name: str | None = None, namespace: str | None = None) -> Run:
        """kfp.Client.run_pipeline's shape: a run of an uploaded pipeline by reference
        (`pipeline_name`/`pipeline_id`, its latest version unless `version`/`version_id`), or of
        a package (`pipeline_package_path`). `arguments`/`params`, `run_name`/`job_name` and
        `experiment_name`/`experiment_id` are the same thing under kfp's two spellings."""
        arguments = arguments if arguments is not None else params
        run_name, experiment = run_name or job_name, experiment_name or experiment_id
        if pipeline_package_path:
            return self.create_run_from_pipeline_package(pipeline_package_path, arguments, run_name, experiment,
                                                         enable_caching, namespace, service_account)
        name = pipeline_name or pipeline_id
        if not name:
            raise ClientError("give pipeline_name (an uploaded pipeline) or pipeline_package_path", element="run_pipeline")
        ns = self._ns(namespace)
        self.conn.require_engine(self.backend)
        ref = uploads.resolve(self.conn, self.backend, ns, name, version or version_id)
        obj = uploads.run_by_reference(self.conn, self.backend, ns, ref,
                                       self._options(arguments, enable_caching, service_account))
        return self._submit(obj, ns, run_name, experiment)

    def get_run(self, run_id: str, namespace: str | None = None) -> Run:
        ns = self._ns(namespace)
        self.conn.require_engine(self.backend)
        return runs.to_run(self.conn, self.backend, runs.get_object(self.conn, self.backend, ns, run_id),
                           self._url, self._bucket)

    def list_runs(self, experiment_name: str | None = None, namespace: str | None = None,
                  experiment_id: str | None = None, recurring_run_id: str | None = None) -> list[Run]:
        """The namespace's runs (oldest first), of one experiment or one recurring run if given."""
        self.conn.require_engine(self.backend)
        selector = []
        if experiment_name or experiment_id:
            selector.append(f"{EXPERIMENT}={experiment_id or runs.dns_label(experiment_name or '')}")
        if recurring_run_id:
            selector.append(f"{schedules.SCHEDULE}={recurring_run_id}")
        items = runs.list_objects(self.conn, self.backend, self._ns(namespace), ",".join(selector) or None)
        return [runs.to_run(self.conn, self.backend, o, self._url, self._bucket, detail=False) for o in items]

    def watch_run(self, run_id: str, timeout: float = 3600, namespace: str | None = None,
                  poll: float = 1.0) -> Iterator[Run]:
        """The run every time its state or a task's state changes, until it is done."""
        ns = self._ns(namespace)
        yield from runs.watch_states(self.conn, self.backend, ns, run_id, timeout,
                                     lambda: self.get_run(run_id, ns), poll)

    def wait_for_run_completion(self, run_id: str, timeout: float = 3600, namespace: str | None = None,
                                on_change: Callable[[Run], None] | None = None) -> Run:
        """The finished run (SUCCEEDED, FAILED or CANCELED); TimeoutError after `timeout` seconds."""
        last = None
        for last in self.watch_run(run_id, timeout, namespace):
            if on_change is not None:
                on_change(last)
        assert last is not None
        return last

    def terminate_run(self, run_id: str, namespace: str | None = None) -> None:
        runs.terminate(self.conn, self.backend, self._ns(namespace), run_id)

    def delete_run(self, run_id: str, namespace: str | None = None) -> None:
        runs.delete(self.conn, self.backend, self._ns(namespace), run_id)

    def retry_run(self, run_id: str, namespace: str | None = None) -> Run:
        """Argo: the failed run itself, retried in place as `argo retry` does: its failed tasks
        and those downstream of them run again, succeeded tasks keep their outputs (same run_id).
        Tekton cannot retry a PipelineRun: a new run with the finished run's spec (a new run_id)."""
        ns = self._ns(namespace)
        stored = runs.retry(self.conn, self.backend, ns, run_id)
        return runs.to_run(self.conn, self.backend, stored, self._url, self._bucket, detail=False)

    def logs(self, run_id: str, task: str | None = None, follow: bool = False,
             namespace: str | None = None) -> Iterator[LogLine]:
        """The step logs of the run (of one task), line by line; `follow` streams until the steps end."""
        return read_logs(self.conn, self.get_run(run_id, namespace), task, follow)

    # ------------------------------------------------------------- experiments

    def create_experiment(self, name: str, description: str | None = None, namespace: str | None = None) -> Experiment:
        return experiments.create(self.conn, self._ns(namespace), name, description)

    def get_experiment(self, experiment_name: str | None = None, experiment_id: str | None = None,
                       namespace: str | None = None) -> Experiment:
        return experiments.get(self.conn, self.backend, self._ns(namespace), experiment_id or runs.dns_label(experiment_name or ""))

    def list_experiments(self, namespace: str | None = None) -> list[Experiment]:
        return experiments.list_all(self.conn, self.backend, self._ns(namespace))

    def delete_experiment(self, experiment_id: str, namespace: str | None = None) -> None:
        experiments.delete(self.conn, self._ns(namespace), experiment_id)

    # ---------------------------------------------------------- recurring runs

    def create_recurring_run(self, job_name: str, cron_expression: str | None = None, pipeline_func: Any = None,
                             pipeline_package_path: str | None = None, pipeline_name: str | None = None,
                             version: str | None = None, arguments: dict[str, Any] | None = None,
                             params: dict[str, Any] | None = None, max_concurrency: int | None = 1,
                             experiment_name: str | None = None, experiment_id: str | None = None,
                             enabled: bool = True, enable_caching: bool | None = None, timezone: str | None = None,
                             namespace: str | None = None, service_account: str | None = None, *,
                             interval_second: int | None = None, start_time: Any = None, end_time: Any = None,
                             no_catchup: bool | None = None) -> RecurringRun:
        """Runs on a cron schedule (`cron_expression`, 5 fields, in `timezone`) or every
        `interval_second` seconds, only between `start_time` and `end_time` (RFC 3339 or aware
        datetimes) when given; at most `max_concurrency` at a time (1, as in kfp, unless given;
        None: no limit). Argo: 1 skips a tick while a run is going, more queue at a semaphore;
        Tekton: a tick is skipped while as many runs are unfinished. `no_catchup`: missed ticks
        are never backfilled, so only None or True. README "Recurring runs" has the mapping."""
        from backends.argo.options import check_timezone

        from .timing import resolve

        ns = self._ns(namespace)
        timing = resolve(self.backend, cron_expression, interval_second, start_time, end_time, no_catchup)
        if timezone:
            check_timezone(timezone, "timezone")
        if max_concurrency is not None and max_concurrency < 1:
            raise ClientError("max_concurrency must be at least 1", element="max_concurrency")
        self.conn.require_engine(self.backend)
        name = runs.dns_label(job_name, 52)
        options = self._options(arguments if arguments is not None else params, enable_caching, service_account)
        if pipeline_name:
            ref = uploads.resolve(self.conn, self.backend, ns, pipeline_name, version)
            obj = uploads.run_by_reference(self.conn, self.backend, ns, ref, options)
        else:
            source = pipeline_func if pipeline_func is not None else pipeline_package_path
            if source is None:
                raise ClientError("give pipeline_func, pipeline_package_path or pipeline_name", element="create_recurring_run")
            obj = self._run_object(source, options)
        runs.label(obj, experiment_name or experiment_id, None)
        obj["metadata"]["annotations"][runs.RUN_NAME] = job_name
        prerequisites.check(self.conn, self.backend, obj, ns)
        if self.backend == "argo":
            cron, semaphore = schedules.argo_cron(obj["spec"], obj["metadata"], name, timing, timezone,
                                                  max_concurrency, enabled)
            stored = schedules.create_argo(self.conn, ns, cron, semaphore)
        else:
            cronjob, template = schedules.tekton_cronjob(obj, name, timing, timezone, max_concurrency, enabled,
                                                         self.scheduler_image)
            stored = schedules.create_tekton(self.conn, ns, cronjob, template)
        return schedules.to_recurring(self.backend, stored)

    def get_recurring_run(self, recurring_run_id: str, namespace: str | None = None) -> RecurringRun:
        return schedules.get_schedule(self.conn, self.backend, self._ns(namespace), recurring_run_id)

    def list_recurring_runs(self, experiment_name: str | None = None, namespace: str | None = None) -> list[RecurringRun]:
        return schedules.list_schedules(self.conn, self.backend, self._ns(namespace), experiment_name)

    def enable_recurring_run(self, recurring_run_id: str, namespace: str | None = None) -> None:
        schedules.set_enabled(self.conn, self.backend, self._ns(namespace), recurring_run_id, True)

    def disable_recurring_run(self, recurring_run_id: str, namespace: str | None = None) -> None:
        schedules.set_enabled(self.conn, self.backend, self._ns(namespace), recurring_run_id, False)

    def delete_recurring_run(self, recurring_run_id: str, namespace: str | None = None) -> None:
        schedules.delete_schedule(self.conn, self.backend, self._ns(namespace), recurring_run_id)

    # --------------------------------------------------------------- pipelines

    def upload_pipeline(self, pipeline_package_path: Any, pipeline_name: str | None = None,
                        description: str | None = None, version: str | None = None,
                        namespace: str | None = None, enable_caching: bool | None = None) -> PipelineVersion:
        """Store a pipeline as a WorkflowTemplate / Tekton Pipeline (its first version, `v1`, unless `version`)."""
        self.conn.require_engine(self.backend)
        options = dict(self.translate_options)
        options.pop("service_account", None)
        if enable_caching is not None:
            options["enable_caching"] = enable_caching
        return uploads.upload(self.conn, self.backend, self._ns(namespace), pipeline_package_path, pipeline_name,
                              version, description, options)

    def upload_pipeline_version(self, pipeline_package_path: Any, pipeline_version_name: str, pipeline_name: str,
                                description: str | None = None, namespace: str | None = None) -> PipelineVersion:
        return self.upload_pipeline(pipeline_package_path, pipeline_name, description, pipeline_version_name, namespace)

    def list_pipeline_versions(self, pipeline_name: str | None = None, namespace: str | None = None) -> list[PipelineVersion]:
        self.conn.require_engine(self.backend)
        return uploads.versions(self.conn, self.backend, self._ns(namespace), pipeline_name)

    def delete_pipeline_version(self, pipeline_version_id: str, namespace: str | None = None) -> None:
        uploads.delete(self.conn, self.backend, self._ns(namespace), pipeline_version_id)

    def delete_pipeline(self, pipeline_name: str, namespace: str | None = None) -> None:
        for v in self.list_pipeline_versions(pipeline_name, namespace):
            self.delete_pipeline_version(v.pipeline_version_id, namespace)

    def write_report(self, run_id: str, path: str, namespace: str | None = None) -> None:
        """The run report (translator.report, docs/report.md) of a run, written to `path`."""
        from translator.report import write_report

        ns = self._ns(namespace)
        self.conn.require_engine(self.backend)
        obj = dict(runs.get_object(self.conn, self.backend, ns, run_id))
        if self.backend == "tekton":
            obj["taskRuns"] = runs.taskruns(self.conn, ns, run_id)

        def read(uri: str) -> bytes:  # Tekton's reader gives a key in the artifact store
            return self.read_artifact(uri if uri.startswith("s3://") else f"s3:///{uri}", ns)

        write_report(obj, self.backend, path, read)

    # --------------------------------------------------------------- artifacts

    def read_artifact(self, uri: str, namespace: str | None = None) -> bytes:
        """An artifact's bytes (an s3:// URI of a Run's Task.artifacts) from the run's store."""
        from .artifacts import read

        return read(self.conn, self.backend, self._ns(namespace), uri, self.translate_options)
