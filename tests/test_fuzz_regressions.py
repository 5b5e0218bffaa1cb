"""Inputs the fuzzer (fuzz/fuzz_translate.py) found that once crashed the translation or ended in
"internal error ... please report this bug": each must now translate, or fail as bad input."""
from __future__ import annotations

from pathlib import Path

import pytest

import translator
from translator import loader
from translator.cli import dump_yaml
from translator.errors import InternalValidationError

FOUND = sorted((Path(__file__).resolve().parent / "fuzz_regressions").glob("*.yaml"))


def test_there_are_regressions():
    assert len(FOUND) >= 50


@pytest.mark.parametrize("path", FOUND, ids=lambda p: p.stem)
def test_fuzz_finding_is_a_clean_result(path: Path):
    try:
        dump_yaml(translator.translate(loader.parse_text(path.read_text(encoding="utf-8"), path.name)))
    except InternalValidationError as exc:
        pytest.fail(f"internal error: {exc}")
    except translator.TranslateError as exc:
        assert "\n" not in str(exc) and str(exc)
