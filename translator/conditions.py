"""KFP `triggerPolicy.condition` (a CEL subset) -> Argo `when` expressions (expr-lang).

Why it looks like this (sources: kfp 2.17.3 `compiler/pipeline_spec_builder.py`
`_single_binary_operation_to_cel_condition`; KFP `backend/src/v2/expression/expression.go`
and `metadata/converter.go` (cel-go v0.30); Argo `util/expr/env/env.go`,
`util/template/expression_template.go`, `workflow/controller/dag.go`; expr-lang v1.16-1.17):

* The SDK writes only channels `inputs.parameter_values['N']`, `int(...)`, `double(...)`,
  quoted strings (unescaped: a `'` in a Python literal yields CEL that does not parse),
  `true`/`false`, numbers, `==  != < <= > >=`, `!( )` and ` && `. The parser accepts that
  plus `||`, `string()`, `null`, CEL escapes/raw/triple-quoted strings, hex ints and `//`
  comments, and names anything else with its position: KFP would fail such a run anyway.
* KFP binds channels as protobuf Values typed by the task's input definition: both number
  types are doubles, BOOLEAN a bool, STRING a string. In Argo every parameter is a string, so
  numbers become `asFloat(trim(x))` (KFP parses with TrimSpace; float parsing also accepts the
  canonical `3` and the lenient `3.0`), and `int(...)` becomes `asInt(...)` on that float:
  Go's float->int conversion truncates toward zero like CEL's int(double). Integer
  comparisons then stay integer comparisons, as in CEL. Booleans are what Go's ParseBool
  accepts as true (trimmed), so `True`/`1` work; an unparsable value is false here where KFP
  fails the run.
* cel-go type-checks: statically typed operands of different types (e.g. `int(x) == 3.0`,
  `1 < 1.5`) do not compile, so they raise ConditionError. With a channel (dyn) on one side CEL
  compares ints and doubles numerically (as expr-lang does) and equality across other types
  is simply false (heterogeneous equality), so that is emitted as a constant; ordering across
  types is a runtime error in KFP and a ConditionError here. Bool ordering (false < true) is
  rewritten, expr-lang cannot order bools.
* Only `asInt`, `asFloat`, `trim`, `string`, `in` with a list, `? :` and operators are
  emitted: present in Argo 3.6 (argoproj/pkg expr functions + expr-lang 1.16 builtins) and
  3.7-4.x (`asInt`/`asFloat` = expr-lang builtin int/float). Everything is parenthesized.
* String literals are emitted with only `[A-Za-z0-9 _.,:/-]` kept and every other character
  as `\\xHH`/`\\uHHHH`/`\\UHHHHHHHH`, so quotes, backslashes, newlines (expr-lang would turn
  CR LF into LF), `{{`, `}}` and `$(` cannot end the string, the Argo tag or anything else.
* Not reproduced (documented divergences): CEL's error absorption in `&&`/`||` and its
  overflow error for int() of NaN/inf/|x|>=2^63 (KFP fails the run; Go yields MinInt64).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Union

__all__ = ["ConditionError", "Literal", "Channel", "Call", "Not", "BinOp", "Node", "Operand",
           "parse", "to_argo", "quote"]


class ConditionError(ValueError):
    """A condition outside the supported CEL subset, or one KFP itself would reject."""


@dataclass(frozen=True)
class Literal:
    value: Union[str, int, float, bool, None]


@dataclass(frozen=True)
class Channel:
    name: str


@dataclass(frozen=True)
class Call:
    func: str
    arg: "Node"


@dataclass(frozen=True)
class Not:
    operand: "Node"


@dataclass(frozen=True)
class BinOp:
    op: str
    left: "Node"
    right: "Node"


Node = Union[Literal, Channel, Call, Not, BinOp]


@dataclass(frozen=True)
class Operand:
    """What `resolve(channel)` returns: an expr-lang accessor of the canonical string value."""
    expr: str
    kfp_type: str


# ----------------------------------------------------------------------------- lexer
_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_TOKEN = re.compile(r"""
    (?P<ws>[ \t\n\r\f]+|//[^\n]*)
  | (?P<str>[rR]?('''|\"\"\"|'|"))
  | (?P<bytes>[bB][rR]?['"]|[rR][bB]['"])
  | (?P<num>0[xX][0-9a-fA-F]+[uU]?|(?:[0-9]+\.[0-9]+|\.[0-9]+)(?:[eE][+-]?[0-9]+)?
            |[0-9]+[eE][+-]?[0-9]+|[0-9]+[uU]?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[<>!()\[\].,\-+*/%?:{}])
""", re.VERBOSE)
_SIMPLE_ESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
               "\\": "\\", "?": "?", '"': '"', "'": "'", "`": "`"}
_HEX_LEN = {"x": 2, "X": 2, "u": 4, "U": 8}


def _error(text: str, pos: int, what: str) -> ConditionError:
    return ConditionError(f"{what} at position {pos} of condition {text!r}")


def _read_string(text: str, pos: int, prefix: str) -> tuple[str, int]:
    """CEL string literal starting at pos (cel-go unescape rules); returns (value, end)."""
    raw = prefix[0] in "rR"
    quote = prefix.lstrip("rR")
    i, out = pos + len(prefix), []
    while True:
        if i >= len(text):
            raise _error(text, pos, "unterminated string literal")
        if text.startswith(quote, i):
            return "".join(out), i + len(quote)
        c = text[i]
        if c in "\r\n" and len(quote) == 1:
            raise _error(text, i, "newline inside a single-quoted string literal")
        if c != "\\" or raw:
            out.append(c)
            i += 1
            continue
        e = text[i + 1:i + 2]
        if e in _SIMPLE_ESC:
            out.append(_SIMPLE_ESC[e])
            i += 2
        elif e and (e in _HEX_LEN or e in "0123"):
            n, base, start = (_HEX_LEN[e], 16, i + 2) if e in _HEX_LEN else (3, 8, i + 1)
            digits = text[start:start + n]
            ok = len(digits) == n and all(d in "0123456789abcdefABCDEF"[:22 if base == 16 else 8]
                                          for d in digits)
            cp = int(digits, base) if ok else -1
            if cp < 0 or cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                raise _error(text, i, f"invalid escape sequence {text[i:start + n]!r}")
            out.append(chr(cp))
            i = start + n
        else:
            raise _error(text, i, f"invalid escape sequence {text[i:i + 2]!r}")


def _tokenize(text: str) -> list[tuple[str, object, int]]:
    toks, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise _error(text, pos, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup
        if kind == "str":
            value, pos = _read_string(text, pos, m.group("str"))
            toks.append(("str", value, m.start()))
            continue
        if kind == "bytes":
            raise _error(text, pos, "bytes literal")
        if kind == "num":
            s = m.group()
            if s[-1] in "uU":
                raise _error(text, pos, f"unsigned integer literal {s!r}")
            if s[:2].lower() == "0x":
                toks.append(("int", int(s, 16), pos))
            elif any(c in s for c in ".eE"):
                v = float(s)
                if v in (float("inf"), float("-inf")):
                    raise _error(text, pos, f"double literal {s!r} out of range")
                toks.append(("float", v, pos))
            else:
                toks.append(("int", int(s), pos))
        elif kind != "ws":
            toks.append((kind, m.group(), pos))
        pos = m.end()
    toks.append(("eof", None, len(text)))
    return toks


# ----------------------------------------------------------------------------- parser
_RELOPS = ("==", "!=", "<", "<=", ">", ">=")
_FUNCS = ("int", "double", "string")


class _Parser:
    def __init__(self, text: str):
        self.text, self.toks, self.i = text, _tokenize(text), 0

    def peek(self, value=None):
        kind, val, _ = self.toks[self.i]
        return kind if value is None else (kind in ("op", "ident") and val == value)

    def take(self):
        self.i += 1
        return self.toks[self.i - 1]

    def fail(self, what: str, tok=None) -> ConditionError:
        kind, val, pos = tok or self.toks[self.i]
        found = "end of condition" if kind == "eof" else repr(val)
        return _error(self.text, pos, f"{what} {found}")

    def expect(self, value: str):
        if not self.peek(value):
            raise self.fail(f"expected {value!r}, found")
        return self.take()

    def parse(self) -> Node:
        node = self.or_()
        if self.peek() != "eof":
            raise self.fail("unsupported construct")
        return node

    def or_(self):
        node = self.and_()
        while self.peek("||"):
            self.take()
            node = BinOp("||", node, self.and_())
        return node

    def and_(self):
        node = self.rel()
        while self.peek("&&"):
            self.take()
            node = BinOp("&&", node, self.rel())
        return node

    def rel(self):
        node = self.unary()
        while any(self.peek(op) for op in _RELOPS):
            op = self.take()[1]
            node = BinOp(op, node, self.unary())
        return node

    def unary(self, negated: bool = False):
        if self.peek("!"):
            self.take()
            return Not(self.unary())
        if self.peek("-"):
            tok = self.take()
            node = self.unary(negated=not negated)
            if not (isinstance(node, Literal) and type(node.value) in (int, float)):
                raise self.fail("unsupported construct: unary minus on a non-literal at", tok)
            if type(node.value) is int and not _INT64_MIN <= -node.value <= _INT64_MAX:
                raise self.fail("integer literal out of range:", tok)
            return Literal(-node.value)
        return self.primary(negated)

    def primary(self, negated: bool = False):
        kind, val, pos = tok = self.take()
        if kind == "op" and val == "(":
            node = self.or_()
            self.expect(")")
        elif kind in ("str", "float"):
            node = Literal(val)
        elif kind == "int":
            if val > _INT64_MAX + (1 if negated else 0):   # `-9223372036854775808` is valid
                raise self.fail("integer literal out of range:", tok)
            node = Literal(val)
        elif kind == "ident" and val in ("true", "false", "null"):
            node = Literal({"true": True, "false": False, "null": None}[val])
        elif kind == "ident" and val == "inputs":
            self.expect(".")
            if not self.peek("parameter_values"):
                raise self.fail("unsupported field of inputs:")
            self.take()
            self.expect("[")
            if self.peek() != "str":
                raise self.fail("expected a string key, found")
            node = Channel(self.take()[1])
            self.expect("]")
        elif kind == "ident" and self.peek("("):
            if val not in _FUNCS:
                raise self.fail("unsupported function", tok)
            self.take()
            node = Call(val, self.or_())
            if self.peek(","):
                raise self.fail(f"{val}() takes one argument, found")
            self.expect(")")
        elif kind == "ident":
            raise self.fail("unsupported identifier", tok)
        else:
            raise self.fail("unsupported construct", tok)
        if self.peek(".") or self.peek("[") or self.peek("("):
            raise self.fail("unsupported member access, index or call")
        return node


def parse(text: str) -> Node:
    """Parse a KFP condition; raise ConditionError naming the construct and its position."""
    if not isinstance(text, str):
        raise ConditionError(f"condition must be a string, got {type(text).__name__}")
    return _Parser(text).parse()


# ----------------------------------------------------------------------------- emitter
_KIND_OF_TYPE = {"STRING": "string", "NUMBER_INTEGER": "double", "NUMBER_DOUBLE": "double",
                 "BOOLEAN": "bool"}
_NUM = ("int", "double")
_TRUE_WORDS = '["1", "t", "T", "TRUE", "true", "True"]'   # Go strconv.ParseBool's true set
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.,:/-")


def quote(s: str) -> str:
    """An expr-lang string literal for s that contains no quote, backslash-ambiguity or brace."""
    out = []
    for ch in s:
        cp = ord(ch)
        if ch in _SAFE:
            out.append(ch)
        elif 0xD800 <= cp <= 0xDFFF:
            raise ConditionError(f"string {s!r} holds a lone surrogate, not valid in Go strings")
        else:
            out.append(f"\\x{cp:02x}" if cp < 0x80 else f"\\u{cp:04x}" if cp <= 0xFFFF
                       else f"\\U{cp:08x}")
    return '"' + "".join(out) + '"'


def _num(v: Union[int, float]) -> str:
    """expr-lang number literal; negatives parenthesized, int64 min spelled as a sum."""
    if v == _INT64_MIN and type(v) is int:
        return "(-9223372036854775807 - 1)"
    text = repr(abs(v))   # doubles are finite: checked in the lexer
    return f"(-{text})" if str(v).startswith("-") else text


@dataclass(frozen=True)
class _T:
    expr: str
    kind: str      # runtime CEL type: int double string bool null
    static: str    # what cel-go's checker sees: same, or "dyn" for channels


def _emit(node: Node, resolve: Callable[[str], Operand], text: str) -> _T:
    def err(msg: str) -> ConditionError:
        return ConditionError(f"{msg} in condition {text!r}")

    if isinstance(node, Literal):
        v = node.value
        if v is None:
            return _T("nil", "null", "null")
        if type(v) is bool:
            return _T("true" if v else "false", "bool", "bool")
        if type(v) is str:
            return _T(quote(v), "string", "string")
        kind = "int" if type(v) is int else "double"
        return _T(_num(v), kind, kind)
    if isinstance(node, Channel):
        op = resolve(node.name)
        if "{{" in op.expr or "}}" in op.expr:
            raise err(f"accessor {op.expr!r} for channel {node.name!r} contains '{{{{' or '}}}}'")
        kind = _KIND_OF_TYPE.get(op.kfp_type)
        if kind is None:
            raise err(f"channel {node.name!r} of type {op.kfp_type} cannot be used in a condition")
        expr = {"string": op.expr, "double": f"asFloat(trim({op.expr}))",
                "bool": f"(trim({op.expr}) in {_TRUE_WORDS})"}[kind]
        return _T(expr, kind, "dyn")
    if isinstance(node, Call):
        a = _emit(node.arg, resolve, text)
        want = node.func
        if want not in _FUNCS:
            raise err(f"unsupported function {want!r}")
        if a.kind == want:
            return _T(a.expr, want, want)
        if want == "int" and a.kind in ("double", "string"):
            return _T(f"asInt({a.expr})", "int", "int")
        if want == "double" and a.kind == "int":
            if isinstance(node.arg, Literal):
                return _T(_num(float(node.arg.value)), "double", "double")
            return _T(f"asFloat({a.expr})", "double", "double")
        if want == "double" and a.kind == "string":
            return _T(f"asFloat({a.expr})", "double", "double")
        if want == "string" and a.kind == "int":
            return _T(f"string({a.expr})", "string", "string")
        if want == "string" and a.kind == "bool":
            return _T(f'({a.expr} ? "true" : "false")', "string", "string")
        raise err(f"{node.func}() of a {a.kind} value is not supported")
    if isinstance(node, Not):
        a = _emit(node.operand, resolve, text)
        if a.kind != "bool":
            raise err(f"'!' applied to a {a.kind} value (CEL: no such overload)")
        return _T(f"(!{a.expr})", "bool", "bool")
    if isinstance(node, BinOp):
        left, right = _emit(node.left, resolve, text), _emit(node.right, resolve, text)
        op = node.op
        if "dyn" not in (left.static, right.static) and left.static != right.static:
            raise err(f"no matching overload for '{op}' applied to ({left.static}, "
                      f"{right.static}) (cel-go rejects it when compiling)")
        if op in ("&&", "||"):
            if left.kind != "bool" or right.kind != "bool":
                raise err(f"'{op}' needs bool operands, got ({left.kind}, {right.kind})")
            return _T(f"({left.expr} {op} {right.expr})", "bool", "bool")
        same = left.kind == right.kind or (left.kind in _NUM and right.kind in _NUM)
        if op in ("==", "!="):
            if not same:     # heterogeneous equality: values of different types are unequal
                return _T("false" if op == "==" else "true", "bool", "bool")
            return _T(f"({left.expr} {op} {right.expr})", "bool", "bool")
        if not same or left.kind == "null":
            raise err(f"'{op}' cannot order ({left.kind}, {right.kind}) (CEL: no such overload)")
        if left.kind == "bool":   # CEL orders false < true; expr-lang cannot order bools
            a, b = left.expr, right.expr
            return _T({"<": f"((!{a}) && {b})", "<=": f"((!{a}) || {b})",
                       ">": f"({a} && (!{b}))", ">=": f"({a} || (!{b}))"}[op], "bool", "bool")
        return _T(f"({left.expr} {op} {right.expr})", "bool", "bool")
    raise TypeError(f"not a condition node: {node!r}")


def to_argo(node: Node, resolve: Callable[[str], Operand]) -> str:
    """expr-lang boolean expression equivalent to the KFP condition; the caller writes
    `when: "{{= <expr> }}"`. resolve(name) gives the channel's accessor and KFP type (the
    type of the guarded task's input definition, as KFP's driver converts to it)."""
    text = repr(node)
    result = _emit(node, resolve, text)
    if result.kind != "bool":
        raise ConditionError(f"condition evaluates to a {result.kind}, not a bool: {text}")
    if "}}" in result.expr or "{{" in result.expr:
        raise ConditionError(f"emitted expression contains an Argo tag delimiter: {result.expr}")
    return result.expr
