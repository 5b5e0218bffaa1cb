"""The pipelines the e2e suite runs once per session, on Argo and through `translate run`, with the
answers KFP's semantics give (where kfp.local is wrong, the answer written here is KFP's; see
tests/test_differential.py's KFP_LOCAL_WRONG for the cases and why)."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from e2e.differential import Record
from tests.pipelines import caching, containers, control, dataflow

from . import e2e_pipelines as e2e

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


@dataclass
class Context:
    """What a case's source and parameters may depend on."""

    data_url: str  # the loopback data server (data.csv, counters)
    corpus: Path | None
    tmp: Path

    def counter(self, name: str) -> str:
        return f"{self.data_url}/count/{self.tmp.name}-{name}"


@dataclass
class Outcome:
    """One finished run, as records keyed by node identity (e2e/differential.py)."""

    phase: str
    records: dict[str, Record]

    def named(self, task: str) -> list[Record]:
        """Records of Argo task `task` anywhere in the DAG (every loop iteration), in identity order."""
        return [r for k, r in sorted(self.records.items())
                if k.rsplit("/", 1)[-1].split("[", 1)[0] == task]

    def outputs(self, task: str, name: str = "Output") -> list[str]:
        return [decoded(r.parameters[name]) for r in self.named(task) if r.phase == "Succeeded"]

    def phases(self, task: str) -> list[str]:
        return [r.phase for r in self.named(task)]

    @property
    def pods(self) -> int:
        return sum(r.attempts for r in self.records.values() if r.kind == "Pod" and not r.cached
                   and r.phase not in ("Skipped", "Omitted"))


def decoded(value: str) -> str:
    """A value as the next pod shim reads it (values holding Argo's tag syntax travel base64)."""
    prefix = "__KFP_B64__:"
    return base64.b64decode(value[len(prefix):]).decode() if value.startswith(prefix) else value


@dataclass
class Case:
    name: str
    source: Callable[[Context], Any]
    params: Callable[[Context], dict[str, str]] = lambda ctx: {}
    # run-time overrides for the runner's run of the same manifest (its own counters on the server)
    local_params: Callable[[Context], dict[str, str]] = lambda ctx: {}
    phase: str = "Succeeded"
    check: Callable[[Outcome], None] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    timeout: float = 600.0
    corpus: str | None = None  # the corpus IR path, relative to ir/valid (None: not a corpus pipeline)
    kfp_local: str | None = None  # tests/test_differential.py's name for a kfp.local comparison


def _corpus(rel: str) -> Callable[[Context], Any]:
    def source(ctx: Context):
        from tests.test_differential import repinned

        target = ctx.tmp / "corpus" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        return str(repinned(ctx.corpus / "ir" / "valid" / rel, target.parent))
    return source


# ------------------------------------------------------------------------------- known answers

def _seed_training(o: Outcome) -> None:
    assert o.phases("load-data") == ["Succeeded"] and o.phases("deploy-model") == ["Succeeded"], o.records
    accuracy = float(o.outputs("evaluate-model")[0])
    assert accuracy >= 0.85, accuracy
    meta = json.loads(o.outputs("load-data", "output_dataset-metadata")[0])
    assert meta == {"num_rows": 400, "num_columns": 5}
    model = json.loads(o.outputs("train-model", "model_output-metadata")[0])
    assert model == {"framework": "xgboost", "n_estimators": 20}


def _hp_search(o: Outcome) -> None:
    trained = o.named("train-model")
    assert [r.phase for r in trained] == ["Succeeded"] * 3, trained
    seen = [json.loads(decoded(r.parameters["model_output-metadata"]))["n_estimators"] for r in trained]
    assert seen == [100, 200, 300]


def _param_types(o: Outcome) -> None:
    assert json.loads(o.outputs("typed-check")[0]) == {
        "s": "plain", "i": 3, "f": 0.25, "b": True, "lst": [1, "two", 3.5], "d": {"k": [1, 2], "n": False}}
    echo = {k: o.outputs("echo-types", k)[0] for k in ("s", "i", "f", "b", "opt_seen", "dflt")}
    assert echo == {"s": "plain", "i": "3", "f": "0.25", "b": "true", "opt_seen": "none", "dflt": "7"}
    assert o.pods == 2


