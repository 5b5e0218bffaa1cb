"""KFP conditions → Tekton `when` expressions.

Tekton's stable `when` has only `in` and `notin` on strings. A condition that is a conjunction
of (negated) equalities between a STRING channel and a string literal maps to `when` entries
directly, with no pod: Tekton compares the value as text, as KFP does. dsl.If/Elif/Else
compile to exactly that shape (`!(x == 'a') && x == 'b'`). Anything else (numbers, booleans,
`<`, `||`, functions) is evaluated by a small evaluation task whose result `outcome` the group's
tasks test; its Python expression follows KFP's CEL semantics as translator/conditions.py
documents them for Argo (numbers bound as doubles, `int()` truncating, heterogeneous equality
false, bool ordering false < true) and is built from the parsed condition, never from text.
A condition on a loop item or a per-iteration value differs between the TaskRuns of a matrix:
it becomes an IterationGuard, which each TaskRun evaluates for itself with the same expression
(backends/tekton/iterguard.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Union

from translator import conditions as c
from translator import graph as g
from translator.errors import TranslateError

from . import models as t
from .flatten import Value
from .values import B64_PREFIX

OUTCOME = "outcome"


@dataclass(frozen=True)
class Evaluation:
    expr: str  # Python expression over S(i) / F(i) / B(i) (see steps.EVAL_SCRIPT)
    env: dict[str, Value]


@dataclass(frozen=True)
class IterationGuard:
    """A condition on a loop item or a per-iteration value: a `when` would apply to every
    TaskRun of a matrix, so each TaskRun of the group's units decides its own iteration
    (backends/tekton/iterguard.py). `channels`: the Values the condition reads, by name."""

    node: c.Node
    channels: tuple[tuple[str, Value], ...]
    element: str
    text: str


def per_iteration(value: Value) -> bool:
    return value.loop is not None or value.item is not None


def guard(condition: str, params: dict, element: str, cel=None) -> Union[list[t.WhenExpression], Evaluation,
                                                                         IterationGuard]:
    """`cel`: with the alpha opt-in `--tekton-alpha cel-when`, a predicate telling which
    channels may be spliced into a CEL `when` (values whose text our own shim wrote: numbers
    and booleans of Python tasks; never text a user could give, which could end a CEL string
    literal); a condition over only such channels becomes one CEL `when`, no evaluation task."""
    try:
        node = c.parse(condition)
    except c.ConditionError as exc:
        raise TranslateError(f"condition {condition!r}: {exc}", element=element) from None

    def channel(name: str) -> Value:
        ref = params.get(name)
        if not isinstance(ref, Value):
            raise TranslateError(f"condition reads '{name}', which the task does not receive", element=element)
        if ref.collected is not None or ref.oneof:
            raise TranslateError("a condition on dsl.Collected or dsl.OneOf values is not supported on Tekton yet",
                                 element=element)
        return ref

    try:  # KFP's own rules (cel-go type checks): shared with the Argo backend
        c.to_argo(node, lambda name: c.Operand("x", channel(name).ptype))
    except c.ConditionError as exc:
        raise TranslateError(f"condition {condition!r}: {exc}", element=element) from None
    names = sorted(_channels(node))
    if any(per_iteration(channel(n)) for n in names):
        _, kind = _py(node, channel, {})
        if kind != "bool":
            raise TranslateError(f"condition {condition!r} is not a bool", element=element)
        return IterationGuard(node, tuple((n, channel(n)) for n in names), element, condition)
    direct = _direct(node, channel)
    if direct is not None:
        return direct
    if cel is not None:
        expr = _cel(node, channel, cel)
        if expr is not None:
            return [t.WhenExpression(cel=expr)]
    env: dict[str, Value] = {}
    expr, kind = _py(node, channel, env)
    if kind != "bool":
        raise TranslateError(f"condition {condition!r} is not a bool", element=element)
    return Evaluation(expr, env)


def _channels(node: c.Node) -> set[str]:
    if isinstance(node, c.Channel):
        return {node.name}
    if isinstance(node, c.Call):
        return _channels(node.arg)
    if isinstance(node, c.Not):
        return _channels(node.operand)
    if isinstance(node, c.BinOp):
        return _channels(node.left) | _channels(node.right)
    return set()


def iteration_expr(guards) -> tuple[str, dict[str, Value]]:
    """One Python expression deciding an iteration: the conjunction of the per-iteration
    conditions of every enclosing group, outermost first (Python's `and` stops at the first
    false one, so an inner condition never reads a value its outer group did not produce)."""
    env: dict[str, Value] = {}
    parts = []
    for g_ in guards:
        channels = dict(g_.channels)
        expr, _ = _py(g_.node, lambda name: channels[name], env)
        parts.append(expr)
    return " and ".join(f"({p})" for p in parts), env


def _atoms(node: c.Node) -> list[c.Node]:
    if isinstance(node, c.BinOp) and node.op == "&&":
        return _atoms(node.left) + _atoms(node.right)
    return [node]


def _direct(node: c.Node, channel) -> list[t.WhenExpression] | None:
    whens = []
    for atom in _atoms(node):
        negate = False
        while isinstance(atom, c.Not):
            negate, atom = not negate, atom.operand
        if not (isinstance(atom, c.BinOp) and atom.op in ("==", "!=")):
            return None
        left, right = atom.left, atom.right
        if isinstance(left, c.Literal):
            left, right = right, left
        if not (isinstance(left, c.Channel) and isinstance(right, c.Literal) and type(right.value) is str):
            return None
        value = channel(left.name)
        literal = right.value
        if value.ptype != g.STRING or value.producer is None and not value.text.startswith("$(params."):
            return None  # a constant: evaluated (rare; KFP folds nothing either)
        if "$" in literal or literal.startswith(B64_PREFIX):
            return None  # such values travel encoded: compare after decoding
        equal = (atom.op == "==") != negate
        whens.append(t.WhenExpression(input=value.text, operator="in" if equal else "notin", values=[literal]))
    return whens


_TRUE = ("1", "t", "T", "TRUE", "true", "True")


def _cel(node: c.Node, channel, safe) -> str | None:
    """A CEL expression for Tekton's alpha `when: [{cel: ...}]`, or None where one channel is not
    safe to splice or the condition needs strings. KFP's conditions are CEL with every number a
    double: channels are `double('<result>')` (booleans `'<result>' == 'true'`, as the shim
    writes them), literals doubles, `int(x)` truncates and stays a double; a comparison of
    different kinds is false (`!=`: true), as in _py."""
    def walk(n: c.Node) -> tuple[str, str]:
        if isinstance(n, c.Literal):
            v = n.value
            if type(v) is bool:
                return ("true" if v else "false"), "bool"
            if type(v) in (int, float):
                return repr(float(v)), "double"
            raise _NoCel
        if isinstance(n, c.Channel):
            value = channel(n.name)
            if not safe(value):
                raise _NoCel
            if value.ptype == g.BOOLEAN:
                return f"('{value.text}' == 'true')", "bool"
            # Tekton's reconciler also evaluates the expression before the result is substituted
            # (pipelinerun.go, EvaluateCEL after the parameters): converting the unsubstituted
            # reference would fail the run, so only a number is converted
            return f"('{value.text}'.matches('{_NUMBER}') ? double('{value.text}') : 0.0)", "double"
        if isinstance(n, c.Call):
            a, kind = walk(n.arg)
            if n.func == kind or (n.func == "double" and kind == "double"):
                return a, kind
            if n.func == "int" and kind == "double":
                return f"double(int({a}))", "double"
            raise _NoCel
        if isinstance(n, c.Not):
            a, _ = walk(n.operand)
            return f"!{a}", "bool"
        assert isinstance(n, c.BinOp)
        (left, lk), (right, rk) = walk(n.left), walk(n.right)
        if n.op in ("&&", "||"):
            return f"({left} {n.op} {right})", "bool"
        if n.op in ("==", "!=") and lk != rk:
            return ("false" if n.op == "==" else "true"), "bool"
        if lk == "bool" and n.op not in ("==", "!="):
            raise _NoCel  # bool ordering: evaluated by the task
        return f"({left} {n.op} {right})", "bool"

    try:
        expr, kind = walk(node)
    except _NoCel:
        return None
    return expr if kind == "bool" else None


_NUMBER = r"^[-+]?[0-9]+([.][0-9]*)?([eE][-+]?[0-9]+)?$"  # the numbers the shim writes (canonical)


class _NoCel(Exception):
    pass


def _py(node: c.Node, channel, env: dict[str, Value]) -> tuple[str, str]:
    """(Python expression, CEL kind) for a checked condition."""
    if isinstance(node, c.Literal):
        v = node.value
        if v is None:
            return "None", "null"
        if type(v) is bool:
            return ("True" if v else "False"), "bool"
        if type(v) is str:
            # a JSON string literal is a Python string literal; `$` escaped: Tekton reads scripts
            return json.dumps(v).replace("$", "\\u0024"), "string"
        return repr(v), "int" if type(v) is int else "double"
    if isinstance(node, c.Channel):
        value = channel(node.name)
        var = next((k for k, v in env.items() if v == value), None)
        if var is None:
            var = f"KFPT_C_{len(env)}"
            env[var] = value
        kind = {g.STRING: "string", g.BOOLEAN: "bool"}.get(value.ptype, "double")
        fn = {"string": "S", "bool": "B", "double": "F"}[kind]
        return f"{fn}({json.dumps(var)})", kind
    if isinstance(node, c.Call):
        a, kind = _py(node.arg, channel, env)
        if node.func == kind:
            return a, kind
        if node.func == "int":
            return f"int({a})", "int"
        if node.func == "double":
            return f"float({a})", "double"
        if node.func == "string":
            return (f"('true' if {a} else 'false')" if kind == "bool" else f"str({a})"), "string"
        raise TranslateError(f"unsupported function {node.func!r}")
    if isinstance(node, c.Not):
        a, _ = _py(node.operand, channel, env)
        return f"(not {a})", "bool"
    assert isinstance(node, c.BinOp)
    (left, lk), (right, rk) = _py(node.left, channel, env), _py(node.right, channel, env)
    if node.op in ("&&", "||"):
        return f"({left} {'and' if node.op == '&&' else 'or'} {right})", "bool"
    numeric = {"int", "double"}
    same = lk == rk or (lk in numeric and rk in numeric)
    if node.op in ("==", "!="):
        if not same:
            return ("False" if node.op == "==" else "True"), "bool"
        return f"({left} {node.op} {right})", "bool"
    return f"({left} {node.op} {right})", "bool"  # bools order as ints: False < True, as in CEL
