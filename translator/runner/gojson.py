"""Values rendered the way Argo's Go code renders them, so a local run sees the same bytes.

* `go_json`: `encoding/json.Marshal` (sorted map keys, `<>&` and U+2028/9 escaped, float64
  formatting: `1` not `1.0`, `1e+21`, `1e-7`).
* `RawNum`: a JSON number kept as written (Argo's `wfv1.Item` is a `json.RawMessage`, so a
  `withParam` item `1.0` stays `1.0`).
* `item_text`: what `{{item}}` / `{{item.key}}` become (`processItem`, `Item.String`).
* `go_quote`: `strconv.Quote` (used for `{{workflow.failures}}`).
"""
from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any


class RawNum:
    """A JSON number as written in the source text."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def value(self) -> float | int:
        try:
            return int(self.text)
        except ValueError:
            return float(self.text)

    def __repr__(self) -> str:
        return f"RawNum({self.text})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawNum) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def loads_raw(text: str) -> Any:
    """json.loads keeping numbers as written (RawNum)."""
    return json.loads(text, parse_int=RawNum, parse_float=RawNum, parse_constant=_bad_constant)


def _bad_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def go_float(f: float) -> str:
    if math.isnan(f) or math.isinf(f):
        raise ValueError("json: unsupported value: " + repr(f))
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        text = repr(f)
        if "e" not in text:
            text = f"{f:e}"
        mant, _, exp = text.partition("e")
        if "." in mant:
            mant = mant.rstrip("0").rstrip(".")
        sign = "-" if exp.startswith("-") else "+"
        digits = exp.lstrip("+-").lstrip("0") or "0"
        if len(digits) < 2 and sign == "+":
            digits = digits.rjust(2, "0")
        return f"{mant}e{sign}{digits}"
    text = format(Decimal(repr(f)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") and f == 0 and math.copysign(1, f) > 0 else text


def _go_string(s: str) -> str:
    text = json.dumps(s, ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def go_json(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, RawNum):
        return v.text
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, str):
        return _go_string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(go_json(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{_go_string(str(k))}:{go_json(v[k])}" for k in sorted(v, key=str)) + "}"
    raise TypeError(f"cannot render {type(v).__name__} as JSON")


def _fix(s: str) -> str:
    return s.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&")


def item_text(v: Any) -> str:
    """`Item.String()`: strings without quotes (still JSON-escaped), the rest compact JSON."""
    text = go_json(v)
    if isinstance(v, str):
        return _fix(text[1:-1])
    return _fix(text)


def item_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float, RawNum)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "map"
    raise TypeError(type(v).__name__)


def item_scope(v: Any) -> tuple[dict[str, str], str]:
    """(substitution entries, node-name description) for one loop item, as `processItem` does."""
    kind = item_kind(v)
    if kind == "string":
        return {"item": v}, v
    if kind in ("number", "bool"):
        text = item_text(v)
        return {"item": text}, text
    if kind == "list":
        text = go_json(v)
        return {"item": text}, _fix(text)
    entries = {f"item.{k}": item_text(x) for k, x in v.items()}
    entries["item"] = go_json(v)
    desc = ",".join(sorted(f"{k}:{item_text(x)}" for k, x in v.items()))
    return entries, desc


def plain(v: Any) -> Any:
    """RawNum → int/float, recursively (for expression scopes and typed summaries)."""
    if isinstance(v, RawNum):
        return v.value()
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return v


def go_quote(s: str) -> str:
    out = ['"']
    named = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
             "\\": "\\\\", '"': '\\"'}
    for ch in s:
        cp = ord(ch)
        if ch in named:
            out.append(named[ch])
        elif cp < 0x20 or cp == 0x7F:
            out.append(f"\\x{cp:02x}")
        elif ch == " " or ch.isprintable():
            out.append(ch)
        elif cp < 0x10000:
            out.append(f"\\u{cp:04x}")
        else:
            out.append(f"\\U{cp:08x}")
    out.append('"')
    return "".join(out)
