"""`translate`: the command line.

    translate --backend argo pipeline.py -o workflow.yaml
    translate lint workflow.yaml run.yaml
    translate run pipeline.py -p name=value

Errors are one line on stderr naming the file and the element, exit status 2, and nothing is
written; a manifest is written only once it is complete and validated.
"""
from __future__ import annotations

import argparse
import gc
import re
import sys

from .errors import InternalValidationError, TranslateError

TYPE_CHECKING = False  # `typing` stays unloaded: `translate --help` imports only what it needs
if TYPE_CHECKING:
    from typing import Any, Sequence


# Plain scalars that some YAML 1.1 parsers (go-yaml v2, used by kubectl and Argo) read as
# booleans or null although PyYAML writes them unquoted: a parameter named `y` must stay a string.
_AMBIGUOUS = {"y", "Y", "n", "N", "~", "="}


_NUMBER_START = frozenset("0123456789+-._ \t\n\r\x0b\x0ciInN")


def _number_like(data: str) -> bool:
    if not data or data[0] not in _NUMBER_START:  # float() accepts nothing else (fast path)
        return False
    try:
        float(data.replace("_", ""))
        return True
    except ValueError:
        return False


def _str_representer(dumper: Any, data: str) -> Any:
    if data in _AMBIGUOUS or _number_like(data):
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="'")
    style = "|" if "\n" in data and not data.endswith((" ", "\t")) and "\r" not in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_DUMPERS: dict[bool, Any] = {}


def _cached_resolve(self: Any, kind: Any, value: Any, implicit: Any) -> str:
    """PyYAML's implicit-tag resolution (regexes per scalar), memoized per dump: manifests repeat
    the same names, paths and references thousands of times. Same answers, fewer regexes."""
    try:
        return self._kfpt_resolved[value, implicit]
    except (KeyError, TypeError):  # TypeError: a collection's value (a list) is not hashable
        pass
    except AttributeError:
        self._kfpt_resolved = {}
    tag = self._kfpt_base_resolve(kind, value, implicit)
    if isinstance(value, str):
        self._kfpt_resolved[value, implicit] = tag
    return tag


def _dumper(native: bool) -> Any:
    """PyYAML's dumper with our string style: libyaml's emitter (`CSafeDumper`) when PyYAML was
    built with it and `native`, else the pure-Python one. Same bytes either way (tested)."""
    if native not in _DUMPERS:
        import yaml

        base = getattr(yaml, "CSafeDumper", None) if native else None
        base = base or yaml.SafeDumper
        dumper = type("_Dumper", (base,), {"resolve": _cached_resolve, "_kfpt_base_resolve": base.resolve})
        dumper.add_representer(str, _str_representer)
        _DUMPERS[native] = dumper
    return _DUMPERS[native]


# libyaml and PyYAML's emitter differ on double-quoted scalars (where they fold long lines, and
# libyaml quotes characters beyond the BMP that PyYAML writes plainly). A string is "simple" when
# neither emitter can double-quote it: printable BMP characters (U+FEFF excluded) and no space
# before a line break; a value of one or two characters without line breaks cannot be folded
# (Argo's ABSENT, U+FFFF, is one).
# (Compiled on first use: `translate --help` never needs them.)
_NOT_SIMPLE_RE = "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]| \n"
_NOT_SHORT_RE = "[\r\n\x85\u2028\u2029\U00010000-\U0010ffff]"


def _all_simple(manifests: list[Any]) -> bool:
    not_simple, not_short = re.compile(_NOT_SIMPLE_RE), re.compile(_NOT_SHORT_RE)  # re caches them
    stack: list[Any] = list(manifests)
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if not_simple.search(node) and (len(node) > 2 or not_short.search(node)) or \
                    ("\n" in node and node.endswith(" ")):
                return False
        elif isinstance(node, dict):
            # keys: the emitters count a simple key's length differently (characters, bytes)
            if any(not isinstance(k, str) or len(k) > 60 or not_simple.search(k) for k in node):
                return False
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return True


def _last_scalar(node: Any) -> Any:
    while isinstance(node, (dict, list)) and node:
        node = next(reversed(node.values())) if isinstance(node, dict) else node[-1]
    return node


