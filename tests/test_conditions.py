"""KFP conditions -> Argo `when`: parser, emitter and expr-lang evaluator.

The reference is cel-python (`celpy`), evaluating the ORIGINAL CEL string with channel values
bound the way KFP's driver binds them (metadata.TextToPbValue: numbers are doubles, BOOLEAN a
bool). It is compared with `exprlang.evaluate` of the emitted expression over many values.
celpy differs from cel-go (KFP's engine) on heterogeneous equality, `\\?`, `\\X`, and triple-
quoted strings, so those are checked only by the opt-in Go oracle test at the end, which runs
the real cel-go (KFP's v0.30.0) and expr-lang (Argo's v1.17.8) (`KFPT_GO_ORACLE=1`, needs `go`).
"""

import itertools
import json
import math
import operator
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from translator import conditions as C
from translator import exprlang as E

try:    # test-only dependency: pip install cel-python
    import celpy
    from celpy import celtypes
except ImportError:  # pragma: no cover
    celpy = None
needs_celpy = pytest.mark.skipif(celpy is None, reason="cel-python (celpy) is not installed")

from .conftest import CORPUS, corpus_params, requires_corpus

REPO = Path(__file__).resolve().parent.parent
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007" \
           "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


# ------------------------------------------------------------------ collecting conditions
def conditions_in(doc: dict) -> list[tuple[str, dict]]:
    """(condition, {channel: parameterType of the guarded task's input}) for every task."""
    comps = dict(doc.get("components") or {})
    comps["<root>"] = doc.get("root") or {}
    found = []
    for comp in comps.values():
        for task in ((comp.get("dag") or {}).get("tasks") or {}).values():
            cond = (task.get("triggerPolicy") or {}).get("condition")
            if cond:
                ref = comps.get((task.get("componentRef") or {}).get("name"), {})
                params = (ref.get("inputDefinitions") or {}).get("parameters") or {}
                found.append((cond, {k: v.get("parameterType") for k, v in params.items()}))
    return found


def corpus_conditions() -> list[tuple[str, str, dict]]:
    out = []
    for path in sorted((CORPUS / "ir").rglob("*.yaml")):
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
        except (yaml.YAMLError, UnicodeDecodeError):
            continue   # ir/invalid holds files that are not YAML on purpose
        for doc in docs:
            out += [(path.name, c, t) for c, t in conditions_in(doc)]
    return out


CORPUS_CONDS = corpus_conditions()


def compile_pipeline(fn, tmp_path: Path) -> dict:
    from kfp import compiler
    out = tmp_path / "pipeline.yaml"
    compiler.Compiler().compile(fn, str(out))
    return yaml.safe_load(out.read_text())


# ------------------------------------------------------------------ the reference: KFP + CEL
def go_trim(s: str) -> str:
    return s.strip(GO_SPACE)


def kfp_bind(text: str, kfp_type: str):
    """metadata.TextToPbValue, then cel-go's view of a protobuf Value. None: KFP rejects it."""
    t = go_trim(text)
    if kfp_type == "STRING":
        return celtypes.StringType(text)
    if kfp_type == "NUMBER_INTEGER":
        ok = re.fullmatch(r"[+-]?[0-9]+", t) and -2 ** 63 <= int(t) < 2 ** 63
        return celtypes.DoubleType(float(int(t))) if ok else None
    if kfp_type == "NUMBER_DOUBLE":
        try:
            return celtypes.DoubleType(float(t))
        except ValueError:
            return None
    if kfp_type == "BOOLEAN":
        words = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
                 "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}
        return celtypes.BoolType(words[t]) if t in words else None
    raise AssertionError(kfp_type)


_CEL = celpy.Environment() if celpy else None


def cel_eval(program, values: dict, types: dict):
    """('ok', bool) | ('kfp-error', why) as KFP's driver would end."""
    bound = {}
    for name, text in values.items():
        v = kfp_bind(text, types[name])
        if v is None:
            return ("reject", f"KFP cannot parse {text!r} as {types[name]}")
        bound[celtypes.StringType(name)] = v
    act = {"inputs": celtypes.MapType({celtypes.StringType("parameter_values"):
                                       celtypes.MapType(bound)})}
    try:
        result = program.evaluate(act)
    except Exception as exc:  # celpy raises CELEvalError and friends
        return ("kfp-error", str(exc))
    if isinstance(result, Exception):
        return ("kfp-error", str(result))
    assert isinstance(result, celtypes.BoolType), result
    return ("ok", bool(result))


