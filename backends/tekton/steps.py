"""The steps of one Tekton task: fetch inputs, run the component, store outputs.

One pod per task, as on Argo. The component's own image runs only the component (wrapped by the
pod shim for Python components); moving artifacts between the task and the artifact store is
done by steps we add, in a configurable image with the AWS CLI (`aws s3 cp`), reading the store's
settings from one Secret (docs/tekton.md, "Artifact store").
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources as importlib_resources

from hera.workflows import models as k

from translator.runtime import delivery

from . import cache as memo
from . import models as t

INPUTS_DIR = "/kfp/inputs"
OUTPUTS_DIR = "/kfp/outputs"
SHIM_DIR = f"{OUTPUTS_DIR}/.kfp"
SPILL_DIR = f"{SHIM_DIR}/spill"  # output parameters over Tekton's result limit (kfpt-store's spill)
RESULTS_DIR = "/tekton/results"
BUCKET_ENV = "KFP_TRANSLATE_BUCKET"

# The transfer steps' shell functions travel once per manifest, as the default of the pipeline
# parameter LIBRARY_PARAM, which each step's env reads and its script evaluates (docs/tekton.md,
# "One pod per task"). They hold no dollar-parenthesis (Tekton would read it as a variable) and no
# double dollar (the kubelet halves those in env values); values arrive in env, quoted wherever
# the shell reads them, so no value can become code.
LIBRARY_PARAM = "kfpt-sh"
LIBRARY_ENV = "KFPT_SH"
FETCH = """# input artifacts from the artifact store, or an importer's URI (docs/tekton.md)
fetch() {
  # $1: a key in the store or a URI (s3://, minio://, gs://, http(s)://); $3: required or optional
  mkdir -p "${2%/*}"
  case "$1" in
    s3://*) s3_get "$1" "$2" ;;
    minio://*) s3_get "s3://${1#minio://}" "$2" ;;
    gs://*) gcs_get "s3://${1#gs://}" "$2" ;;
    http://*|https://*) http_get "$1" "$2" ;;
    *://*)
      echo "kfp-translate: artifact URI $1: the scheme is not supported (s3, minio, gs, http, https)" >&2
      exit 1 ;;
    *) s3_get "s3://${KFP_TRANSLATE_BUCKET}/$1" "$2" ;;
  esac
  if [ ! -e "$2" ] && [ "$3" = required ]; then
    echo "kfp-translate: input artifact $1 not found" >&2
    exit 1
  fi
}
s3_get() {
  # an object, else every object under the prefix (a folder); more arguments are aws options
  src="$1"
  dest="$2"
  shift 2
  if ! aws "$@" s3 cp --only-show-errors "$src" "$dest" 2>/dev/null; then
    aws "$@" s3 cp --only-show-errors --recursive "$src/" "$dest"
    # nothing under the prefix: no artifact (the CLI may leave an empty directory behind)
    if [ -d "$dest" ]; then rmdir "$dest" 2>/dev/null || true; fi
  fi
}
gcs_get() {
  # Google Cloud Storage through its S3-compatible XML API (KFPT_GCS_ENDPOINT): signed with the
  # HMAC keys of the --gcs-credentials Secret when the step has them, else unsigned (public objects)
  if [ -n "${GCS_ACCESS_KEY_ID:-}" ]; then
    (
      unset AWS_SESSION_TOKEN AWS_PROFILE
      export AWS_ACCESS_KEY_ID="$GCS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="${GCS_SECRET_ACCESS_KEY:-}" AWS_DEFAULT_REGION=auto
      s3_get "$1" "$2" --endpoint-url "${KFPT_GCS_ENDPOINT:-https://storage.googleapis.com}"
    )
  else
    s3_get "$1" "$2" --endpoint-url "${KFPT_GCS_ENDPOINT:-https://storage.googleapis.com}" --no-sign-request
  fi
}
http_get() {
  # a plain download of one file (redirects followed; an HTTP error fails the step)
  curl --fail --silent --show-error --location --retry 2 --output "$2" "$1"
}
fetch_all() {
  # dsl.Collected artifacts: every iteration's object of one output, <prefix>/i<index>/<name>
  aws s3 cp --only-show-errors --recursive "s3://${KFP_TRANSLATE_BUCKET}/$1" "$2" --exclude "*" --include "i*/$3" --include "i*/$3/*"
  mkdir -p "$2"
}
maybe_ref() {
  # a value over Tekton's result limit: its producer stored it and the result holds
  # __KFP_REF__:<key>; anything else is the value itself, which the shim reads from env
  case "$1" in
    __KFP_REF__:*) fetch "${1#__KFP_REF__:}" "$2" required ;;
  esac
}
first() {
  # dsl.OneOf: the first of the branches' fixed keys that exists (only the branch that ran wrote it)
  dest="$1"
  shift
  for key in "$@"; do
    fetch "$key" "$dest" optional
    if [ -e "$dest" ]; then
      return 0
    fi
  done
  echo "kfp-translate: no dsl.OneOf branch stored $dest" >&2
  exit 1
}
"""

STORE = """# output artifacts to the artifact store, results Tekton passes on (docs/tekton.md)
put() {
  dst="s3://${KFP_TRANSLATE_BUCKET}/${KFPT_PREFIX}/$2"
  if [ -d "$1" ]; then
    aws s3 cp --only-show-errors --recursive "$1" "$dst"
  else
    aws s3 cp --only-show-errors "$1" "$dst"
  fi
}
publish() {
  # dsl.OneOf: also under the fixed key its consumers try (docs/tekton.md)
  if [ -d "$1" ]; then
    aws s3 cp --only-show-errors --recursive "$1" "s3://${KFP_TRANSLATE_BUCKET}/$2"
  else
    aws s3 cp --only-show-errors "$1" "s3://${KFP_TRANSLATE_BUCKET}/$2"
  fi
}
spill() {
  # output parameters over Tekton's result limit that the shim set aside (docs/tekton.md)
  for f in /kfp/outputs/.kfp/spill/*; do
    if [ -f "$f" ] && [ -z "${KFP_TRANSLATE_BUCKET:-}" ]; then
      echo "kfp-translate: output parameter ${f##*/} is over Tekton's result limit and goes through the artifact store, but its Secret is not in this namespace (manifests/components/tekton/artifact-store.yaml)" >&2
      exit 1
    fi
    if [ -f "$f" ]; then
      aws s3 cp --only-show-errors "$f" "s3://${KFP_TRANSLATE_BUCKET}/${KFPT_SPILL}/${f##*/}"
    fi
  done
}
result() {
  # one trailing newline dropped, as Argo's executor and KFP's launcher read output files
  src="$1"
  if [ -s "$src" ] && tail -c 1 "$src" | od -An -c | grep -q '[\\]n'; then
    mkdir -p /kfp/outputs/.kfp/results
    head -c -1 "$src" > "/kfp/outputs/.kfp/results/$3"
    src="/kfp/outputs/.kfp/results/$3"
  fi
  # the rule of podshim.for_tekton: dollar-parenthesis or our prefix: base64; else every dollar
  # doubled (the kubelet halves them in the consumer's env and args)
  # inside a loop every result starts with the iteration index (KFPT_RESULT_PREFIX, "<i>:")
  if grep -q '[$][(]' "$src" 2>/dev/null || head -c 12 "$src" | grep -q '^__KFP_B64__:'; then
    { printf '%s__KFP_B64__:' "${KFPT_RESULT_PREFIX:-}"; base64 "$src" | tr -d '\\n'; } > "$2"
  else
    { printf '%s' "${KFPT_RESULT_PREFIX:-}"; sed 's/[$]/&&/g' "$src"; } > "$2"
  fi
}
"""

EVAL = """#!/usr/bin/env python3
# kfp-translate: evaluates one KFP condition (docs/tekton.md, "Conditions")
import base64, os
P = "__KFP_B64__:"
def R(n):
    v = os.environ[n]
    for _ in range(2):
        if v.startswith(P):
            v = base64.b64decode(v[len(P):]).decode("utf-8", "surrogateescape")
    return v