def dump_yaml(manifests: list[dict[str, Any]], native: bool = True) -> str:
    """Deterministic YAML: keys in model order, long strings as literal blocks."""
    import yaml

    dumper = _dumper(native and _all_simple(manifests))
    text = yaml.dump_all(manifests, Dumper=dumper, sort_keys=False, allow_unicode=True, width=100)
    if dumper is not _dumper(False) and manifests:
        # libyaml (0.2.5+) ends the stream with `...` once the last document held a keep-chomped
        # block (`|+`); PyYAML's own emitter only when the very last scalar is one. Keep PyYAML's.
        last = _last_scalar(manifests[-1])
        wanted = isinstance(last, str) and yaml.dump_all([{"k": last}], Dumper=_dumper(False), allow_unicode=True,
                                                          width=100).endswith("\n...\n")
        if text.endswith("\n...\n") and not wanted:
            text = text[:-4]
        elif wanted and not text.endswith("\n...\n"):
            text += "...\n"
    return text


def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


# Subcommands: name -> (one-line help, "module:function" taking argv). `translate --help` lists them.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run a pipeline or a translated Workflow on this machine, with Argo's semantics", "translator.runner.cli:main"),
    "lint": ("lint manifests with the engine's own offline validation", "translator.cli:run_lint"),
    "submit": ("translate a pipeline and start a run on the cluster (--wait, --watch)", "translator.client.cli:submit"),
    "runs": ("list, get, logs, wait, terminate, delete, retry runs on the cluster", "translator.client.cli:runs"),
    "schedule": ("recurring runs: create, list, get, enable, disable, delete", "translator.client.cli:schedule"),
    "upload": ("store a pipeline on the cluster (WorkflowTemplate / Tekton Pipeline)", "translator.client.cli:upload"),
    "pipelines": ("uploaded pipelines and versions: list, delete", "translator.client.cli:pipelines"),
    "experiments": ("experiments: create, list", "translator.client.cli:experiments"),
}


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("kfp-translate")
    except PackageNotFoundError:  # a source tree that was never installed
        return "unknown"


