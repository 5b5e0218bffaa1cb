"""`translate`: the command line.

    translate --backend argo pipeline.py -o workflow.yaml
    translate lint workflow.yaml
    translate run pipeline.py -p name=value

Errors are one line on stderr naming the file and the element, exit status 2, and nothing is
written; a manifest is written only once it is complete and validated.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any, Sequence

import yaml

from .errors import InternalValidationError, TranslateError


class _Dumper(yaml.SafeDumper):
    pass


# Plain scalars that some YAML 1.1 parsers (go-yaml v2, used by kubectl and Argo) read as
# booleans or null although PyYAML writes them unquoted: a parameter named `y` must stay a string.
_AMBIGUOUS = {"y", "Y", "n", "N", "~", "="}


def _number_like(data: str) -> bool:
    try:
        float(data.replace("_", ""))
        return True
    except ValueError:
        return False


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if data in _AMBIGUOUS or _number_like(data):
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="'")
    style = "|" if "\n" in data and not data.endswith((" ", "\t")) and "\r" not in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)


def dump_yaml(manifests: list[dict[str, Any]]) -> str:
    """Deterministic YAML: keys in model order, long strings as literal blocks."""
    return yaml.dump_all(manifests, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _translate_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Translate a KFP v2 pipeline into Argo Workflows manifests.")
    p.add_argument("input", help="pipeline IR (.yaml/.json), or a Python file with a @dsl.pipeline (FILE.py[:FUNCTION])")
    p.add_argument("--backend", default="argo", help="target engine (default: argo)")
    p.add_argument("-o", "--output", help="write here instead of stdout")
    p.add_argument("--kind", default="Workflow", choices=["Workflow", "WorkflowTemplate", "CronWorkflow"])
    p.add_argument("--name", help="fixed object name (default: generateName from the pipeline name)")
    p.add_argument("--generate-name", help="generateName prefix for a Workflow")
    p.add_argument("-n", "--namespace")
    p.add_argument("--service-account", help="service account the workflow's pods run as")
    p.add_argument("-p", "--parameter", action="append", type=_param, default=[], metavar="NAME=VALUE",
                   help="override a pipeline parameter's default (typed as the pipeline declares it)")
    p.add_argument("--artifact-repository", metavar="CONFIGMAP[:KEY]",
                   help="artifact repository ConfigMap (default: the namespace's default repository)")
    p.add_argument("--artifact-key-prefix", default="kfp", help="prefix of every artifact key (default: kfp)")
    p.add_argument("--artifact-bucket", metavar="BUCKET",
                   help="the artifact repository's bucket: s3:// importers inside it are read by key")
    p.add_argument("--importer-s3-endpoint", metavar="HOST:PORT",
                   help="where s3:// importers outside the repository's bucket read (a complete Argo location)")
    p.add_argument("--importer-s3-secret", metavar="NAME",
                   help="Secret with keys accesskey/secretkey for --importer-s3-endpoint")
    p.add_argument("--importer-s3-insecure", action="store_true", help="plain HTTP to --importer-s3-endpoint")
    p.add_argument("--cache-configmap", default="kfp-translate-cache", help="ConfigMap holding Argo's memoization cache")
    p.add_argument("--cache-max-age", default="720h", help="how long a cached result may be reused (Go duration)")
    caching = p.add_mutually_exclusive_group()
    caching.add_argument("--enable-caching", dest="enable_caching", action="store_true", default=None,
                         help="cache every task, whatever the pipeline says")
    caching.add_argument("--disable-caching", dest="enable_caching", action="store_false",
                         help="cache no task, whatever the pipeline says")
    p.add_argument("--schedule", help="cron schedule, for --kind CronWorkflow (e.g. '0 2 * * *')")
    p.add_argument("--timezone", help="IANA time zone of the schedule")
    p.add_argument("--concurrency-policy", choices=["Allow", "Forbid", "Replace"],
                   help="what a CronWorkflow does when a run is still going (KFP max_concurrency=1 is Forbid)")
    p.add_argument("--lint", action="store_true", help="also run Argo's own lint on the result (needs the Go helper)")
    return p


def _options(args: argparse.Namespace) -> dict[str, Any]:
    repo = None
    if args.artifact_repository:
        cm, _, key = args.artifact_repository.partition(":")
        repo = (cm, key or "default-v1")
    return dict(
        kind=args.kind,
        name=args.name,
        generate_name=args.generate_name,
        namespace=args.namespace,
        service_account=args.service_account,
        parameters=tuple(args.parameter),
        artifact_repository_ref=repo,
        artifact_key_prefix=args.artifact_key_prefix,
        artifact_bucket=args.artifact_bucket,
        importer_s3_endpoint=args.importer_s3_endpoint,
        importer_s3_secret=args.importer_s3_secret,
        importer_s3_insecure=args.importer_s3_insecure,
        cache_configmap=args.cache_configmap,
        cache_max_age=args.cache_max_age,
        enable_caching=args.enable_caching,
        schedule=args.schedule,
        timezone=args.timezone,
        concurrency_policy=args.concurrency_policy,
    )


def _write_atomically(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".translate-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def run_translate(argv: Sequence[str]) -> int:
    from . import translate

    args = _translate_parser("translate").parse_args(argv)
    try:
        manifests = translate(args.input, backend=args.backend, **_options(args))
        if args.lint:
            from . import lint

            errors = lint.lint_documents(manifests)
            if errors:
                for e in errors:
                    print(f"{args.input}: {e.kind}/{e.name}: {e.message}", file=sys.stderr)
                return 1
        text = dump_yaml(manifests)
    except InternalValidationError as exc:
        print(f"translate: internal error: {exc}", file=sys.stderr)
        return 3
    except TranslateError as exc:
        print(f"translate: {exc}", file=sys.stderr)
        return 2
    if args.output:
        _write_atomically(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


def run_lint(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="translate lint", description="Run Argo's own offline lint on manifests.")
    p.add_argument("files", nargs="+")
    args = p.parse_args(argv)
    from . import lint

    try:
        errors = lint.lint_files(args.files)
    except TranslateError as exc:
        print(f"translate lint: {exc}", file=sys.stderr)
        return 2
    for e in errors:
        print(f"{e.file}: {e.kind}/{e.name}: {e.message}")
    return 1 if errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "lint":
        return run_lint(argv[1:])
    if argv and argv[0] == "run":
        from .runner.cli import main as run_main

        return run_main(argv[1:])
    return run_translate(argv)


if __name__ == "__main__":
    sys.exit(main())