def S(n): return R(n)
def F(n): return float(R(n).strip())
def B(n): return R(n).strip() in ("1", "t", "T", "TRUE", "true", "True")
outcome = bool(%s)
with open("/tekton/results/outcome", "w") as f:
    f.write("true" if outcome else "false")
print("condition:", "true" if outcome else "false")
"""


_MAIN_GUARD = '\nif __name__ == "__main__":\n    main()\n'


@lru_cache(maxsize=1)
def _shim_source() -> str:
    """podshim.py (exactly as Argo manifests carry it) with its Tekton part appended before the
    entry point: the Tekton part redefines a few functions (translator/runtime/podshim_tekton.py)."""
    files = importlib_resources.files("translator.runtime")
    base = files.joinpath("podshim.py").read_text(encoding="utf-8")
    tekton = files.joinpath("podshim_tekton.py").read_text(encoding="utf-8")
    if base.count(_MAIN_GUARD) != 1 or not base.endswith(_MAIN_GUARD):
        raise RuntimeError("translator/runtime/podshim.py must end with its `if __name__ == \"__main__\"` guard")
    return base[: -len(_MAIN_GUARD)] + "\n" + tekton + _MAIN_GUARD


@lru_cache(maxsize=1)
def packed_shim() -> str:
    """The one copy a manifest carries (translator/runtime/delivery.py): base64 of the
    zlib-compressed, minified shim (delivery.pack); the default of the pipeline parameter SHIM_PARAM."""
    return delivery.pack(_shim_source())


def shim_env() -> k.EnvVar:
    """Every shimmed step reads the shim from SHIM_ENV, given by its task's SHIM_PARAM."""
    return k.EnvVar(name=delivery.SHIM_ENV, value=f"$(params.{delivery.SHIM_PARAM})")