# ------------------------------------------------------------------ ours: emit + evaluate
def argo_tag_expression(when: str) -> str:
    """What Argo hands expr-lang: the template is JSON-encoded, fasttemplate cuts the first
    `{{`...`}}`, expressionReplace JSON-decodes the text after `=`. The tag must be all of it."""
    encoded = json.dumps(when)[1:-1]
    start = encoded.find("{{")
    end = encoded.find("}}", start + 2)
    assert start == 0 and end == len(encoded) - 2 and encoded[2] == "=", encoded
    return json.loads('"' + encoded[3:end] + '"')


def argo_side(cond: str, types: dict, values: dict):
    names = sorted(types)
    scope: dict = {"tasks": {}, "inputs": {"parameters": {}}}
    access = {}
    for j, name in enumerate(names):
        if j % 2 == 0:
            task = f"producer-{j}"
            access[name] = f"tasks[{C.quote(task)}].outputs.parameters['Output']"
            scope["tasks"][task] = {"outputs": {"parameters": {"Output": values.get(name)}}}
        else:
            access[name] = f"inputs.parameters[{C.quote(name)}]"
            scope["inputs"]["parameters"][name] = values.get(name)
    expr = C.to_argo(C.parse(cond), lambda n: C.Operand(access[n], types[n]))
    assert argo_tag_expression(f"{{{{= {expr} }}}}") == f" {expr} ", expr
    try:
        return expr, ("ok", E.evaluate(expr, scope))
    except E.ExprError:
        return expr, ("error",)


# ------------------------------------------------------------------ value domains
BASE = {
    "STRING": ["heads", "tails", "", "it's", 'say "hi"', "a\\b", "trail\\", "line\nbreak",
               "cr\r\nlf", "{{workflow.name}}", "}}", "{{", "$(params.x)", "ünïcødé 😀", "\t",
               " heads ", "1", "5000", "-3", "0.1", "true", "True", "\x00", "\u2028", "'", '"'],
    "NUMBER_INTEGER": ["0", "1", "2", "3", "5", "-1", "-7", "15", "16", "4999", "5000", "5001",
                       "9007199254740993", "-9223372036854775808", " 3\n", "3.0"],
    "NUMBER_DOUBLE": ["0.1", "1e-07", "-2.5", "3.0", "1.0", "0.0", "-0.0", "1e+20", "NaN",
                      "Infinity", "-Infinity", "2.9999999999999996", "0.30000000000000004",
                      " 0.5 "],
    "BOOLEAN": ["true", "false", "True", "False", "1", "0"],
}


def literals(node) -> list:
    if isinstance(node, C.Literal):
        return [node.value]
    kids = [getattr(node, f) for f in ("arg", "operand", "left", "right") if hasattr(node, f)]
    return [v for k in kids for v in literals(k)]


def domain(kfp_type: str, lits: list) -> list[str]:
    vals = list(BASE[kfp_type])
    for v in lits:
        if kfp_type == "STRING" and type(v) is str:
            vals.append(v)
        elif kfp_type == "NUMBER_INTEGER" and type(v) in (int, float) and math.isfinite(v):
            vals += [str(int(v) + d) for d in (-1, 0, 1)]
        elif kfp_type == "NUMBER_DOUBLE" and type(v) in (int, float):
            vals += [json.dumps(float(v)), json.dumps(math.nextafter(float(v), math.inf)),
                     json.dumps(math.nextafter(float(v), -math.inf))]
    return list(dict.fromkeys(vals))


