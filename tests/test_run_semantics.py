"""Caching, retries, failures, container components and importers, run for real."""
from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

import translator
from translator.runner.engine import Runner
from translator.runner.store import DirStore

from .pipelines import caching, containers


@pytest.fixture()
def store(tmp_path: Path):
    return DirStore(tmp_path / "store")  # the embedded store


def workflow(pipeline):
    [wf] = translator.translate(pipeline, backend="argo")
    return wf


def ran(result):
    return sorted(n.path.split("/")[-1] for n in result.nodes if n.pod)


def cached(result):
    return sorted(n.path.split("/")[-1] for n in result.nodes if n.cached)


def test_rerun_hits_and_a_changed_parameter_misses_downstream_only(tmp_path, store):
    wf = workflow(caching.cache_chain)
    work = tmp_path / "work"
    first = Runner(work, store=store).run(wf, {"seed": "1", "label": "a"})
    assert first.phase == "Succeeded" and ran(first) == ["count", "double", "source"]
    again = Runner(work, store=store).run(wf, {"seed": "1", "label": "a"})
    assert ran(again) == [] and cached(again) == ["count", "double", "source"]
    assert again.node("count").parameters == first.node("count").parameters
    relabel = Runner(work, store=store).run(wf, {"seed": "1", "label": "b"})
    assert ran(relabel) == ["count"] and cached(relabel) == ["double", "source"]
    assert relabel.node("count").parameters["Output"] == "b:2"
    # seed 3 writes the same bytes as seed 1: source re-runs, everything downstream hits
    same_bytes = Runner(work, store=store).run(wf, {"seed": "3", "label": "a"})
    assert ran(same_bytes) == ["source"] and cached(same_bytes) == ["count", "double"]
    # seed 2 writes other bytes: every task downstream misses
    other = Runner(work, store=store).run(wf, {"seed": "2", "label": "a"})
    assert ran(other) == ["count", "double", "source"]
    assert other.node("count").parameters["Output"] == "a:2"


def test_uncached_upstream_with_identical_bytes_still_lets_consumers_hit(tmp_path, store):
    wf = workflow(caching.cache_upstream_off)
    work = tmp_path / "work"
    first = Runner(work, store=store).run(wf, {"seed": "5"})
    second = Runner(work, store=store).run(wf, {"seed": "5"})
    assert ran(first) == ["count", "double", "source"]
    assert ran(second) == ["source"] and cached(second) == ["count", "double"]  # KFP would miss here


def test_cache_entries_expire_after_max_age(tmp_path, store):
    [wf] = translator.translate(caching.cache_chain, backend="argo", cache_max_age="1ms")
    work = tmp_path / "work"
    Runner(work, store=store).run(wf)
    assert ran(Runner(work, store=store).run(wf)) == ["count", "double", "source"]


def test_disable_caching_overrides_the_pipeline(tmp_path, store):
    [wf] = translator.translate(caching.cache_chain, backend="argo", enable_caching=False)
    assert not any("memoize" in t for t in wf["spec"]["templates"])
    work = tmp_path / "work"
    Runner(work, store=store).run(wf)
    assert ran(Runner(work, store=store).run(wf)) == ["count", "double", "source"]


def test_retry_strategy_retries_then_succeeds(tmp_path, store):
    marker = tmp_path / "marker"
    marker.mkdir()
    result = Runner(tmp_path / "work", store=store).run(workflow(caching.retry_then_succeed), {"marker_dir": str(marker)})
    assert result.phase == "Succeeded"
    assert result.node("after").parameters["Output"] == "succeeded on attempt 3!"
    attempts = [n for n in result.nodes if n.path.endswith("/flaky")]
    assert [n.phase for n in attempts] == ["Failed", "Failed", "Succeeded"]


def test_a_failed_task_fails_the_workflow_and_omits_dependents(tmp_path, store):
    marker = tmp_path / "marker"
    marker.mkdir()
    result = Runner(tmp_path / "work", store=store).run(workflow(caching.fail_stops), {"marker_dir": str(marker)})
    assert result.phase == "Failed"
    assert [n.phase for n in result.nodes if n.path.endswith("/flaky")] == ["Failed", "Failed"]
    assert "attempt 2 fails on purpose" in [n for n in result.nodes if n.path.endswith("/flaky")][1].message
    assert result.node("after").phase == "Omitted"


def test_container_components_placeholders_concat_ifpresent(tmp_path, store):
    value = "a b$(x)'\"{{y}}"
    result = Runner(tmp_path / "work", store=store).run(workflow(containers.container_flow), {"text": value, "times": "3"})
    assert result.phase == "Succeeded", [(n.path, n.message) for n in result.nodes if n.phase != "Succeeded"]
    assert result.node("write-files").parameters["count"] == "3"
    assert result.node("read-back").parameters["Output"] == f"<{value}>|no-extra|{value}"
    assert result.node("read-back-2").parameters["Output"] == f"<x>|given|{value}"
    assert result.pods == 5


@pytest.fixture()
def http_file(tmp_path: Path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "data.csv").write_text("a,b\n1,2\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/data.csv"
    server.shutdown()


def test_importer_needs_no_pod(tmp_path, store, http_file):
    wf = workflow(containers.importer_pipeline(http_file))
    result = Runner(tmp_path / "work", store=store).run(wf)
    assert result.phase == "Succeeded"
    assert result.node("read-imported").parameters["Output"] == "a,b\n1,2\n|web"
    assert result.pods == 1