def shim_command(spec: dict, arrays: list[tuple[str, str]] = ()) -> list[str]:
    """The command that runs the pod shim (delivery.shim_command's argv, with the array sections
    Tekton can hand over only as whole argv elements between the SPEC and `--`:
    podshim_tekton.take_arrays)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":")).replace("$", "$$")
    sections = [x for env, param in arrays for x in (f"--kfpt-array={env}", f"$(params.{param}[*])")]
    python, flag, bootstrap, spec_arg, end = delivery.shim_command(text)
    return [python, flag, bootstrap, spec_arg, *sections, end]


HEAD = """#!/bin/sh
set -eu
eval "$KFPT_SH"  # kfp-translate's transfer functions (pipeline parameter kfpt-sh; docs/tekton.md)
"""


def library(key_prefix: str, max_age: int, cached: bool = True) -> str:
    """The default of LIBRARY_PARAM: the fetch and store functions, and the memo's when a task is cached."""
    text = "# kfp-translate: the transfer steps' shell functions\n" + FETCH + STORE
    return text + memo.library(key_prefix, max_age) if cached else text


def library_env() -> k.EnvVar:
    return k.EnvVar(name=LIBRARY_ENV, value=f"$(params.{LIBRARY_PARAM})")


def store_env(secret: str, optional: bool = False) -> list[k.EnvFromSource]:
    """The artifact store's settings. Optional where the store is needed only for output
    parameters over Tekton's result limit: a pipeline of parameters alone then runs without the
    Secret, as before, and `spill` names it should a value ever be that large."""
    return [k.EnvFromSource(secret_ref=k.SecretEnvSource(name=secret, optional=True if optional else None))]


def list_dir(name: str) -> str:
    """Where the fetch step puts every iteration's object of a collected artifact input (the
    shim moves them to <input>/0, <input>/1, ... in KFP's order)."""
    return f"{INPUTS_DIR}/.kfp/lists/{name}"


DEFAULT_GCS_ENDPOINT = "https://storage.googleapis.com"


@dataclass(frozen=True)
class Gcs:
    """How fetch steps read gs:// importer URIs: Google Cloud Storage's S3-compatible XML API at
    `endpoint`, signed with the HMAC keys of Secret `secret` (keys GCS_ACCESS_KEY_ID and
    GCS_SECRET_ACCESS_KEY) when one is named, unsigned (public objects) otherwise."""

    secret: str | None = None
    endpoint: str = DEFAULT_GCS_ENDPOINT

    def env(self) -> list[k.EnvVar]:
        env = [k.EnvVar(name="KFPT_GCS_ENDPOINT", value=self.endpoint.replace("$", "$$"))]
        if self.secret:
            env += [k.EnvVar(name=key, value_from=k.EnvVarSource(secret_key_ref=k.SecretKeySelector(
                name=self.secret, key=key))) for key in ("GCS_ACCESS_KEY_ID", "GCS_SECRET_ACCESS_KEY")]
        return env