def _hostile(o: Outcome) -> None:
    got = json.loads(o.outputs("echo-all")[0])
    assert got == {"values": e2e.HOSTILE, "given": e2e.HOSTILE, "default": e2e.HOSTILE, "const": e2e.CONSTANTS}
    # set_display_name names the Argo tasks (the node names Argo shows)
    shells = [o.outputs(f"shell-const-{i}", "out")[0] for i in range(len(e2e.PLAIN_HOSTILE))]
    shells += o.outputs("shell-given", "out")
    want = e2e.PLAIN_HOSTILE + [e2e.HOSTILE[3]]
    # the value ending in a newline is case container-newline's (a known finding)
    assert [v for v, w in zip(shells, want) if not w.endswith("\n")] == [w for w in want if not w.endswith("\n")]


def _container_newline(o: Outcome) -> None:
    assert o.outputs("shell-echo", "out") == ["ends with a newline\n"]


def _artifact_flow(deployed: bool) -> Callable[[Outcome], None]:
    def check(o: Outcome) -> None:
        assert o.outputs("make-data") == ["50" if deployed else "40"]
        if deployed:
            assert json.loads(o.outputs("make-data", "data-metadata")[0]) == {"rows": 5, "columns": ["n", "square"]}
            assert o.outputs("inspect-model") == ["5|5|0.5|True"]
            assert o.outputs("deploy") == ["deployed:5|5|0.5|True"]
        else:
            assert o.phases("condition-1") == ["Skipped"] and o.outputs("train") == ["0.4"]
        assert o.pods == (4 if deployed else 3)
    return check


def _string_guard(branch: str) -> Callable[[Outcome], None]:
    def check(o: Outcome) -> None:
        ran = [task for task in ("emit-2", "emit-3") if o.outputs(task)]
        assert [o.outputs(t)[0] for t in ran] == ["matched" if branch == "on-match" else "different"]
    return check


def _loops(o: Outcome) -> None:
    assert o.outputs("total-literal") == ["30"] and o.outputs("total-dynamic") == ["30"]
    assert sorted(o.outputs("square")) == ["1", "16", "4", "9"]
    assert sorted(o.outputs("square-2")) == ["1", "16", "4", "9"]
    assert o.outputs("join") == ["a:2:['depth', 'label'],b:5:['depth', 'label']"]
    assert o.pods == 4 + 1 + 4 + 2 + 3


def _branches(said: str, skipped: str) -> Callable[[Outcome], None]:
    def check(o: Outcome) -> None:
        assert o.outputs("announce") == [said]
        assert [k for k, r in o.records.items() if r.phase == "Skipped"] == [skipped]
        assert o.pods == 3
    return check


def _nested(o: Outcome) -> None:
    assert sorted(o.outputs("square")) == ["4", "9"] and o.outputs("square-of-inner") == ["81"]


def _exit(state: str) -> Callable[[Outcome], None]:
    def check(o: Outcome) -> None:
        [hook] = [r for k, r in o.records.items() if k.endswith(".onExit")]
        assert hook.phase == "Succeeded" and decoded(hook.parameters["Output"]).startswith(state + "|exit-handler-1|")
    return check


def _cleanup(o: Outcome) -> None:
    assert o.outputs("cleanup") == ["cleaned:after"]


def _conditional_producers(o: Outcome) -> None:
    assert sorted(o.outputs("double")) == ["4", "6"] and o.outputs("add") == ["10"]


def _collect_artifacts(o: Outcome) -> None:
    values = sorted(v for t in ("read-flat", "read-nested", "read-from-pipeline") for v in o.outputs(t))
    assert values == sorted(["a@a|b@b|c@c", "p@p|q@q|p@p|q@q", "x@x|y@y"]), values


def _collected_container(o: Outcome) -> None:
    """Container components get KFP's typed JSON list, not Argo's aggregation (strings)."""
    items = e2e.COLLECTED_ITEMS
    assert o.outputs("sum-ints", "total") == ["30"]  # not "01020"
    assert o.outputs("sum-floats", "total") == ["3.75"]
    assert [json.loads(v) for v in o.outputs("bools", "shown")] == [[x["b"] for x in items]]
    assert [json.loads(v) for v in o.outputs("strings", "shown")] == [[x["s"] for x in items]]
    assert [json.loads(v) for v in o.outputs("dicts", "shown")] == [[x["d"] for x in items]]