class _VersionAction(argparse.Action):
    """argparse's `version` action, asking the package metadata only when used: importing
    importlib.metadata and scanning site-packages was most of `translate --help`'s time."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, help: str | None = None):
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: object, values: object, option_string: object = None) -> None:
        print(f"{parser.prog} {version()}")
        parser.exit()


def _commands_epilog() -> str:
    lines = ["commands (translate COMMAND --help for their options):"]
    lines += [f"  {name:<6} {text}" for name, (text, _) in SUBCOMMANDS.items()]
    lines.append("without a command: translate INPUT [options], as below")
    return "\n".join(lines)


def _translate_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Translate a KFP v2 pipeline into Argo Workflows or Tekton manifests.",
                                usage=f"{prog} [COMMAND] INPUT [options]", epilog=_commands_epilog(),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action=_VersionAction, help="print the version and exit")
    p.add_argument("input", help="pipeline IR (.yaml/.json, '-' for stdin), or a Python file with a @dsl.pipeline (FILE.py[:FUNCTION])")
    p.add_argument("--backend", default="argo", help="target engine: argo (default) or tekton")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout ('-': stdout); missing folders are created")
    p.add_argument("--kind", choices=["Workflow", "WorkflowTemplate", "CronWorkflow", "PipelineRun", "Pipeline"],
                   help="Argo: Workflow (default), WorkflowTemplate, CronWorkflow; Tekton: PipelineRun (default), Pipeline")
    p.add_argument("--with-run", action="store_true",
                   help="Tekton --kind Pipeline: also write a PipelineRun that references it")
    p.add_argument("--artifact-store", metavar="SECRET",
                   help="Tekton: Secret with the S3 settings of the artifact store (default: kfp-translate-artifacts)")
    p.add_argument("--transfer-image", help="Tekton: image of the artifact transfer steps (needs the aws CLI)")
    p.add_argument("--python-image", help="Tekton: image of condition evaluation tasks (needs python3)")
    p.add_argument("--gcs-credentials", metavar="SECRET",
                   help="Tekton: Secret with HMAC keys (GCS_ACCESS_KEY_ID, GCS_SECRET_ACCESS_KEY) for gs:// importers "
                        "(default: none, public objects read unsigned)")
    p.add_argument("--gcs-endpoint", metavar="URL",
                   help="Tekton: Google Cloud Storage's S3-compatible XML API for gs:// importers "
                        "(default: https://storage.googleapis.com)")
    p.add_argument("--tekton-alpha", action="append", default=[], metavar="FEATURE",
                   help="Tekton: opt in to an alpha feature (cel-when: conditions as CEL `when`, needs the "
                        "cluster's enable-cel-in-whenexpression flag); repeatable")
    p.add_argument("--name", help="fixed object name (default: generateName from the pipeline name)")
    p.add_argument("--generate-name", help="generateName prefix for a Workflow")
    p.add_argument("-n", "--namespace", help="namespace of the emitted object (default: none, the one you submit to)")
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
    p.add_argument("--lint", action="store_true",
                   help="also run the engine's own validation on the result (Argo's lint or Tekton's; needs the Go helper)")
    p.add_argument("--allow-oversize", action="store_true",
                   help="write a manifest even when it exceeds the 3 MiB the Kubernetes API server accepts")
    return p


def _options(args: argparse.Namespace) -> dict[str, Any]:
    repo = None
    if args.artifact_repository:
        cm, _, key = args.artifact_repository.partition(":")
        repo = (cm, key or "default-v1")
    if args.backend == "tekton":
        return _tekton_options(args)
    for flag, value in (("--with-run", args.with_run), ("--artifact-store", args.artifact_store),
                        ("--transfer-image", args.transfer_image), ("--python-image", args.python_image),
                        ("--tekton-alpha", args.tekton_alpha), ("--gcs-credentials", args.gcs_credentials),
                        ("--gcs-endpoint", args.gcs_endpoint)):
        if value:
            raise TranslateError(f"{flag} applies to --backend tekton only", element=flag)
    return dict(
        kind=args.kind or "Workflow",
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


def _tekton_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.artifact_repository or args.schedule or args.timezone or args.concurrency_policy:
        raise TranslateError("--artifact-repository, --schedule, --timezone and --concurrency-policy apply to "
                             "--backend argo only", element="--backend tekton")
    options: dict[str, Any] = dict(
        kind=args.kind,
        name=args.name,
        generate_name=args.generate_name,
        namespace=args.namespace,
        service_account=args.service_account,
        parameters=tuple(args.parameter),
        artifact_key_prefix=args.artifact_key_prefix,
        cache_max_age=args.cache_max_age,
        enable_caching=args.enable_caching,
        with_run=args.with_run,
    )
    for key in ("artifact_store", "transfer_image", "python_image", "gcs_credentials", "gcs_endpoint"):
        if getattr(args, key):
            options[key] = getattr(args, key)
    if args.tekton_alpha:
        options["tekton_alpha"] = tuple(args.tekton_alpha)
    return options


class _cyclic_gc_paused:
    """Pause CPython's cyclic garbage collector for one translation (reference counting still
    frees everything as usual). Loading the IR and building the manifests create hundreds of
    thousands of objects that all stay alive until the end, and the collector walks them again
    and again: 60-70% of the CPU time at 1,000 tasks went to it, PyYAML's own loading included
    (benchmarks/SCALE.md). What a translation leaves in cycles is freed once it is re-enabled.
    (A class, not contextlib: `translate --help` does not load contextlib.)"""

    def __enter__(self) -> None:
        self.enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            gc.enable()


def run_translate(argv: Sequence[str]) -> int:
    args = _translate_parser("translate").parse_args(argv)
    with _cyclic_gc_paused():
        return _translate_and_write(args)


def _translate_and_write(args: argparse.Namespace) -> int:
    from . import translate

    try:
        manifests = translate(args.input, backend=args.backend, **_options(args))
        if args.lint:
            from . import lint

            errors = lint.lint_documents(manifests)
            if errors:
                for e in errors:
                    print(f"{args.input}: {e.kind}/{e.name}: {e.message}", file=sys.stderr)
                return 1
        from .limits import check_output_size, json_size

        sizes = [json_size(m) for m in manifests]  # once, for the refusal and the warnings
        check_output_size(manifests, allow=args.allow_oversize, sizes=sizes)
        text = dump_yaml(manifests)
        if args.output:
            from .output import write_output

            write_output(args.output, text)
        else:
            sys.stdout.write(text)
    except InternalValidationError as exc:
        print(f"translate: internal error: {exc}", file=sys.stderr)
        return 3
    except TranslateError as exc:
        print(f"translate: {exc}", file=sys.stderr)
        return 2
    from .limits import size_warnings

    for warning in size_warnings(manifests, sizes):
        print(f"translate: warning: {args.output or '<stdout>'}: {warning}", file=sys.stderr)
    return 0


def run_lint(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="translate lint", description="Validate manifests with their engine's own code (Argo or Tekton, by kind).")
    p.add_argument("files", nargs="+", help="manifest files (YAML or JSON, several documents each) or folders of them")
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
    try:
        if argv and argv[0] in SUBCOMMANDS:
            import importlib

            module, _, func = SUBCOMMANDS[argv[0]][1].partition(":")
            return getattr(importlib.import_module(module), func)(argv[1:])
        return run_translate(argv)
    except KeyboardInterrupt:
        print("translate: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