def fetch_step(image: str, secret: str, artifacts: list[tuple[str, str, bool]],
               oneofs: list[tuple[str, list[str]]] = (), lists: list[tuple[str, str, str]] = (),
               refs: list[tuple[str, str]] = (), gcs: Gcs | None = None) -> t.Step:
    """artifacts: (input name, Tekton reference to its location, required); oneofs: (local
    path, the branches' keys) of dsl.OneOf inputs; lists: (input name, the producer's key
    prefix, its artifact's name) of collected artifacts; gcs: set when an artifact may be a
    gs:// URI (an importer's)."""
    env = [k.EnvVar(name=f"KFPT_A_{i}", value=loc) for i, (_, loc, _) in enumerate(artifacts)]
    env += gcs.env() if gcs is not None else []
    lines = [f'fetch "$KFPT_A_{i}" {shlex.quote(f"{INPUTS_DIR}/{name}")} {"required" if req else "optional"}'
             for i, (name, _, req) in enumerate(artifacts)]
    for i, (name, prefix, art) in enumerate(lists):
        env.append(k.EnvVar(name=f"KFPT_C_{i}", value=prefix))
        lines.append(f'fetch_all "$KFPT_C_{i}" {shlex.quote(list_dir(name))} {shlex.quote(art)}')
    for i, (dest, value) in enumerate(refs):  # task outputs that may be references to large values
        env.append(k.EnvVar(name=f"KFPT_R_{i}", value=value))
        lines.append(f'maybe_ref "$KFPT_R_{i}" {shlex.quote(dest)}')
    for i, (dest, keys) in enumerate(oneofs):
        env += [k.EnvVar(name=f"KFPT_O_{i}_{j}", value=key) for j, key in enumerate(keys)]
        lines.append(f"first {shlex.quote(dest)} " + " ".join(f'"$KFPT_O_{i}_{j}"' for j in range(len(keys))))
    return t.Step(name="kfpt-fetch", image=image, script=HEAD + "\n".join(lines) + "\n",
                  env=[*env, library_env()], env_from=store_env(secret))


def store_step(image: str, secret: str, prefix: str, artifacts: list[str], results: list[tuple[str, str]],
               metadata_results: list[str], index: str | None = None,
               publish: list[tuple[str, str]] = (), publish_prefix: str = "",
               cache: list[str] | None = None, spill: str | None = None) -> t.Step:
    """artifacts: output names to upload; results: (file, result name) to copy (container
    components); metadata_results: `{}` for artifacts whose metadata no shim wrote; index: the
    iteration index inside a loop (results start with "<index>:", no prefix result: the keys
    are known from the index); cache: the result names when the task is cached: the
    step ends by storing its outputs under the memo key (backends/tekton/cache.py) and, like
    the component's step, is skipped on a hit."""
    lines = [f"put {shlex.quote(f'{OUTPUTS_DIR}/{a}')} {shlex.quote(a)}" for a in artifacts]
    if artifacts and index is None:
        lines.append(f"printf '%s' \"$KFPT_PREFIX\" > {RESULTS_DIR}/kfpt-prefix")
    lines += [f"result {shlex.quote(src)} {RESULTS_DIR}/{name} {name}" for src, name in results]
    lines += [f"printf '%s{{}}' \"${{KFPT_RESULT_PREFIX:-}}\" > {RESULTS_DIR}/{name}" for name in metadata_results]
    lines += [f'publish {shlex.quote(src)} "$KFPT_ONEOF/{key}"' for src, key in publish]
    if spill is not None:
        lines.append("spill")
    env = [k.EnvVar(name="KFPT_PREFIX", value=prefix)] if artifacts else []
    if spill is not None:
        env.append(k.EnvVar(name="KFPT_SPILL", value=spill))
    if index is not None:
        env.append(k.EnvVar(name="KFPT_RESULT_PREFIX", value=f"{index}:"))
    if publish:
        env.append(k.EnvVar(name="KFPT_ONEOF", value=publish_prefix))
    if cache is not None:
        lines += memo.store_lines(cache)
    env.append(library_env())
    return t.Step(name="kfpt-store", image=image, script=HEAD + "\n".join(lines) + "\n",
                  env=env or None,
                  env_from=store_env(secret, optional=not (artifacts or publish or cache is not None))
                  if artifacts or publish or cache is not None or spill else None,
                  when=memo.UNLESS_HIT if cache is not None else None)