def _parameters_simple(o: Outcome) -> None:
    """KFP's parameters_simple: double 1, 2, 3; both adders sum the collected [2,4,6]."""
    assert o.outputs("add") == ["12"] and o.outputs("add-container", "sum") == ["12"], o.records


def _counts(expected: dict[str, int], outputs: dict[str, list[str]] | None = None) -> Callable[[Outcome], None]:
    def check(o: Outcome) -> None:
        got = {task: sum(1 for r in o.named(task) if r.phase == "Succeeded") for task in expected}
        assert got == expected, got
        for task, values in (outputs or {}).items():
            assert o.outputs(task) == values, (task, o.outputs(task))
    return check


def _retry(o: Outcome) -> None:
    [flaky] = o.named("flaky")
    assert flaky.attempts == 3 and flaky.phase == "Succeeded"
    assert o.outputs("after") == ["succeeded on attempt 3!"]


def _fail_stops(o: Outcome) -> None:
    [flaky] = o.named("flaky")
    assert flaky.attempts == 2 and flaky.phase == "Failed"
    assert o.phases("after") == ["Omitted"]


def _container_flow(value: str) -> Callable[[Outcome], None]:
    def check(o: Outcome) -> None:
        assert o.outputs("write-files", "count") == ["3"]
        assert o.outputs("read-back") == [f"<{value}>|no-extra|{value}"]
        assert o.outputs("read-back-2") == [f"<x>|given|{value}"]
        assert o.pods == 5
    return check


def _importer(o: Outcome) -> None:
    assert o.outputs("read-imported") == ["a,b\n1,2\n|web"] and o.pods == 1


def _double_condition(o: Outcome) -> None:
    assert o.outputs("say") == ["above one"]


CONTAINER_TEXT = "a b$(x)'\"{{y}}"


