"""Every case of cases.py on the real Argo controller: the Workflow's phase, and the outputs KFP's
semantics give (the known answers in cases.py), read from the Workflow's status and from S3."""
from __future__ import annotations

import pytest

from .cases import CASES, Outcome
from .known import params

BY_NAME = {c.name: c for c in CASES}


@pytest.mark.parametrize("name", params("argo", BY_NAME))
def test_on_argo(batch, name):
    case = BY_NAME[name]
    if name in batch.errors:
        if batch.errors[name].startswith("skip:"):
            pytest.skip(batch.errors[name][5:].strip())
        pytest.fail(f"{name}: {batch.errors[name]}", pytrace=False)
    side = batch.argo(name)
    assert not side.error, side.error
    report = lambda: batch.cluster.report(side.run)  # noqa: E731
    assert side.phase == case.phase, f"{name}: Argo says {side.phase}, KFP's semantics {case.phase}\n{report()}"
    if case.check is not None:
        try:
            case.check(Outcome(side.phase, side.records))
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}\n{report()}") from None