ITEMS = """#!/usr/bin/env python3
# kfp-translate: the iterations of a dsl.ParallelFor over a run-time list (docs/tekton.md, "Loops")
import base64, json, os
P = "__KFP_B64__:"
v = os.environ["KFPT_LIST"]
for _ in range(2):
    if v.startswith(P):
        v = base64.b64decode(v[len(P):]).decode("utf-8", "surrogateescape")
items = json.loads(v)
if not isinstance(items, list):
    raise SystemExit("kfp-translate: loop items are not a JSON list: %.200r" % v)
with open("/tekton/results/indices", "w") as f:
    json.dump([str(i) for i in range(len(items))], f)
print("iterations:", len(items))
"""


NEST_ITEMS = """#!/usr/bin/env python3
# kfp-translate: every iteration "i.j..." of nested dsl.ParallelFor loops (docs/tekton.md, "Nested loops")
import base64, json, os, sys
P = "__KFP_B64__:"
def text(v):
    for _ in range(2):
        if v.startswith(P):
            v = base64.b64decode(v[len(P):]).decode("utf-8", "surrogateescape")
    return v
arrays, current = {}, None
for x in sys.argv[1:]:  # --kfpt-array=ENV elements...: the iterations of a loop's task
    if x.startswith("--kfpt-array="):
        current = arrays.setdefault(x[len("--kfpt-array="):], [])
    else:
        current.append(x)
def key(i):
    return tuple(int(x) for x in i.split("."))
def level_items(src, items):
    if src.get("artifacts"):  # the producer's iterations, in its order
        return [(int(x.partition(":")[0]), None) for x in sorted(arrays["KFPT_LIST_%d" % src["list"]],
                                                                 key=lambda x: key(x.partition(":")[0]))
                if x.partition(":")[2] != "\\uffff"]  # not made: the iteration's condition was false
    if "list" in src:
        v = json.loads(text(os.environ["KFPT_LIST_%d" % src["list"]]))
    else:
        v = items[src["of"] - 1]
        for k in [k for k in src["field"].split(".") if k]:
            v = v[k] if isinstance(v, dict) and k in v else sys.exit("kfp-translate: loop item %.200r has no field %r" % (v, k))
    if not isinstance(v, list):
        raise SystemExit("kfp-translate: loop items are not a JSON list: %.200r" % (v,))
    return [(src.get("offset", 0) + k, x) for k, x in enumerate(v)]
nest = [((), ())]
for src in json.loads(os.environ["KFPT_NEST"]):
    nest = [(index + (k,), items + (x,)) for index, items in nest for k, x in level_items(src, items)]
with open("/tekton/results/indices", "w") as f:
    json.dump([".".join(map(str, index)) for index, _ in nest], f)
print("iterations:", len(nest))
"""


def nest_items_step(image: str, sources: list[dict], env: list[k.EnvVar], args: list[str]) -> t.Step:
    nest = json.dumps(sources, sort_keys=True, separators=(",", ":"))
    return t.Step(name="list-iterations", image=image, script=NEST_ITEMS, args=args or None,
                  env=[*env, k.EnvVar(name="KFPT_NEST", value=nest.replace("$", "$$"))])


def items_step(image: str, list_param: str) -> t.Step:
    return t.Step(name="list-iterations", image=image, script=ITEMS,
                  env=[k.EnvVar(name="KFPT_LIST", value=f"$(params.{list_param})")])


def eval_step(image: str, expr: str, env: dict[str, str]) -> t.Step:
    return t.Step(name="evaluate", image=image, script=EVAL % expr,
                  env=[k.EnvVar(name=n, value=v) for n, v in sorted(env.items())])


def io_volumes() -> tuple[list[k.Volume], list[k.VolumeMount]]:
    """Inputs and outputs live in emptyDirs every step mounts (writable whatever the user)."""
    vols = [k.Volume(name="kfp-inputs", empty_dir=k.EmptyDirVolumeSource()),
            k.Volume(name="kfp-outputs", empty_dir=k.EmptyDirVolumeSource())]
    mounts = [k.VolumeMount(name="kfp-inputs", mount_path=INPUTS_DIR),
              k.VolumeMount(name="kfp-outputs", mount_path=OUTPUTS_DIR)]
    return vols, mounts