def _cases() -> list[Case]:
    data = lambda ctx: {"dataset_url": f"{ctx.data_url}/data.csv"}  # noqa: E731
    cases = [
        Case("seed-training", lambda ctx: str(EXAMPLES / "ml_training_pipeline.py"),
             lambda ctx: {**data(ctx), "n_estimators": "20"}, check=_seed_training, timeout=1800),
        Case("hp-search", lambda ctx: str(EXAMPLES / "hp_search_pipeline.py"), data, check=_hp_search, timeout=1800),
        Case("param-types", lambda ctx: dataflow.param_types, check=_param_types, kfp_local="dataflow.param_types"),
        Case("hostile-values", lambda ctx: e2e.hostile_values,
             lambda ctx: {f"given{i}": v for i, v in enumerate(e2e.HOSTILE)}, check=_hostile),
        Case("container-newline", lambda ctx: e2e.container_newline, check=_container_newline),
        Case("artifact-flow", lambda ctx: dataflow.artifact_flow, lambda ctx: {"rows": "5", "threshold": "0.5"},
             check=_artifact_flow(True), kfp_local="dataflow.artifact_flow"),
        Case("artifact-flow-skip", lambda ctx: dataflow.artifact_flow, lambda ctx: {"rows": "4", "threshold": "0.5"},
             check=_artifact_flow(False)),
        Case("guard-quote", lambda ctx: dataflow.string_guards, lambda ctx: {"text": "it's", "expected": "it's"},
             check=_string_guard("on-match")),
        Case("guard-numbers-as-strings", lambda ctx: dataflow.string_guards,
             lambda ctx: {"text": "10", "expected": "9"}, check=_string_guard("on-miss")),
        Case("guard-braces", lambda ctx: dataflow.string_guards, lambda ctx: {"text": "{{x}}", "expected": "{{x}}"},
             check=_string_guard("on-match")),
        Case("guard-empty", lambda ctx: dataflow.string_guards, lambda ctx: {"text": "", "expected": ""},
             check=_string_guard("on-match")),
        Case("loops", lambda ctx: control.loops, lambda ctx: {"n": "4"}, check=_loops, kfp_local="control.loops"),
        Case("branches-heads", lambda ctx: control.branches, lambda ctx: {"seed": "0"},
             check=_branches("got heads", "condition-branches-1/condition-3")),
        Case("branches-tails", lambda ctx: control.branches, lambda ctx: {"seed": "7"},
             check=_branches("got tails", "condition-branches-1/condition-2"), kfp_local="control.branches"),
        Case("nested", lambda ctx: control.nested, lambda ctx: {"x": "3"}, check=_nested),
        Case("exit-success", lambda ctx: control.exit_handling, lambda ctx: {"fail": "false"}, check=_exit("SUCCEEDED")),
        Case("exit-failure", lambda ctx: control.exit_handling, lambda ctx: {"fail": "true"}, phase="Failed",
             check=_exit("FAILED")),
        Case("ignore-upstream-failed", lambda ctx: control.ignore_upstream, lambda ctx: {"fail": "true"},
             phase="Failed", check=_cleanup),
        Case("ignore-upstream-ok", lambda ctx: control.ignore_upstream, lambda ctx: {"fail": "false"}, check=_cleanup),
        Case("collect-artifacts", lambda ctx: control.collect_artifacts, check=_collect_artifacts),
        Case("double-condition", lambda ctx: control.double_condition, lambda ctx: {"x": "3"},
             check=_double_condition, kfp_local="control.double_condition"),
        Case("retry-then-succeed", lambda ctx: e2e.retry_then_succeed,
             lambda ctx: {"counter_url": ctx.counter("retry")}, check=_retry,
             local_params=lambda ctx: {"counter_url": ctx.counter("retry-local")}),
        Case("fail-stops", lambda ctx: e2e.fail_stops, lambda ctx: {"counter_url": ctx.counter("fail")},
             phase="Failed", check=_fail_stops, local_params=lambda ctx: {"counter_url": ctx.counter("fail-local")}),
        Case("container-flow", lambda ctx: containers.container_flow,
             lambda ctx: {"text": CONTAINER_TEXT, "times": "3"}, check=_container_flow(CONTAINER_TEXT)),
        Case("importer-http", lambda ctx: containers.importer_pipeline(f"{ctx.data_url}/small.csv"), check=_importer),
        Case("conditional-producers", _corpus("conditional_producer_and_consumers.yaml"),
             lambda ctx: {"threshold": "2"}, check=_conditional_producers, corpus="conditional_producer_and_consumers.yaml"),
        Case("parallelfor-artifacts", _corpus("pipeline_with_parallelfor_list_artifacts_GH-12033.yaml"),
             check=_counts({"print-artifact-name": 4, "print-artifact-name-2": 4}),
             corpus="pipeline_with_parallelfor_list_artifacts_GH-12033.yaml"),
        Case("collected-container", lambda ctx: e2e.collected_container, check=_collected_container),
        Case("parameters-simple", _corpus("critical/parameters_simple.yaml"), check=_parameters_simple,
             corpus="critical/parameters_simple.yaml"),
        Case("artifacts-simple", _corpus("artifacts_simple.yaml"), check=_counts({"add-container": 1}),
             corpus="artifacts_simple.yaml"),
        Case("workspace", _corpus("critical/pipeline_with_workspace.yaml"),
             check=_counts({"read-from-workspace": 1}, {"read-from-workspace": ["Hello from workspace!"]}),
             corpus="critical/pipeline_with_workspace.yaml"),
        Case("pvc-create-mount-delete", _corpus("pipeline_with_volume.yaml"),
             check=_counts({"consumer": 1, "producer": 1, "createpvc": 1, "deletepvc": 1},
                           {"consumer": ["Hello world"]}), corpus="pipeline_with_volume.yaml",
             timeout=420),  # F3 (fixed): deletepvc used to wait forever on Argo
    ]
    from tests.test_differential import CORPUS_PIPELINES

    for rel in CORPUS_PIPELINES:
        short = rel.rsplit("/", 1)[-1].removesuffix(".yaml").replace("_", "-")
        cases.append(Case(f"corpus-{short}", _corpus(rel), phase="Failed" if rel == "failing/fail_v2.yaml" else "Succeeded",
                          corpus=rel, kfp_local=rel))
    return cases


CASES = _cases()
assert len({c.name for c in CASES}) == len(CASES)


def selected(names: list[str], variable: str) -> set[str]:
    """The names a comma-separated environment variable selects (all when it is unset): for a
    quick re-run of a few cases (KFPT_E2E_CASES) or scenarios (KFPT_E2E_SCENARIOS)."""
    import os

    chosen = os.environ.get(variable)
    return set(names) if not chosen else {n for n in names if n in chosen.split(",")}
