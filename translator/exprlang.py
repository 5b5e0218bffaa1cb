"""Evaluator for the expr-lang subset that `translator.conditions.to_argo` emits.

Argo evaluates `{{= ... }}` tags with expr-lang (github.com/expr-lang/expr, v1.16.9 in Argo 3.6,
v1.17.x in 3.7-4.x) over an env of nested maps of strings (`util/expr/env/env.go`). This module
lets tests and a local runner evaluate our `when` expressions without Argo, so it follows the Go
code, not Python habits:

* asInt/asFloat are Argo's (3.7+: expr-lang builtin int/float; 3.6: argoproj/pkg expr AsInt/
  AsFloat): strings parse with Go's strconv.Atoi / ParseFloat (no whitespace; ParseFloat takes
  `1_000`, `Inf`, `NaN`, hex floats, and fails on overflow), floats convert to int like Go on
  amd64 (truncate; NaN and out-of-range give MinInt64).
* trim is Go's strings.TrimSpace (Unicode White_Space, which differs from str.strip()).
* `==` compares int and float as float64; values of other differing types are unequal;
  ordering works on numbers and strings only; `&&`, `||`, `!`, `?:` need bools.
* `map(a, {...})` and `filter(a, {...})` see each element as `#` (nested: the innermost);
  `type(x)` is expr-lang's kind name ("string", "array", "map", "int", "float", "bool", "nil").
* A missing map key yields nil (expr-lang), an unknown top-level name is an error (expr-lang
  fails to compile it), indexing nil is an error. Operands whose types are known when
  compiling (literals, operator and trim/string results) are type-checked as expr-lang does.
Anything outside this subset raises ExprError.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from typing import Any

__all__ = ["ExprError", "evaluate"]


class ExprError(Exception):
    """Unsupported syntax, or an error expr-lang/Argo would raise at compile or run time."""


_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007" \
            "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_TOKEN = re.compile(r"""
    (?P<ws>[ \t\n\r]+)
  | (?P<str>['"])
  | (?P<num>[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]*)?)
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||\?\?|\?\.|[<>!()\[\].,?:+\-{}#])
""", re.VERBOSE)
_ESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
        "\\": "\\", "'": "'", '"': '"', "`": "`", "?": "?"}
_KEYWORDS = {"and": "&&", "or": "||", "not": "!", "in": "in"}


def _rune(cp: int) -> str:
    return "\ufffd" if 0xD800 <= cp <= 0xDFFF else chr(cp)   # Go encodes surrogates as U+FFFD


def _unescape(body: str) -> str:
    """expr-lang parser/lexer/utils.go unescape (quotes already stripped)."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1:i + 2]
        if e in _ESC:
            out.append(_ESC[e])
            i += 2
        elif e == "u" and body[i + 2:i + 3] == "{":
            m = re.match(r"\{([0-9a-fA-F]{1,6})\}", body[i + 2:])
            if not m or int(m.group(1), 16) > 0x10FFFF:
                raise ExprError("unable to unescape string")
            out.append(chr(int(m.group(1), 16)))
            i += 2 + m.end()
        elif e and e in "xXuU":
            n = {"x": 2, "X": 2, "u": 4, "U": 8}[e]
            digits = body[i + 2:i + 2 + n]
            if len(digits) != n or any(d not in "0123456789abcdefABCDEF" for d in digits) \
                    or int(digits, 16) > 0x10FFFF:
                raise ExprError("unable to unescape string")
            out.append(_rune(int(digits, 16)))
            i += 2 + n
        elif e and e in "0123":
            digits = body[i + 2:i + 4]
            if len(digits) != 2 or any(d not in "01234567" for d in digits):
                raise ExprError("unable to unescape octal sequence in string")
            out.append(_rune(int(e + digits, 8)))
            i += 4
        else:
            raise ExprError("unable to unescape string")
    return "".join(out)


_SCAN_ESC = re.compile(r"[abfnrtv\\]|[0-7]{3}|x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]{1,6}\}|u[0-9a-fA-F]{4}"
                       r"|U[0-9a-fA-F]{8}")


def _scan_string(src: str, pos: int) -> int:
    """lexer.go scanString/scanEscape: index of the closing quote. Stricter than unescape:
    no raw newline, and only the escapes matched above plus the string's own quote."""
    quote, i = src[pos], pos + 1
    while i >= len(src) or src[i] != quote:
        if i >= len(src) or src[i] == "\n":
            raise ExprError(f"literal not terminated at {pos}")
        if src[i] == "\\":
            m = _SCAN_ESC.match(src, i + 1)
            if src[i + 1:i + 2] == quote:
                i += 2
            elif m:
                i = m.end()
            else:
                raise ExprError(f"invalid char escape at {i}")
        else:
            i += 1
    return i


def _tokenize(src: str) -> list:
    toks, pos = [], 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m:
            raise ExprError(f"unrecognized character {src[pos]!r} at {pos}")
        kind = m.lastgroup
        if kind == "str":
            end = _scan_string(src, pos)
            toks.append(("str", _unescape(src[pos + 1:end]), pos))
            pos = end + 1
            continue
        if kind == "num":
            text = m.group().replace("_", "")
            if m.end() < len(src) and (src[m.end()].isalnum() or src[m.end()] == "_"):
                raise ExprError(f"bad number syntax at {pos}")
            try:
                value = float(text) if any(c in text for c in ".eE") else int(text)
            except ValueError:
                raise ExprError(f"bad number syntax {m.group()!r}") from None
            if type(value) is int and value > _INT64_MAX:
                raise ExprError(f"invalid integer literal {m.group()!r}")
            if value == math.inf:
                raise ExprError(f"invalid float literal {m.group()!r}")
            toks.append(("num", value, pos))
        elif kind == "ident" and m.group() in _KEYWORDS:
            toks.append(("op", _KEYWORDS[m.group()], pos))
        elif kind != "ws":
            toks.append((kind, m.group(), pos))
        pos = m.end()
    toks.append(("eof", None, len(src)))
    return toks


# --------------------------------------------------------------------------- Go semantics
def _go_int(x: Any) -> int:
    if type(x) is int:
        return x
    if type(x) is float:   # Go int(float64) on amd64
        return int(x) if not math.isnan(x) and -2.0 ** 63 <= x < 2.0 ** 63 else _INT64_MIN
    if type(x) is str:     # strconv.Atoi / ParseInt(s, 10, 64)
        if re.fullmatch(r"[+-]?[0-9]+", x) and _INT64_MIN <= int(x) <= _INT64_MAX:
            return int(x)
        raise ExprError(f"invalid operation: int({x})")
    raise ExprError(f"invalid operation: int({_go_type(x)})")


def _underscore_ok(s: str) -> bool:
    saw, i = "^", 0
    if s[:1] in ("+", "-"):
        s = s[1:]
    hexa = len(s) >= 2 and s[0] == "0" and s[1].lower() in "box"
    if hexa:
        i, saw, hexa = 2, "0", s[1].lower() == "x"
    for c in s[i:]:
        if c.isdigit() and c.isascii() or hexa and c.lower() in "abcdef":
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def _go_parse_float(s: str) -> float:
    """strconv.ParseFloat(s, 64): exact syntax of Go's readFloat and special()."""
    m = re.fullmatch(r"([+-]?)(inf|infinity)|nan", s, re.IGNORECASE)
    if m:
        return math.nan if m.group(2) is None else (-math.inf if m.group(1) == "-" else math.inf)
    hexa = re.fullmatch(r"[+-]?0[xX](?=.)([0-9a-fA-F_]*\.?[0-9a-fA-F_]*)[pP][+-]?[0-9][0-9_]*", s)
    dec = re.fullmatch(r"[+-]?([0-9_]*\.?[0-9_]*)(?:[eE][+-]?[0-9][0-9_]*)?", s)
    body = (hexa or dec).group(1) if (hexa or dec) else ""
    if not any(c not in "._" for c in body) or body.count(".") > 1 or \
            ("_" in s and not _underscore_ok(s)):
        raise ExprError(f"invalid operation: float({s})")
    clean = s.replace("_", "")
    try:
        value = float.fromhex(clean) if hexa else float(clean)
    except OverflowError:
        value = math.inf
    if math.isinf(value):    # ParseFloat returns ErrRange; Argo's asFloat panics on any error
        raise ExprError(f"invalid operation: float({s}): value out of range")
    return value


def _go_float(x: Any) -> float:
    if type(x) is float:
        return x
    if type(x) is int:
        return float(x)
    if type(x) is str:
        return _go_parse_float(x)
    raise ExprError(f"invalid operation: float({_go_type(x)})")


def _trim(x: Any) -> str:
    if type(x) is not str:
        raise ExprError(f"trim() needs a string, got {_go_type(x)}")
    return x.strip(_GO_SPACE)


def _string(x: Any) -> str:
    if type(x) is bool:
        return "true" if x else "false"
    if type(x) in (int, str):
        return str(x)
    raise ExprError(f"string() of {_go_type(x)} is outside the supported subset")


def _to_json(x: Any) -> str:
    """Go's json.Marshal: compact, HTML characters escaped, integral floats without a fraction."""
    def norm(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
            return int(v)
        if isinstance(v, list):
            return [norm(i) for i in v]
        if isinstance(v, dict):
            return {k: norm(i) for k, i in sorted(v.items())}
        return v

    text = json.dumps(norm(x), separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _sha256sum(x: Any) -> str:
    if not isinstance(x, str):
        raise ExprError(f"sprig.sha256sum needs a string, got {_go_type(x)}")
    return hashlib.sha256(x.encode()).hexdigest()


def _jsonpath(doc: Any, path: Any) -> Any:
    """Argo's jsonpath(json, path) for the `$.field` paths kfp-translate emits."""
    if not isinstance(doc, str) or not isinstance(path, str) or not path.startswith("$"):
        raise ExprError("jsonpath needs a JSON string and a '$.' path")
    try:
        value = json.loads(doc)
    except json.JSONDecodeError as exc:
        raise ExprError(f"jsonpath: not JSON: {exc}") from None
    for key in [k for k in path[1:].split(".") if k]:
        if not isinstance(value, dict) or key not in value:
            raise ExprError(f"jsonpath: key {key!r} not found")
        value = value[key]
    return value


def _b64enc(x: Any) -> str:
    if not isinstance(x, str):
        raise ExprError(f"sprig.b64enc needs a string, got {_go_type(x)}")
    return base64.b64encode(x.encode("utf-8", "surrogateescape")).decode()


def _b64dec(x: Any) -> str:
    """sprig's b64dec: the decoded text, or (as Go's sprig does) the error's text."""
    if not isinstance(x, str):
        raise ExprError(f"sprig.b64dec needs a string, got {_go_type(x)}")
    try:
        return base64.b64decode(x, validate=True).decode("utf-8", "surrogateescape")
    except ValueError as exc:
        return str(exc)


def _replace(old: Any, new: Any, src: Any) -> str:
    if not all(isinstance(v, str) for v in (old, new, src)):
        raise ExprError("sprig.replace needs strings")
    return src.replace(old, new)


def _raise(exc: Exception) -> Any:
    raise exc


def _str_fn(fn):
    def call(*args: Any) -> Any:
        if not all(isinstance(a, str) for a in args):
            raise ExprError("sprig string functions need strings")
        return fn(*args)
    return call


_FUNCS = {"asInt": _go_int, "asFloat": _go_float, "trim": _trim, "string": _string, "toJson": _to_json,
          "type": lambda x: _expr_type(x),  # defined below, with _go_type
          "sprig.sha256sum": _sha256sum, "jsonpath": _jsonpath, "sprig.b64enc": _b64enc,
          "sprig.b64dec": _b64dec,
          "sprig.replace": _replace,
          "fromJSON": lambda text: json.loads(text) if isinstance(text, str) else _raise(ExprError("fromJSON needs a string")),
          "sprig.trimPrefix": _str_fn(lambda prefix, text: text[len(prefix):] if text.startswith(prefix) else text),
          "sprig.dict": lambda *kv: {str(kv[i]): kv[i + 1] for i in range(0, len(kv) - 1, 2)},
          "sprig.contains": _str_fn(lambda sub, text: sub in text),
          "sprig.hasPrefix": _str_fn(lambda prefix, text: text.startswith(prefix)),
          "sprig.upper": _str_fn(str.upper), "sprig.lower": _str_fn(str.lower),
          "sprig.regexReplaceAll": _str_fn(lambda rx, text, repl: re.sub(rx, re.sub(r"\$\{?(\d+)\}?", r"\\\1", repl), text))}


def _expr_type(x: Any) -> str:
    """expr-lang's builtin type(): the kind of a value of Argo's env or of fromJSON."""
    return {bool: "bool", int: "int", float: "float", str: "string", type(None): "nil",
            dict: "map", list: "array"}.get(type(x), "unknown")


def _go_type(x: Any) -> str:
    return {bool: "bool", int: "int", float: "float64", str: "string", type(None): "<nil>",
            dict: "map[string]interface {}", list: "[]interface {}"}.get(type(x), type(x).__name__)


def _is_num(x: Any) -> bool:
    return type(x) in (int, float)


def _equal(a: Any, b: Any) -> bool:
    if _is_num(a) and _is_num(b):
        return float(a) == float(b) if float in (type(a), type(b)) else a == b
    return type(a) is type(b) and a == b


def _order(op: str, a: Any, b: Any) -> bool:
    if _is_num(a) and _is_num(b):
        if float in (type(a), type(b)):
            a, b = float(a), float(b)
    elif not (type(a) is str and type(b) is str):
        raise ExprError(f"invalid operation: {_go_type(a)} {op} {_go_type(b)}")
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _bool(x: Any, what: str) -> bool:
    if type(x) is not bool:
        raise ExprError(f"{what} needs a bool, got {_go_type(x)}")
    return x


def _wrap(n: int) -> int:
    return (n - _INT64_MIN) % 2 ** 64 + _INT64_MIN


# --------------------------------------------------------------------------- parse + eval
_NUMERIC = ("int", "float")
_RESULT = {"trim": "string", "string": "string", "type": "string"}   # asInt/asFloat: Argo's env gives `any`


def _static_check(op: str, a: str | None, b: str | None) -> None:
    """What expr-lang's checker rejects when both operand types are known at compile time."""
    if a is None or b is None:
        return
    if op in ("==", "!="):
        bad = a != b and "nil" not in (a, b) and not (a in _NUMERIC and b in _NUMERIC)
    elif op in ("<", "<=", ">", ">="):
        bad = not (a in _NUMERIC and b in _NUMERIC or a == b == "string")
    elif op in ("&&", "||"):
        bad = a != "bool" or b != "bool"
    else:
        bad = False
    if bad:
        raise ExprError(f"invalid operation: {op} (mismatched types {a} and {b})")


class _Eval:
    """Recursive descent over tokens, evaluating as it goes. Each step returns (value, static
    type or None when only known at run time); `skip` suppresses evaluation on the unevaluated
    side of `&&`, `||` and `?:` (expr-lang short-circuits) but not the compile-time checks."""

    def __init__(self, src: str, scope: dict):
        self.toks, self.i, self.scope = _tokenize(src), 0, scope

    def peek(self, *vals):
        kind, val, _ = self.toks[self.i]
        return kind == "op" and val in vals

    def take(self):
        self.i += 1
        return self.toks[self.i - 1]

    def expect(self, val):
        if not self.peek(val):
            kind, got, pos = self.toks[self.i]
            raise ExprError(f"expected {val!r} at {pos}, found {got!r}")
        self.take()

    def run(self):
        value, _ = self.ternary(False)
        if self.toks[self.i][0] != "eof":
            raise ExprError(f"unexpected token {self.toks[self.i][1]!r} at {self.toks[self.i][2]}")
        return value

    def coalesce(self, skip):
        """`a ?? b`: b when a is nil (a missing output of a task that did not run)."""
        value, vtype = self.binary(0, skip)
        while self.peek("??"):
            self.take()
            right, rtype = self.binary(0, skip or value is not None)
            if not skip and value is None:
                value, vtype = right, rtype
        return value, vtype

    def ternary(self, skip):
        cond, ctype = self.coalesce(skip)
        if not self.peek("?"):
            return cond, ctype
        self.take()
        if ctype not in (None, "bool"):
            raise ExprError(f"non-bool expression (type {ctype}) used as condition")
        c = skip or _bool(cond, "?:")
        a, atype = self.ternary(skip or not c)
        self.expect(":")
        b, btype = self.ternary(skip or c)
        return (None if skip else a if c else b), (atype if atype == btype else None)

    _LEVELS = [("||",), ("&&",), ("==", "!=", "<", "<=", ">", ">=", "in"), ("+", "-")]

    def binary(self, level, skip):
        if level == len(self._LEVELS):
            return self.unary(skip)
        left, ltype = self.binary(level + 1, skip)
        while self.peek(*self._LEVELS[level]):
            op = self.take()[1]
            if op in ("&&", "||"):
                lv = skip or _bool(left, op)
                short = not skip and (lv is False if op == "&&" else lv is True)
                right, rtype = self.binary(level + 1, skip or short)
                _static_check(op, ltype, rtype)
                left, ltype = (None if skip else lv if short else _bool(right, op)), "bool"
                continue
            right, rtype = self.binary(level + 1, skip)
            _static_check(op, ltype, rtype)
            if op in ("+", "-"):
                ltype = ltype if ltype == rtype and (ltype in _NUMERIC or ltype == "string" and op == "+") else None
            else:
                ltype = "bool"
            if not skip:
                left = self.apply(op, left, right)
        return left, ltype

    @staticmethod
    def apply(op, a, b):
        if op == "==":
            return _equal(a, b)
        if op == "!=":
            return not _equal(a, b)
        if op == "in":
            if type(b) is not list:
                raise ExprError(f"'in' needs an array here, got {_go_type(b)}")
            return any(_equal(a, x) for x in b)
        if op in ("+", "-"):
            if type(a) is int and type(b) is int:
                return _wrap(a + b if op == "+" else a - b)
            if _is_num(a) and _is_num(b):
                return float(a) + float(b) if op == "+" else float(a) - float(b)
            if op == "+" and type(a) is str and type(b) is str:
                return a + b
            raise ExprError(f"invalid operation: {_go_type(a)} {op} {_go_type(b)}")
        return _order(op, a, b)

    def unary(self, skip):
        if self.peek("!"):
            self.take()
            v, t = self.unary(skip)
            if t not in (None, "bool"):
                raise ExprError(f"invalid operation: ! ({t})")
            return (None if skip else not _bool(v, "!")), "bool"
        if self.peek("-", "+"):
            op = self.take()[1]
            v, t = self.unary(skip)
            if skip:
                return None, t
            if not _is_num(v):
                raise ExprError(f"invalid operation: {op}{_go_type(v)}")
            return (v if op == "+" else (_wrap(-v) if type(v) is int else -v)), t
        return self.postfix(skip)

    def postfix(self, skip):
        kind, val, pos = self.take()
        vtype = None
        if kind == "ident" and val == "sprig" and self.peek("."):
            self.take()
            val = "sprig." + self.take()[1]
        if kind == "ident" and val in ("map", "filter") and self.peek("("):
            value, vtype = self.map_call(skip, val == "filter"), "array"
        elif kind == "op" and val == "#":  # the element inside a map() predicate
            value = self.element
        elif kind == "ident" and self.peek("("):
            if val not in _FUNCS:
                raise ExprError(f"unknown function {val!r} at {pos}")
            self.take()
            args = []
            while not self.peek(")"):
                args.append(self.ternary(skip)[0])
                if not self.peek(")"):
                    self.expect(",")
            self.expect(")")
            value, vtype = (None if skip else _FUNCS[val](*args)), _RESULT.get(val)
        elif kind == "ident" and val in ("true", "false", "nil"):
            value = {"true": True, "false": False, "nil": None}[val]
            vtype = "nil" if value is None else "bool"
        elif kind == "ident":
            if val not in self.scope:
                raise ExprError(f"unknown name {val}")
            value = self.scope[val]
        elif kind in ("num", "str"):
            value, vtype = val, {int: "int", float: "float", str: "string"}[type(val)]
        elif kind == "op" and val == "(":
            value, vtype = self.ternary(skip)
            self.expect(")")
        elif kind == "op" and val == "{":  # map literal: {"key": value, ...}
            value, vtype = {}, "map"
            while not self.peek("}"):
                k, key, p = self.take()
                if k not in ("str", "ident"):
                    raise ExprError(f"map keys must be strings or names at {p}")
                self.expect(":")
                value[key] = self.ternary(skip)[0]
                if not self.peek("}"):
                    self.expect(",")
            self.take()
        elif kind == "op" and val == "[":
            value, vtype = [], "array"
            while not self.peek("]"):
                value.append(self.ternary(skip)[0])
                if not self.peek("]"):
                    self.expect(",")
            self.take()
        else:
            raise ExprError(f"unexpected token {val!r} at {pos}")
        nil_chain = False
        while self.peek(".", "[", "?."):
            op = self.take()[1]
            optional = op == "?."
            if optional and self.peek("["):
                op = self.take()[1]
            if op in (".", "?."):
                k, key, p = self.take()
                if k != "ident":
                    raise ExprError(f"expected a name after '.' at {p}")
            else:
                key = self.ternary(skip)[0]
                self.expect("]")
            if not skip and value is None and (optional or nil_chain):
                nil_chain = True  # `a?.b.c`: the rest of the chain is nil-safe too
                value, vtype = None, None
                continue
            value, vtype = (None if skip else self.fetch(value, key)), None
        return value, vtype

    def map_call(self, skip, keep=False):
        """`map(array, {predicate})`: the predicate sees each element as `#`; with `keep`,
        `filter(array, {predicate})`: the elements whose predicate is true."""
        self.expect("(")
        items, _ = self.ternary(skip)
        self.expect(",")
        self.expect("{")
        start = self.i
        if not skip and type(items) is not list:
            raise ExprError(f"map() needs an array, got {_go_type(items)}")
        out = []
        outer = getattr(self, "element", None)
        for item in ([] if skip else items):
            self.i, self.element = start, item
            result = self.ternary(False)[0]
            if not keep:
                out.append(result)
            elif _bool(result, "filter()"):
                out.append(item)
        self.i = start
        self.element = None
        self.ternary(True)  # step over the predicate (also when the array is empty)
        self.element = outer
        self.expect("}")
        self.expect(")")
        return None if skip else out

    @staticmethod
    def fetch(value, key):
        if type(value) is dict:
            return value.get(key)
        if type(value) is list and type(key) is int:
            idx = key + len(value) if key < 0 else key
            if not 0 <= idx < len(value):
                raise ExprError(f"index out of range: {key} (array length is {len(value)})")
            return value[idx]
        raise ExprError(f"cannot fetch {key} from {_go_type(value)}")


def evaluate(expr: str, scope: dict) -> object:
    """Evaluate an expression of the emitted subset over scope (nested dicts, lists, strings)."""
    return _Eval(expr, scope).run()
