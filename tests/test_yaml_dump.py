"""Our YAML is written by libyaml's emitter when PyYAML has it, byte for byte what PyYAML's own
emitter writes (translator/cli.py `dump_yaml`), and by the pure-Python emitter otherwise."""
from __future__ import annotations

import random

import pytest
import yaml

from translator import cli
from translator.cli import dump_yaml

from .conftest import GOLDEN

GOLDENS = sorted(GOLDEN.rglob("*.yaml"))


def _both(docs):
    return dump_yaml(docs, native=True), dump_yaml(docs, native=False)


def test_the_c_emitter_is_used_when_present():
    if not getattr(yaml, "__with_libyaml__", False):
        pytest.skip("this PyYAML was built without libyaml: only the pure-Python emitter exists")
    assert issubclass(cli._dumper(True), yaml.CSafeDumper)
    assert not issubclass(cli._dumper(False), yaml.CSafeDumper)


def test_every_golden_manifest_is_written_identically():
    assert len(GOLDENS) > 100
    native = 0
    for path in GOLDENS:
        text = path.read_text()
        docs = list(yaml.load_all(text, Loader=yaml.CSafeLoader))
        c_text, py_text = _both(docs)
        assert py_text == text, path
        assert c_text == text, path
        native += cli._all_simple(docs)
    assert native > 0.9 * len(GOLDENS)  # most went through libyaml, not the fallback


def test_keep_chomped_block_not_last_gets_no_document_end_marker():
    """libyaml 0.2.5+ writes `...` after a document holding a `|+` block anywhere; PyYAML only
    when the last scalar is one."""
    docs = [{"code": "x = 1\n\n", "name": "c"}]
    assert _both(docs) == ("code: |+\n  x = 1\n\nname: c\n",) * 2
    docs = [{"name": "c", "code": "x = 1\n\n"}]
    assert _both(docs) == ("name: c\ncode: |+\n  x = 1\n\n...\n",) * 2


PIECES = ["a", "b", " ", "  ", "\n", "\n\n", "\t", "é", "日本", "\U0001F680", "\x85", "\u2028", "\u2029",
          "\ufeff", "\uffff", "\x01", "\x7f", "'", '"', ": ", "#", "- ", "{{", "$(", "...", "---", "\\", "~",
          "null", "yes", "0x1", "1e3", "\r", "\r\n", "%", "@", "`", "|", ">", "!", "&", "*", "\x00",
          "x" * 120, "word " * 30, "\u00a0", "\u3000"]


def _text(rng):
    return "".join(rng.choice(PIECES) for _ in range(rng.randrange(0, 8)))


def _node(rng, depth=0):
    k = rng.random()
    if depth > 3 or k < 0.5:
        return _text(rng) if rng.random() < 0.85 else rng.choice([1, 2.5, True, None, -3, 1e20])
    if k < 0.75:
        return {_text(rng) or "k": _node(rng, depth + 1) for _ in range(rng.randrange(0, 4))}
    return [_node(rng, depth + 1) for _ in range(rng.randrange(0, 4))]


@pytest.mark.parametrize("seed", range(4))
def test_random_documents_are_written_identically(seed):
    rng = random.Random(seed)
    simple = 0
    for _ in range(1500):
        docs = [{"k": _node(rng), "z": _node(rng)} for _ in range(rng.randrange(1, 3))]
        c_text, py_text = _both(docs)
        assert c_text == py_text, repr(docs)
        if cli._all_simple(docs):
            simple += 1
            raw = yaml.dump_all(docs, Dumper=cli._dumper(True), sort_keys=False, allow_unicode=True, width=100)
            assert raw.removesuffix("...\n") == py_text.removesuffix("...\n"), repr(docs)
    assert simple > 100  # the libyaml path was exercised, not only the fallback


def test_without_libyaml_the_pure_emitter_writes(monkeypatch):
    docs = list(yaml.load_all(GOLDENS[0].read_text(), Loader=yaml.SafeLoader))
    monkeypatch.delattr(yaml, "CSafeDumper", raising=False)
    monkeypatch.setattr(cli, "_DUMPERS", {})
    assert dump_yaml(docs) == GOLDENS[0].read_text()
    assert not any("CSafeDumper" in c.__name__ for c in cli._dumper(True).__mro__)
