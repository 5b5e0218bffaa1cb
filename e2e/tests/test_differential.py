"""Differential: each case also runs through `translate run`'s engine on the very manifest Argo
ran; per task (name + loop iteration) phases, attempts, cache hits, output parameters and
artifact bytes must be identical (e2e/differential.py). Where kfp.local can run the pipeline,
Argo's outputs are also compared with kfp.local's (tests/test_differential.py's comparison, with
its list of places where kfp.local departs from KFP)."""
from __future__ import annotations

import pytest

from e2e.differential import argo_result, differences

from .cases import CASES
from .known import params

BY_NAME = {c.name: c for c in CASES}


def _ready(batch, name):
    if name in batch.errors:
        if batch.errors[name].startswith("skip:"):
            pytest.skip(batch.errors[name][5:].strip())
        pytest.fail(f"{name}: {batch.errors[name]}", pytrace=False)


@pytest.mark.parametrize("name", params("runner", BY_NAME))
def test_runner_matches_argo(batch, name):
    _ready(batch, name)
    argo, local = batch.argo(name), batch.local(name)
    assert not argo.error, argo.error
    assert not local.error, f"{name}: the runner failed to run it:\n{local.error}"
    assert local.phase == argo.phase, f"{name}: workflow phase argo={argo.phase} runner={local.phase}"
    diffs = differences(argo.records, local.records)
    assert diffs == [], f"{name}: runner differs from Argo:\n" + "\n".join(diffs)


LOCAL_CASES = [c.name for c in CASES if c.kfp_local]


@pytest.mark.parametrize("name", params("kfp-local", LOCAL_CASES))
def test_argo_matches_kfp_local(batch, name, tmp_path, monkeypatch):
    from tests import test_differential as td
    from translator.runner.store import S3Store
    from translator.runner.summary import summarize

    _ready(batch, name)
    case = BY_NAME[name]
    argo = batch.argo(name)
    assert not argo.error, argo.error
    if case.corpus:
        ok, local = td.run_kfp_local(td.repinned(batch.ctx.corpus / "ir" / "valid" / case.corpus, tmp_path),
                                     tmp_path, monkeypatch)
    else:
        func, args = td.PY_PIPELINES[case.kfp_local]
        ok, local = td.run_kfp_local(case.source(batch.ctx), tmp_path, monkeypatch, **args)
    s3 = batch.cluster.s3
    store = S3Store(s3["endpoint"], s3["bucket"], s3["access_key"], s3["secret_key"])
    result = argo_result(argo.run.workflow, batch.manifests[name])
    ours = summarize(result, store, tmp_path / "argo-outputs")
    dags = {(n.task, n.iteration) for n in result.nodes if n.kind == "DAG"}
    wrong = td.KFP_LOCAL_WRONG.get(case.kfp_local, {})
    assert ours["phase"] == wrong.get("phase", "Succeeded" if ok else "Failed")
    td.compare(case.kfp_local, ours, dags, local)