def combos(types: dict, lits: list, limit: int = 300, seed: int = 0) -> list[dict]:
    names = sorted(types)
    pools = [domain(types[n], lits) for n in names]
    if math.prod(len(p) for p in pools) <= limit:
        return [dict(zip(names, vs)) for vs in itertools.product(*pools)]
    rnd = random.Random(seed)
    picks = [dict(zip(names, (rnd.choice(p) for p in pools))) for _ in range(limit)]
    # make equal values across channels likely too (channel vs channel)
    for p in picks[: limit // 3]:
        same = p[names[0]]
        p.update({n: same for n in names if types[n] == types[names[0]]})
    return picks


def check_equivalent(cond: str, types: dict, seed: int = 0) -> dict:
    """Every value combination: our verdict == KFP's. Returns counts for the report."""
    program = _CEL.program(_CEL.compile(cond))
    used = {n: t for n, t in types.items() if f"'{n}'" in cond}
    counts = {"same": 0, "kfp-rejects-value": 0, "kfp-int-overflow": 0}
    for values in combos(used, literals(C.parse(cond)), seed=seed):
        ref = cel_eval(program, values, used)
        expr, ours = argo_side(cond, used, values)
        if ref[0] == "reject":
            counts["kfp-rejects-value"] += 1   # we are lenient: no verdict to compare
        elif ref[0] == "kfp-error":
            # documented divergence: int() of NaN/inf/|x| >= 2^63 fails KFP's run
            assert re.search("overflow|cannot convert float", ref[1]), (cond, values, ref, expr, ours)
            counts["kfp-int-overflow"] += 1
        else:
            assert ours == ref, f"{cond!r} {values!r}: KFP {ref} vs Argo {ours} via {expr}"
            counts["same"] += 1
    return counts


# ------------------------------------------------------------------ (a) + (b) corpus
@requires_corpus
def test_corpus_has_conditions():
    assert len({c for _, c, _ in CORPUS_CONDS}) >= 40, CORPUS


@pytest.mark.parametrize("cond", corpus_params(sorted({c for _, c, _ in CORPUS_CONDS})))
def test_corpus_condition_parses(cond):
    node = C.parse(cond)
    assert isinstance(node, (C.BinOp, C.Not)), node


@needs_celpy
@pytest.mark.parametrize("fname,cond,types", corpus_params(
    [pytest.param(*c, id=f"{c[0]}:{i}") for i, c in enumerate(CORPUS_CONDS)], 3))
def test_corpus_condition_equivalent(fname, cond, types):
    counts = check_equivalent(cond, types)
    assert counts["same"] > 0, counts


# ------------------------------------------------------------------ (b) our own compiles
from kfp import dsl  # noqa: E402


@dsl.component(base_image="python:3.11")
def make_str() -> str:
    return "heads"


@dsl.component(base_image="python:3.11")
def make_int() -> int:
    return 3


@dsl.component(base_image="python:3.11")
def make_float() -> float:
    return 0.5


@dsl.component(base_image="python:3.11")
def make_bool() -> bool:
    return True


@dsl.component(base_image="python:3.11")
def noop():
    pass


OPS = [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]
ODD_STRINGS = ['x"y', "back\\\\slash", "tab\there", "{{workflow.name}} $(x) ünï 😀 }}", "", "a\\nb"]


@dsl.pipeline
def every_shape(ps: str = "heads", pi: int = 3, pf: float = 0.5, pb: bool = True):
    s, i, f, b = make_str(), make_int(), make_float(), make_bool()
    pairs = [(s.output, "heads"), (i.output, 5), (i.output, -3), (i.output, 2.5), (f.output, 0.1),
             (f.output, 3), (f.output, 1e-7), (f.output, -1e20), (b.output, True), (b.output, 0),
             (s.output, 5), (s.output, 0.5), (s.output, True), (i.output, f.output),
             (f.output, i.output), (s.output, ps), (i.output, pi), (b.output, pb), (pf, f.output),
             (pi, 1e20), (5, i.output), (i.output, -0.0), (pb, False)]
    pairs += [(ps, lit) for lit in ODD_STRINGS]
    # SDK output KFP itself cannot parse: a quote or newline in a literal, int vs str literal
    pairs += [(s.output, "it's"), (s.output, "a\nb"), (i.output, "x"), (s.output, b.output),
              (f.output, float("inf"))]
    for op in OPS:
        for left, right in pairs:
            with dsl.If(op(left, right)):
                noop()
    with dsl.If(i.output == 1):
        noop()
    with dsl.Elif(i.output == 2):
        noop()
    with dsl.Elif(f.output > 0.5):
        noop()
    with dsl.Else():
        noop()
    with dsl.Condition(s.output != "tails"):
        with dsl.If(b.output == True):  # noqa: E712
            noop()
    with dsl.ParallelFor([1, 2, 3]) as item:
        with dsl.If(item == 2):
            noop()
    with dsl.ParallelFor([{"a": "x"}]) as row:
        with dsl.If(row.a == "x"):
            noop()


def _compiled() -> list[tuple[str, dict]]:
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        return conditions_in(compile_pipeline(every_shape, Path(tmp)))


COMPILED = _compiled()


def parses(cond: str) -> bool:
    try:
        C.parse(cond)
        return True
    except C.ConditionError:
        return False


COMPILED_OK = [(c, t) for c, t in COMPILED if parses(c)]
COMPILED_BAD = sorted({c: t for c, t in COMPILED if not parses(c)}.items())


def test_compiled_every_operator_and_type():
    ops = {n.op for c, _ in COMPILED_OK for n in _binops(C.parse(c))}
    assert {"==", "!=", "<", "<=", ">", ">=", "&&"} <= ops
    funcs = {n.func for c, _ in COMPILED_OK for n in _calls(C.parse(c))}
    assert funcs == {"int", "double"}
    types = {t for _, ts in COMPILED_OK for t in ts.values()}
    assert {"STRING", "NUMBER_INTEGER", "NUMBER_DOUBLE", "BOOLEAN"} <= types
    assert len(COMPILED_BAD) == 5 * 6      # the five unparsable pairs, under every operator


def _binops(node):
    if isinstance(node, C.BinOp):
        return [node] + _binops(node.left) + _binops(node.right)
    return _binops(node.operand) if isinstance(node, C.Not) else \
        _binops(node.arg) if isinstance(node, C.Call) else []


def _calls(node):
    if isinstance(node, C.Call):
        return [node] + _calls(node.arg)
    if isinstance(node, C.BinOp):
        return _calls(node.left) + _calls(node.right)
    return _calls(node.operand) if isinstance(node, C.Not) else []


@needs_celpy
@pytest.mark.parametrize("cond,types", COMPILED_OK, ids=[str(i) for i in range(len(COMPILED_OK))])
def test_compiled_condition_equivalent(cond, types):
    counts = check_equivalent(cond, types, seed=len(cond))
    assert counts["same"] > 0, counts


@needs_celpy
@pytest.mark.parametrize("cond,types", COMPILED_BAD, ids=[c for c, _ in COMPILED_BAD])
def test_compiled_condition_kfp_cannot_run_either(cond, types):
    with pytest.raises(C.ConditionError, match=r"at position \d+"):
        C.parse(cond)
    try:                                     # the reference rejects it too: parse or name error
        program = _CEL.program(_CEL.compile(cond))
    except Exception:
        return
    values = {n: BASE[t][0] for n, t in types.items()}
    assert cel_eval(program, values, types)[0] == "kfp-error"


# ------------------------------------------------------------------ hand-written CEL (celpy)
CH = "inputs.parameter_values['{}']"
HAND_TYPES = {"s": "STRING", "s2": "STRING", "i": "NUMBER_INTEGER", "i2": "NUMBER_INTEGER",
              "d": "NUMBER_DOUBLE", "b": "BOOLEAN", "b2": "BOOLEAN"}
S, S2, I, I2, D, B, B2 = (CH.format(n) for n in ("s", "s2", "i", "i2", "d", "b", "b2"))
HAND = [
    f"{S} == 'heads' || {S} == 'tails'", f"!!({B} == true)", f"{B}", f"!{B} || {B2}",
    f"{B} < {B2}", f"{B} <= false", f"{B} > {B2}", f"{B} >= true", f"{B} != {B2}",
    f"int({I}) < int({I2}) && !(int({I}) == -5)", f"string(int({I})) == '3'",
f"string({S}) == {S2}", f"{S} < {S2}", f"{S} >= \"it's\"",
    f"{S} == 'a\\x41\\101\\u00e9\\U0001F600\\n\\t\\\\\\'\\\"'", f"{S} == r'a\\d'",
    f"{S} == \"{{{{workflow.name}}}}\"", f"{S} == '}}}}' || {S} == '$(x)'",
    f"int({S}) == 1", f"double({S}) < 0.5", f"double({I}) >= double(int({D}))",
    f"{D} < double(-9223372036854775808)", f"{D} >= 0.1 // a comment", f"int({I}) == 0x10",
    f"(int({I}) > 1) == ({D} > 1.0)", f"{D} == double(int({D}))",
    "true && (1 < 2) && 'b' > 'a'", f"{D} <= 1e-07 && {D} > -1e+20",
]


@needs_celpy
@pytest.mark.parametrize("cond", HAND)
def test_hand_written_condition_equivalent(cond):
    used = {n: t for n, t in HAND_TYPES.items() if f"'{n}'" in cond}
    counts = check_equivalent(cond, used, seed=len(cond))
    assert counts["same"] > 0, counts


# ------------------------------------------------------------------ (c) malformed conditions
@pytest.mark.parametrize("cond,message", [
    ("", "end of condition"),
    (f"{S} == 'it's'", "unterminated string literal at position"),
    (f"{S} == 'a\\d'", "invalid escape sequence '\\\\d' at position"),
    (f"{S} == '\\ud800'", "invalid escape sequence"),
    (f"{S} == 'a\nb'", "newline inside a single-quoted string literal"),
    (f"parseJson({S})['a'] == 'x'", "unsupported function 'parseJson' at position 0"),
    (f"size({S}) > 1", "unsupported function 'size'"),
    (f"int({I}) + 1 == 3", "unsupported construct '+' at position"),
    (f"{S} in ['a']", "unsupported construct 'in'"),
    (f"{B} ? true : false", "unsupported construct '?'"),
    ("x == 1", "unsupported identifier 'x' at position 0"),
    (f"{S} == inf", "unsupported identifier 'inf'"),
    (f"(int({I}) > 1", "expected ')', found end of condition"),
    (f"int({I}, 2) == 1", "takes one argument"),
    ("5u == 5u", "unsigned integer literal"),
    ("b'a' == b'a'", "bytes literal"),
    ("9223372036854775808 == 1", "integer literal out of range"),
    ("1e400 < 1.0", "out of range"),
    ("inputs.artifacts['a'] == 1", "unsupported field of inputs: 'artifacts'"),
    ("inputs.parameter_values.x == 1", "expected '[', found '.'"),
    (f"-int({I}) < 0", "unary minus on a non-literal"),
    (f"{S}.size() > 0", "unsupported member access"),
    (f"{S} == 'a' &", "unexpected character '&'"),
    ("{'a': 1} == 1", "unsupported construct '{'"),
])
def test_malformed_condition_is_rejected(cond, message):
    with pytest.raises(C.ConditionError) as info:
        C.parse(cond)
    assert isinstance(info.value, ValueError)
    assert message in str(info.value), str(info.value)


@pytest.mark.parametrize("cond,types,message", [
    (f"int({I}) == 3.0", {"i": "NUMBER_INTEGER"}, "(int, double)"),      # cel-go: no overload
    ("1 < 1.5", {}, "(int, double)"),
    ("null == 1", {}, "(null, int)"),
    (f"{S} < 3", {"s": "STRING"}, "cannot order (string, int)"),
    (f"!{S}", {"s": "STRING"}, "'!' applied to a string"),
    (f"{S} && true", {"s": "STRING"}, "needs bool operands"),
    (f"int({I})", {"i": "NUMBER_INTEGER"}, "not a bool"),
    (f"int({B}) == 1", {"b": "BOOLEAN"}, "int() of a bool"),
    (f"string({D}) == '1'", {"d": "NUMBER_DOUBLE"}, "string() of a double"),
    (f"{S} == 'x'", {"s": "LIST"}, "of type LIST cannot be used"),
    (f"{S} == 'x'", {"s": "STRUCT"}, "of type STRUCT cannot be used"),
])
def test_condition_kfp_would_reject_is_refused(cond, types, message):
    resolve = lambda n: C.Operand(f"inputs.parameters[{C.quote(n)}]", types[n])  # noqa: E731
    with pytest.raises(C.ConditionError) as info:
        C.to_argo(C.parse(cond), resolve)
    assert message in str(info.value), str(info.value)


@needs_celpy
def test_reference_rejects_what_we_refuse_for_types():
    """celpy agrees that these fail at run time (cel-go fails some already when compiling)."""
    for cond, name, kfp_type, text in [(f"{S} < 3", "s", "STRING", "x"),
                                       (f"!{S}", "s", "STRING", "x")]:
        program = _CEL.program(_CEL.compile(cond))
        assert cel_eval(program, {name: text}, {name: kfp_type})[0] == "kfp-error", cond


def test_accessor_with_tag_delimiter_is_refused():
    with pytest.raises(C.ConditionError, match="contains"):
        C.to_argo(C.parse(f"{S} == 'x'"), lambda n: C.Operand("inputs.parameters['}}']", "STRING"))


# ------------------------------------------------------------------ string literals, exprlang
TRICKY = ["", "'", '"', "\\", "\\'", "a\nb", "a\r\nb", "\r", "{{", "}}", "{{workflow.name}}",
          "$(x)", "ünï", "😀", "\x00", "\x7f", "\u2028", "\ufeff", "`", "a b,c:d/e-f_g.h"]


@pytest.mark.parametrize("text", TRICKY)
def test_quote_round_trips_and_is_inert(text):
    lit = C.quote(text)
    assert E.evaluate(lit, {}) == text
    inner = lit[1:-1]
    assert not set(inner) & set("'\"{}$\n\r`") and "\\\\" not in inner.replace("\\x5c", "")
    assert E.evaluate(f"{lit} == x", {"x": text}) is True


EXPR_UNITS = [
    ("asInt('3')", 3), ("asInt('+3')", 3), ("asInt(3.9)", 3), ("asInt(-3.9)", -3),
    ("asInt(asFloat('1e30'))", -2 ** 63), ("asFloat('1_000')", 1000.0), ("asFloat('.5')", 0.5),
    ("asFloat('0x1.8p1')", 3.0), ("asFloat('-Infinity')", -math.inf), ("asFloat('1e-400')", 0.0),
    ("trim(' \\u00a0x\\x1c\\n')", "x\x1c"), ("1 == 1.0", True), ("m.k == 1", False),
    ("nil == nil", True), ("'b' > 'a'", True), ("'é' > 'z'", True), ("2 in [1, 2]", True),
    ("true ? 'y' : 'n'", "y"), ("false && asInt('x') == 1", False), ("string(12)", "12"),
    ("m['missing'] == nil", True), ("m.k", "v"), ("(-9223372036854775807 - 1)", -2 ** 63),
    ("\"a\rb\" == 'a\\nb'", True), ("'\\u{41}'", "A"), ("not true or true and false", False),
]
EXPR_ERRORS = [
    "asInt('3.0')", "asInt(' 3')", "asInt('9223372036854775808')", "asFloat(' 1')",
    "asFloat('1e400')", "asFloat('1__0')", "asFloat('+nan')", "asFloat('0x1')", "asInt(true)",
    "trim(nil)", "nope", "m.k.x", "1 < 'a'", "true < false", "!'a'", "'a' && true",
    "undefined(1)", "'abc", "1 +", "'a' == 1", "trim(m.k) == 1",
    "'a\nb'", "\"\\'\"", "'\\X41'", "'\\?'", "'\\8'", "'a\\\r\nb'",
]


@pytest.mark.parametrize("expr,expected", EXPR_UNITS)
def test_exprlang_semantics(expr, expected):
    got = E.evaluate(expr, {"m": {"k": "v"}})
    assert got == expected and type(got) is type(expected), (expr, got)


EXPR_UNSUPPORTED = ["`raw`", "1..3", "'a' - 'b'", "m.none.k", "m['none']['k']", "{1: 2}"]

# Nil-safe access and coalescing, as the Argo backend emits them for dsl.OneOf outputs.
NIL_SAFE = [
    ("m['k'] ?? 'x'", "v"),
    ("m['none'] ?? 'x'", "x"),
    ("m?.k", "v"),
    ("m?.none?.k", None),
    ("m?.none?.k.deeper ?? 'd'", "d"),
    ("m?.['none']?.['k'] ?? m['k']", "v"),
    ("m['none'] ?? m['none2'] ?? 'last'", "last"),
    ("'a' + m['k'] + 'b'", "avb"),
    ("toJson({\"z\": 1, \"a\": {\"b\": [true, nil] }, \"e\": { } })", '{"a":{"b":[true,null]},"e":{},"z":1}'),
    ("sprig.dict('k' + 'x', 2)['kx']", 2),
    ("map([1, 2], { # + 1 })", [2, 3]),
    ("map([], { #.nope })", []),
    ("toJson(map(fromJSON('[{\"key\": \"p/a\"}]'), { {\"uri\": sprig.trimPrefix('p/', #.key) } }))", '[{"uri":"a"}]'),
]


@pytest.mark.parametrize("expr,expected", NIL_SAFE)
def test_exprlang_nil_safety(expr, expected):
    assert E.evaluate(expr, {"m": {"k": "v"}}) == expected


@pytest.mark.parametrize("expr", EXPR_ERRORS + EXPR_UNSUPPORTED)
def test_exprlang_errors(expr):
    with pytest.raises(E.ExprError):
        E.evaluate(expr, {"m": {"k": "v"}})


# ------------------------------------------------------------------ opt-in: real cel-go, expr-lang
# Conditions celpy gets wrong (cel-go is right): heterogeneous equality, string(bool), int(bool),
# CEL escapes celpy lacks, triple-quoted strings.
GO_ONLY = [
    f"{D} == 3", f"{I} < 4", f"{I} == {D}", f"{S} == 3", f"{S} != 3", f"{B} == 1", f"{S} == null",
    f"{S} == {I}", f"{S} != {B}", f"{D} >= int({D})", f"string({B}) == 'true'",
    f"{S} == '\\?\\`\\X41'", f"{S} == '''it's\na'''", f"{S} == R'\\d'", f"int({B}) == 1",
    f"{S} == 'a\\x41\\101\\u00e9\\U0001F600\\n\\t\\\\\\'\\\"'", f"int({I}) == 3.0", "1 < 1.5",
    "null == 1", f"{S} < 3", f"!{S}", f"{D} < 1",
]
GO_ORACLE = r'''
package main
import ("bufio";"encoding/json";"fmt";"os";"strconv";"strings"
  "github.com/expr-lang/expr";"github.com/expr-lang/expr/builtin"
  "github.com/google/cel-go/cel";"google.golang.org/protobuf/types/known/structpb")
type P struct{ Type, Text string }
type R struct{ Kind, Expr, Flavor string; Params map[string]P; Scope map[string]any }
type O struct{ Ok bool; Stage, Err, Type, Text string }
func bind(t string, s string) (*structpb.Value, error) { // KFP metadata.TextToPbValue
  x := strings.TrimSpace(s)
  switch t {
  case "STRING": return structpb.NewStringValue(s), nil
  case "NUMBER_INTEGER": i, err := strconv.ParseInt(x, 10, 0); return structpb.NewNumberValue(float64(i)), err
  case "NUMBER_DOUBLE": f, err := strconv.ParseFloat(x, 0); return structpb.NewNumberValue(f), err
  case "BOOLEAN": b, err := strconv.ParseBool(x); return structpb.NewBoolValue(b), err }
  return nil, fmt.Errorf("type %s", t) }
func show(v any) O {
  switch x := v.(type) {
  case bool: return O{Ok: true, Type: "bool", Text: strconv.FormatBool(x)}
  case int: return O{Ok: true, Type: "int", Text: strconv.Itoa(x)}
  case int64: return O{Ok: true, Type: "int", Text: strconv.FormatInt(x, 10)}
  case float64: return O{Ok: true, Type: "float", Text: strconv.FormatFloat(x, 'x', -1, 64)}
  case string: return O{Ok: true, Type: "string", Text: x}
  case nil: return O{Ok: true, Type: "nil"} }
  return O{Ok: true, Type: "other", Text: fmt.Sprintf("%T", v)} }
func pkgInt(in any) int64 { switch i := in.(type) { // argoproj/pkg expr AsInt (Argo 3.6)
  case float64: return int64(i); case int: return int64(i); case int64: return i
  case string: v, err := strconv.ParseInt(i, 10, 64); if err == nil { return v }; panic(err) }
  panic(fmt.Sprintf("asInt() not supported on %T", in)) }
func pkgFloat(in any) float64 { switch i := in.(type) { // argoproj/pkg expr AsFloat
  case float64: return i; case int: return float64(i); case int64: return float64(i)
  case string: v, err := strconv.ParseFloat(i, 64); if err == nil { return v }; panic(err) }
  panic(fmt.Sprintf("asFloat() not supported on %T", in)) }
func run(env *cel.Env, r R) (o O) {
  defer func() { if p := recover(); p != nil { o = O{Stage: "panic", Err: fmt.Sprint(p)} } }()
  if r.Kind == "cel" {
    ast, iss := env.Compile(r.Expr); if iss != nil && iss.Err() != nil { return O{Stage: "compile", Err: iss.Err().Error()} }
    prg, err := env.Program(ast); if err != nil { return O{Stage: "compile", Err: err.Error()} }
    pv := map[string]*structpb.Value{}
    for k, p := range r.Params { v, err := bind(p.Type, p.Text); if err != nil { return O{Stage: "bind", Err: err.Error()} }; pv[k] = v }
    out, _, err := prg.Eval(map[string]any{"inputs": map[string]any{"parameter_values": pv}})
    if err != nil { return O{Stage: "eval", Err: err.Error()} }
    return show(out.Value()) }
  m := map[string]any{}; for k, v := range r.Scope { m[k] = v }
  if r.Flavor == "3.6" { m["asInt"], m["asFloat"] = pkgInt, pkgFloat } else { m["asInt"], m["asFloat"] = builtin.Int, builtin.Float }
  prg, err := expr.Compile(r.Expr, expr.Env(m)); if err != nil { return O{Stage: "compile", Err: err.Error()} }
  out, err := expr.Run(prg, m); if err != nil { return O{Stage: "eval", Err: err.Error()} }
  return show(out) }
func main() {
  env, err := cel.NewEnv(cel.Variable("inputs", cel.MapType(cel.StringType, cel.MapType(cel.StringType, cel.DynType))))
  if err != nil { panic(err) }
  in := bufio.NewScanner(os.Stdin); in.Buffer(make([]byte, 1<<20), 1<<26); w := bufio.NewWriter(os.Stdout)
  for in.Scan() { var r R; if err := json.Unmarshal(in.Bytes(), &r); err != nil { panic(err) }
    b, _ := json.Marshal(run(env, r)); w.Write(append(b, '\n')) }
  w.Flush() }
'''


@pytest.fixture(scope="module")
def go_oracle(tmp_path_factory):
    if os.environ.get("KFPT_GO_ORACLE") != "1" or not shutil.which("go"):
        pytest.skip("set KFPT_GO_ORACLE=1 (needs go and the Go module proxy) for cel-go/expr-lang")
    d = tmp_path_factory.mktemp("oracle")
    (d / "main.go").write_text(GO_ORACLE)
    (d / "go.mod").write_text("module oracle\n\ngo 1.23\n\nrequire (\n\tgithub.com/google/cel-go "
                              "v0.30.0\n\tgithub.com/expr-lang/expr v1.17.8\n)\n")
    for cmd in (["go", "mod", "tidy"], ["go", "build", "-o", "oracle", "."]):
        subprocess.run(cmd, cwd=d, check=True, capture_output=True, timeout=900)

    def ask(requests: list[dict]) -> list[dict]:
        out = subprocess.run([str(d / "oracle")], input="\n".join(map(json.dumps, requests)) + "\n",
                             capture_output=True, text=True, check=True, timeout=900).stdout
        return [json.loads(line) for line in out.splitlines()]
    return ask


def go_value(o: dict):
    if not o["Ok"]:
        return ("error",)
    conv = {"bool": lambda t: t == "true", "int": int, "float": float.fromhex, "string": str,
            "nil": lambda t: None}
    return ("ok", conv[o["Type"]](o["Text"]))


def same(a, b) -> bool:
    if a[0] != b[0] or a[0] == "error":
        return a[0] == b[0]
    x, y = a[1], b[1]
    return type(x) is type(y) and (x == y or (type(x) is float and math.isnan(x) and math.isnan(y)))


def test_go_oracle_exprlang_units(go_oracle):
    """Our expr-lang evaluator against expr-lang itself, with Argo 3.7+ and 3.6 functions."""
    units = [u for u, _ in EXPR_UNITS] + EXPR_ERRORS
    for flavor in ("3.7", "3.6"):
        got = go_oracle([{"Kind": "expr", "Expr": u, "Flavor": flavor, "Scope": {"m": {"k": "v"}}}
                         for u in units])
        for u, o in zip(units, got):
            try:
                mine = ("ok", E.evaluate(u, {"m": {"k": "v"}}))
            except E.ExprError:
                mine = ("error",)
            if flavor == "3.6" and u == "string(12)":
                continue   # `string` is not ours to pin down there (argoproj/pkg AsStr)
            assert same(mine, go_value(o)), (flavor, u, mine, o)


def test_go_oracle_conditions(go_oracle):
    """cel-go (KFP) on the original CEL vs expr-lang (Argo) and exprlang on what we emit."""
    cases = [(c, t) for _, c, t in CORPUS_CONDS] + COMPILED_OK + \
        [(c, {n: t for n, t in HAND_TYPES.items() if f"'{n}'" in c}) for c in HAND + GO_ONLY]
    reqs, meta, tally = [], [], {"same": 0, "kfp-rejects-value": 0, "kfp-int-overflow": 0,
                                 "refused-as-kfp-does": 0}
    for cond, types in cases:
        used = {n: t for n, t in types.items() if f"'{n}'" in cond}
        for values in combos(used, literals(C.parse(cond)), limit=80, seed=1):
            try:
                expr, ours = argo_side(cond, used, values)
            except C.ConditionError:
                expr, ours = None, ("refused",)
            scope = {"tasks": {}, "inputs": {"parameters": {}}}
            for j, name in enumerate(sorted(used)):
                if j % 2 == 0:
                    scope["tasks"][f"producer-{j}"] = {"outputs": {"parameters": {"Output": values[name]}}}
                else:
                    scope["inputs"]["parameters"][name] = values[name]
            params = {n: {"Type": used[n], "Text": v} for n, v in values.items()}
            reqs.append({"Kind": "cel", "Expr": cond, "Params": params})
            meta.append((cond, values, expr, ours))
            if expr:
                reqs += [{"Kind": "expr", "Expr": expr, "Flavor": f, "Scope": scope}
                         for f in ("3.7", "3.6")]
    answers = iter(go_oracle(reqs))
    for cond, values, expr, ours in meta:
        cel = next(answers)
        if expr:
            for o in (next(answers), next(answers)):    # real expr-lang == our evaluator
                assert same(go_value(o), ("ok", ours[1]) if ours[0] == "ok" else ("error",)), \
                    (cond, values, expr, o, ours)
        if cel["Stage"] == "bind":
            tally["kfp-rejects-value"] += 1
        elif cel["Stage"] == "compile" or (ours[0] == "refused" and not cel["Ok"]):
            assert ours == ("refused",), (cond, cel, ours)
            tally["refused-as-kfp-does"] += 1
        elif cel["Stage"] == "eval" and "overflow" in cel["Err"]:
            tally["kfp-int-overflow"] += 1            # documented divergence
        else:
            assert ours == go_value(cel), (cond, values, cel, expr, ours)
            tally["same"] += 1
    print(tally)
    assert tally["same"] > 5000
