"""Conditions on loop items and per-iteration values: each TaskRun decides its own iteration.

A pipeline task's `when` applies to every TaskRun of its matrix, so a condition that differs
between iterations cannot be one. Instead every unit of such a condition group gets a first
step, `kfpt-condition`, that evaluates the conjunction of its enclosing per-iteration
conditions for its own iteration (the expression of translator/conditions.py's parse, built by
backends/tekton/conditions.py as for the evaluation task) and writes the step result `run`.
The unit's other steps carry the step `when` `run in ["true"]` (stable Tekton: the entrypoint
skips them and the TaskRun succeeds). A skipped iteration writes every task result as
`<index>:` + ABSENT, so Tekton's aggregation stays whole and readers see KFP's "not produced":
the same iteration's consumers get no value (their own guard skips them), dsl.OneOf takes the
branch that ran, dsl.Collected drops the iteration; the memo is never written (kfpt-store is
skipped). docs/tekton.md, "Conditions on per-iteration values".
"""
from __future__ import annotations

import json

from hera.workflows import models as k

from translator.errors import TranslateError

from . import models as t
from .conditions import iteration_expr
from .flatten import Unit, field_of
from .values import encode, protect

STEP = "kfpt-condition"
RUN = "run"
IF_RUN = t.WhenExpression(input=f"$(steps.{STEP}.results.{RUN})", operator="in", values=["true"])
INDEX = "kfpt-index"
LIST = "kfpt-list"

# Python, run by --python-image. No dollar-parenthesis and no user text: the condition is an
# expression over R(<var>) built from the parsed condition (JSON string literals only, with `$`
# escaped), the values arrive in env and args (array sections as in steps.NEST_ITEMS).
SCRIPT = """#!/usr/bin/env python3
# kfp-translate: decides this iteration of a condition group (docs/tekton.md, "Conditions on per-iteration values")
import base64, json, os, sys
P = "__KFP_B64__:"
ABSENT = "\\uffff"  # a skipped iteration's results
SPEC = json.loads(os.environ["KFPT_COND"])
INDEX = os.environ["KFPT_INDEX"]
class Skipped(Exception):
    pass
def dec(v):
    if v.startswith(P):
        v = base64.b64decode(v[len(P):], validate=True).decode("utf-8", "surrogateescape")
    return v
arrays, current = {}, None
for x in sys.argv[1:]:  # --kfpt-array=VAR elements...: a matrixed task's results, "<index>:<value>"
    if x.startswith("--kfpt-array="):
        current = arrays.setdefault(x[len("--kfpt-array="):], [])
    else:
        current.append(x)
def field(v, path):
    for k in [k for k in path.split(".") if k]:
        if not isinstance(v, dict) or k not in v:
            raise SystemExit("kfp-translate: loop item %.200r has no field %r" % (v, k))
        v = v[k]
    return v
def picked(n, depth):
    want = ".".join(INDEX.split(".")[:depth])
    for x in arrays.get(n, []):
        k, sep, v = x.partition(":")
        if sep and k == want and v != ABSENT:
            return dec(v)
    raise Skipped(n)  # its producer did not run in this iteration
def item(how):
    index = [int(x) for x in INDEX.split(".")]
    items = []
    for level, src in enumerate(SPEC["sources"][:how["level"]]):
        if "list" in src:
            values = json.loads(dec(os.environ["KFPT_LIST_" + str(src["list"])]) or "[]")
        else:
            values = field(items[src["of"] - 1], src["field"])
        if not isinstance(values, list):
            raise SystemExit("kfp-translate: loop items are not a JSON list: %.200r" % (values,))
        items.append(values[index[level] - src.get("offset", 0)])
    v = field(items[-1], how["field"])
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
def R(n):
    # ABSENT is compared before decoding: a user's value holding it always travels base64
    how = SPEC["vars"].get(n)
    if how is not None:
        return picked(n, how["depth"]) if "depth" in how else item(how)
    if os.environ[n] == ABSENT:  # an optional input given no value
        raise Skipped(n)
    return dec(os.environ[n])
def S(n): return R(n)
def F(n): return float(R(n).strip())
def B(n): return R(n).strip() in ("1", "t", "T", "TRUE", "true", "True")
try:
    run = bool(__EXPR__)
except Skipped:
    run = False
with open(os.environ["KFPT_RUN_PATH"], "w") as f:
    f.write("true" if run else "false")
if not run:  # every result says "not produced in this iteration"
    for r in SPEC["results"]:
        with open("/tekton/results/" + r, "w", encoding="utf-8") as f:
            f.write(INDEX + ":" + ABSENT)
print("iteration %s: %s" % (INDEX, "runs" if run else "skipped (condition false)"))
"""


