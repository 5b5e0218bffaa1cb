"""Caching on Tekton: a memo in the artifact store, looked up inside the task's own pod.

Tekton has no memoization. A cached task gets one more step before the component,
`kfpt-cache` (transfer image), which computes the memo key and looks it up in the store; on a hit it
restores the outputs exactly as the stored run produced them (results byte for byte, artifacts
copied to this run's keys) and reports the step result `hit=true`, and the component's step and
`kfpt-store` are skipped by step `when` expressions (stable Tekton: the entrypoint skips them, the
TaskRun succeeds). On a miss both run, and `kfpt-store` ends by writing the entry: a task that
failed never gets there, since Tekton runs no step after a failed one. docs/tekton.md, "Caching".

The key follows backends/argo/memo.py: a digest of everything that defines what the step computes
(the emitted main step, the Task's interface and pod settings: image, command, env, resources), the
value of every input parameter and the content digest of every input artifact (computed here from
the fetched files, so an upstream that re-ran but wrote the same bytes still lets consumers hit).

Store layout: one object per key, `<key prefix>/.cache/<key>/entry` (`.cache` is no run name:
those are DNS labels), written last by a successful task in one PUT: `created <epoch seconds>`,
`artifacts <prefix>` (where that TaskRun stored its output artifacts) and `result <name>
<base64>` per result (its bytes, without a loop's "<index>:"). A hit copies the artifacts to this
run's own keys (server side) and writes the results. Two runs that miss at once both run and both
write the entry; the last one wins, and a reader always sees one whole entry. As on Argo, an entry
refers to the artifacts of the run that stored it: once those are deleted, the entry misses.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import shlex

from hera.workflows import models as k

from translator.errors import TranslateError

from backends.argo.options import check_duration

from . import models as t

KEY_VERSION = "kfpt-tekton-cache-1"
STEP = "kfpt-cache"
HIT = "hit"
STATE_DIR = "/kfp/outputs/.kfp/cache"  # the key, the downloaded entry (shared by the steps: an emptyDir)
# Step `when`: the component and kfpt-store run unless the lookup restored a stored run.
UNLESS_HIT = [t.WhenExpression(input=f"$(steps.{STEP}.results.{HIT})", operator="notin", values=["true"])]

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def root(key_prefix: str) -> str:
    """Where the memo lives in the artifact store."""
    return f"{key_prefix}/.cache"


def max_age_seconds(duration: str) -> int:
    """A Go duration (Argo's memoize maxAge) as whole seconds, rounded up: an entry of age `a`
    seconds is valid while `a < max_age_seconds` (0 or negative: never)."""
    check_duration(duration, "--cache-max-age")
    sign = -1 if duration.startswith("-") else 1
    body = duration.lstrip("+-")
    seconds = 0.0 if body == "0" else sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(body))
    return max(0, math.ceil(sign * seconds))


def task_digest(spec: t.EmbeddedTask, task: t.PipelineTask, run_spec: t.PipelineTaskRunSpec | None) -> str:
    """What defines the computation, without names: the Task with its component step alone (our
    transfer steps only move data), the pipeline task's retries and timeout, its pod template."""
    body = {
        "task": t.dump(spec),
        "retries": task.retries,
        "timeout": task.timeout,
        "pod": t.dump(run_spec.pod_template) if run_spec and run_spec.pod_template else None,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# POSIX sh, holding no dollar-parenthesis (Tekton would read it as a variable): command
# substitution is written with backquotes, arithmetic with expr. Values arrive in env and args,
# quoted wherever the shell reads them.
_LOOKUP = """# the memo (docs/tekton.md, "Caching"): kfpt-cache looks up, kfpt-store remembers
S=/kfp/outputs/.kfp/cache
B="${KFP_TRANSLATE_BUCKET:-}"
sha() { sha256sum | cut -c1-64; }
walk() {
  for e in "$1"/* "$1"/.[!.]* "$1"/..?*; do
    if [ ! -e "$e" ] && [ ! -L "$e" ]; then continue; fi
    n="$2${e##*/}"
    if [ -d "$e" ]; then
      printf 'd\\0%s\\0' "$n"
      walk "$e" "$n/"
    else
      printf 'f\\0%s\\0' "$n"
      sha < "$e"
    fi
  done
}
content() {
  # a fetched input: a file's bytes, a folder's tree (names in byte order), or nothing
  if [ -d "$1" ]; then
    printf 'dir\\0'
    (LC_ALL=C; export LC_ALL; walk "$1" "")
  elif [ -e "$1" ]; then
    printf 'file\\0'
    sha < "$1"
  else
    printf 'absent\\0'
  fi
}
scopy() {
  aws s3 cp --only-show-errors "s3://$B/$1" "s3://$B/$2" 2>/dev/null ||
    aws s3 cp --only-show-errors --recursive "s3://$B/$1/" "s3://$B/$2/"
}
publish_file() {
  aws s3 cp --only-show-errors "$1" "s3://$B/$2"
}
restore() {
  # the stored run's outputs as this task's own: results byte for byte, artifacts copied to this
  # run's keys (at least one object per artifact, else the entry is of no use)
  rm -rf "$S/results"
  mkdir -p "$S/results"
  sed -n 's/^result //p' "$S/entry" > "$S/results.list" || return 1
  while read -r name data; do
    case "$name" in ''|.*|*/*) return 1 ;; esac
    printf '%s' "$data" | base64 -d > "$S/results/$name" || return 1
  done < "$S/results.list"
  if [ "${KFPT_ARTIFACTS:-0}" -gt 0 ]; then
    if [ -z "$1" ]; then return 1; fi
    copied=`aws s3 cp --no-progress --recursive "s3://$B/$1/" "s3://$B/$KFPT_PREFIX/" | grep -c '^copy:' || true`
    if [ "$copied" -lt "$KFPT_ARTIFACTS" ]; then
      echo "kfp-translate cache: the stored artifacts under $1 are gone" >&2
      return 1
    fi
  fi
  for f in "$S/results"/*; do
    if [ -f "$f" ]; then
      { printf '%s' "${KFPT_RESULT_PREFIX:-}"; cat "$f"; } > "/tekton/results/${f##*/}" || return 1
    fi
  done
  if [ "${KFPT_ARTIFACTS:-0}" -gt 0 ] && [ -z "${KFPT_RESULT_PREFIX:-}" ]; then
    printf '%s' "$KFPT_PREFIX" > /tekton/results/kfpt-prefix || return 1
  fi
  published || return 1
}
"""

_REMEMBER = """remember() {
  # the task succeeded: its results, and where its artifacts are, under the memo key (one object,
  # written last; docs/tekton.md, "Caching")
  S=/kfp/outputs/.kfp/cache
  key=`cat "$S/key"`
  rp="${KFPT_RESULT_PREFIX:-}"
  n=`expr "${#rp}" + 1`
  {
    printf 'kfpt-cache-entry 1\\ncreated %s\\nartifacts %s\\n' "`date +%s`" "${KFPT_PREFIX:-}"
    for r in "$@"; do
      if [ -f "/tekton/results/$r" ]; then
        printf 'result %s ' "$r"
        tail -c "+$n" "/tekton/results/$r" | base64 | tr -d '\\n'
        echo
      fi
    done
  } > "$S/entry"
  aws s3 cp --only-show-errors "$S/entry" "s3://${KFP_TRANSLATE_BUCKET}/$KFPT_CACHE/$key/entry"
  echo "kfp-translate cache: stored $key"
}
"""

_DECIDE = """lookup() {
mkdir -p "$S"
key=`memo_key "$@"`
printf '%s' "$key" > "$S/key"
hit=false
found=
if aws s3 cp --only-show-errors "s3://$B/$KFPT_CACHE/$key/entry" "$S/entry" 2>/dev/null; then
  found=`head -n 1 "$S/entry"`
fi
if [ "$found" = "kfpt-cache-entry 1" ]; then
  created=`sed -n 's/^created //p' "$S/entry"`
  from=`sed -n 's/^artifacts //p' "$S/entry"`
  now=`date +%s`
  case "$created" in ''|*[!0-9]*) created=0 ;; esac
  age=`expr "$now" - "$created" || true`
  if [ "$age" -ge "$KFPT_CACHE_MAX_AGE" ]; then
    echo "kfp-translate cache: entry $key is $age s old, not under the maximum age of $KFPT_CACHE_MAX_AGE s: the component runs"
  elif restore "$from"; then
    hit=true
    echo "kfp-translate cache: hit $key (stored $age s ago, artifacts from ${from:-none}): the component does not run"
  else
    echo "kfp-translate cache: entry $key could not be restored: the component runs" >&2
  fi
else
  echo "kfp-translate cache: miss $key"
fi
printf '%s' "$hit" > "$KFPT_HIT"
}
"""
_KEY = """memo_key() {
  # the key: a digest of the task's definition and of every input the component reads
  { printf '%s\\0' KEY_VERSION "$KFPT_CACHE_TASK"; inputs "$@"; } | sha
}
param() { printf 'param\\0%s\\0%s\\0' "$1" "$2"; }
input() { printf 'content\\0%s\\0' "$1"; content "$2"; }
arrays() { printf 'arrays\\0'; printf '%s\\0' "$@"; }
published() { :; }
""".replace("KEY_VERSION", KEY_VERSION)
def library(key_prefix: str, max_age: int) -> str:
    """The memo's part of the transfer steps' shell functions (steps.library: once per manifest,
    no dollar-parenthesis, no double dollar)."""
    if "$" in key_prefix:
        raise TranslateError("the artifact key prefix holds '$', which Tekton and the kubelet would rewrite",
                             element="--artifact-key-prefix")
    settings = f"KFPT_CACHE={shlex.quote(root(key_prefix))}\nKFPT_CACHE_MAX_AGE={max_age}\n"
    return settings + _LOOKUP + _KEY + _REMEMBER + _DECIDE


def _q(text: str) -> str:
    return shlex.quote(text)


def lookup_step(image: str, secret: str, head: str, library: k.EnvVar, digest: str, prefix: str,
                index: str | None, params: list[tuple[str, str]], arrays: list[tuple[str, str]],
                contents: list[tuple[str, str]], artifacts: int,
                publish: list[tuple[str, str, bool]], publish_prefix: str) -> t.Step:
    """params: (label, Tekton reference) of each string input; arrays: (label, array param) of
    each array input (argv sections, as Tekton hands arrays over only there); contents: (label,
    local path) of each fetched input; publish: (source, key, is artifact) of the dsl.OneOf
    copies the task makes (docs/tekton.md, "dsl.OneOf")."""
    env = [library, k.EnvVar(name="KFPT_HIT", value=f"$(step.results.{HIT}.path)"),
           k.EnvVar(name="KFPT_CACHE_TASK", value=digest),
           k.EnvVar(name="KFPT_PREFIX", value=prefix)]
    if artifacts:
        env.append(k.EnvVar(name="KFPT_ARTIFACTS", value=str(artifacts)))
    if index is not None:
        env.append(k.EnvVar(name="KFPT_RESULT_PREFIX", value=f"{index}:"))
    if publish:
        env.append(k.EnvVar(name="KFPT_ONEOF", value=publish_prefix))
    body = ["inputs() {"]
    for i, (label, ref) in enumerate(params):
        env.append(k.EnvVar(name=f"KFPT_K_{i}", value=ref))
        body.append(f'  param {_q(label)} "$KFPT_K_{i}"')
    body += [f"  input {_q(label)} {_q(path)}" for label, path in contents]
    args: list[str] = []
    for label, param in arrays:
        args += [f"--kfpt-array={label}", f"$(params.{param}[*])"]
    if arrays:
        body.append('  arrays "$@"')
    body += ["  :", "}"]
    if publish:
        body.append("published() {")
        for src, key, is_artifact in publish:
            copy = f'scopy "$KFPT_PREFIX/"{_q(src)}' if is_artifact else f"publish_file {_q(src)}"
            body.append(f'  {copy} "$KFPT_ONEOF/"{_q(key)} || return 1')
        body.append("}")
    script = head + "\n".join(body) + '\nlookup "$@"\n'
    return t.Step(name=STEP, image=image, script=script, args=args or None, env=env,
                  env_from=[k.EnvFromSource(secret_ref=k.SecretEnvSource(name=secret))],
                  results=[t.StepResult(name=HIT)])


def store_lines(results: list[str]) -> list[str]:
    """The end of kfpt-store: the entry under the key."""
    return [" ".join(["remember", *(_q(r) for r in results)])]
