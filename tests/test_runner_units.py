"""Small pieces of Argo's behaviour the runner reproduces: Go's JSON rendering of loop items
and aggregated outputs, `strconv.Quote`, the `depends` grammar and its default meaning."""
from __future__ import annotations

import pytest

from translator.runner import depends as dep
from translator.runner.dag import aggregate
from translator.runner.gojson import go_float, go_json, go_quote, item_scope, loads_raw


@pytest.mark.parametrize("value,text", [
    (1.0, "1"), (0.1, "0.1"), (2.5e-7, "2.5e-7"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
    (-0.000001, "-0.000001"), (123456789.125, "123456789.125"), (1e-7, "1e-7"),
])
def test_go_float_formatting(value, text):
    assert go_float(value) == text


def test_go_json_sorts_keys_and_escapes_html():
    assert go_json({"b": [1, 2.0], "a": "<x&y>", "c": None}) == '{"a":"\\u003cx\\u0026y\\u003e","b":[1,2],"c":null}'


def test_items_render_as_process_item_does():
    assert item_scope("a b") == ({"item": "a b"}, "a b")
    assert item_scope(True) == ({"item": "true"}, "true")
    assert item_scope(3.0) == ({"item": "3"}, "3")
    raw = loads_raw('[1.50, {"k": "v\\"q", "n": 2e0}]')
    assert item_scope(raw[0])[0] == {"item": "1.50"}  # withParam numbers keep their text
    entries, desc = item_scope(raw[1])
    assert entries == {"item": '{"k":"v\\"q","n":2e0}', "item.k": 'v\\"q', "item.n": "2e0"}
    assert desc == 'k:v\\"q,n:2e0'


def test_aggregation_parses_only_objects_and_arrays():
    assert aggregate(["1", "2"]) == '["1","2"]'
    assert aggregate(['{"a":1.0}', "[2]"]) == '[{"a":1},[2]]'  # Go float64: 1.0 becomes 1
    assert aggregate(['{"a":1}', "3"]) == '["{\\"a\\":1}","3"]'
    assert aggregate(["not json"]) == '["not json"]'


def test_go_quote():
    assert go_quote('a"b\\c\n\x01é\u2028') == '"a\\"b\\\\c\\n\\x01é\\u2028"'


def results(**phases):
    return {k.replace("_", "-"): dep.TaskResults(v) for k, v in phases.items()}


def test_depends_bare_name_and_continue_on():
    r = results(a="Failed", b="Skipped")
    assert dep.evaluate("b", r, lambda t: {}) is True
    assert dep.evaluate("a", r, lambda t: {}) is False
    assert dep.evaluate("a", r, lambda t: {"failed": True}) is True
    assert dep.evaluate("a.Failed && !b.Succeeded", r, lambda t: {}) is True
    assert dep.evaluate("(a.Succeeded || a.Errored) || b.Omitted", r, lambda t: {}) is False


def test_depends_any_succeeded_all_failed():
    r = {"loop": dep.TaskResults("Failed", any_succeeded=True, all_failed=False)}
    assert dep.evaluate("loop.AnySucceeded", r, lambda t: {}) is True
    assert dep.evaluate("loop.AllFailed", r, lambda t: {}) is False
    assert dep.dependencies("x-1.Succeeded || (y && !z.Failed)") == ["x-1", "y", "z"]


@pytest.mark.parametrize("text", ["a.Done", "a &", "a || || b", "(a"])
def test_depends_errors(text):
    with pytest.raises(dep.DependsError):
        dep.dependencies(text)
        dep.evaluate(text, {"a": dep.TaskResults("Succeeded"), "b": dep.TaskResults("Succeeded")}, lambda t: {})