def apply(task: t.PipelineTask, unit: Unit, python_image: str) -> t.PipelineTask:
    """The unit's pipeline task with the `kfpt-condition` step first and the other steps
    guarded by its result."""
    loop = unit.loop
    if loop is None:
        raise TranslateError("a per-iteration condition outside its loop", element=unit.element)
    if unit.final:
        raise TranslateError("a task after upstream failures inside a condition on a per-iteration value is not "
                             "supported on Tekton (finally tasks are not matrixed)", element=unit.element)
    expr, channels = iteration_expr(unit.iter_guards)
    spec = task.task_spec
    have = {p.name for p in spec.params or []}
    specs: list[t.ParamSpec] = []
    params: list[t.Param] = []
    env: list[k.EnvVar] = []
    args: list[str] = []
    include: dict[str, list[str]] = {}
    how: dict[str, dict] = {}
    nest = False
    chain = loop.chain()
    for n, (var, value) in enumerate(sorted(channels.items())):
        pname = f"kfpt-if-{n}"
        where = f"{unit.element} condition"
        if value.item is not None:
            if loop.iterations is not None:  # literal lists: each iteration's value in matrix.include
                include[pname] = [protect(encode(field_of(items[value.item_level - 1], value.item, where),
                                                 value.ptype)) for _, items in loop.iterations]
                specs.append(t.ParamSpec(name=pname, description="a value the condition reads"))
                env.append(k.EnvVar(name=var, value=f"$(params.{pname})"))
            else:
                how[var] = {"level": value.item_level, "field": value.item}
                nest = True
        elif value.loop is not None:  # a task of this loop (or an enclosing one): its aggregated results
            if value.loop not in chain:
                raise TranslateError("the condition reads a per-iteration value outside its loop", element=where)
            how[var] = {"depth": len(chain) - chain.index(value.loop)}
            for j, text in enumerate((value.text, *value.parts)):
                name = pname if j == 0 else f"{pname}-{j}"
                specs.append(t.ParamSpec(name=name, type="array"))
                params.append(t.Param(name=name, value=text))
                args += [f"--kfpt-array={var}", f"$(params.{name}[*])"]
        else:
            specs.append(t.ParamSpec(name=pname, description="a value the condition reads"))
            params.append(t.Param(name=pname, value=value.text))
            env.append(k.EnvVar(name=var, value=f"$(params.{pname})"))
    if nest:
        for j, value in enumerate(loop.lists):
            name = f"{LIST}-{j}"
            if name not in have:
                specs.append(t.ParamSpec(name=name, description="items of a level of the loops"))
                params.append(t.Param(name=name, value=value.text))
            env.append(k.EnvVar(name=f"KFPT_LIST_{j}", value=f"$(params.{name})"))
    cond = {"vars": how, "results": [r.name for r in spec.results or []],
            **({"sources": loop.sources} if nest else {})}
    env += [k.EnvVar(name="KFPT_INDEX", value=f"$(params.{INDEX})"),
            k.EnvVar(name="KFPT_RUN_PATH", value=f"$(step.results.{RUN}.path)"),
            k.EnvVar(name="KFPT_COND", value=json.dumps(cond, sort_keys=True, separators=(",", ":")).replace("$", "$$"))]
    step = t.Step(name=STEP, image=python_image, script=SCRIPT.replace("__EXPR__", expr), args=args or None,
                  env=env, results=[t.StepResult(name=RUN)])
    steps = [step] + [s.model_copy(update={"when": [IF_RUN, *(s.when or [])]}) for s in spec.steps]
    spec = spec.model_copy(update={"steps": steps, "params": [*(spec.params or []), *specs] or None})
    matrix = task.matrix
    if include:
        entries = [e.model_copy(update={"params": [*e.params, *(t.Param(name=p, value=v[i])
                                                                 for p, v in sorted(include.items()))]})
                   for i, e in enumerate(matrix.include)]
        matrix = matrix.model_copy(update={"include": entries})
    return task.model_copy(update={"task_spec": spec, "params": [*(task.params or []), *params] or None,
                                   "matrix": matrix})
