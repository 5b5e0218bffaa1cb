"""CEL `when` as the alpha opt-in (`--tekton-alpha cel-when`, docs/tekton.md "Conditions"):
conditions over numbers and booleans of Python tasks become CEL `when` expressions with no
evaluation task; the output records the feature flag it needs, which tektonlint honours; the
local harness runs them, each substituted CEL expression evaluated by Tekton's own evaluator
(`tektonlint eval-cel`, cel-go as the reconciler calls it)."""

import subprocess

import pytest
import yaml
from kfp import dsl

import translator
from translator import lint

from .tekton_harness import Harness, step_env
from .test_tektonlint import tektonlint  # noqa: F401  (the session fixture building the helper)

FLAGS = "kfp-translate.io/tekton-feature-flags"


@dsl.component(base_image="python:3.12")
def num(x: int) -> int:
    return x


@dsl.component(base_image="python:3.12")
def flag(b: bool) -> bool:
    return b


@dsl.component(base_image="python:3.12")
def say(msg: str) -> str:
    return msg


@dsl.pipeline(name="cel-conditions")
def cel_conditions(x: int = 5, b: bool = True):
    n = num(x=x)
    f = flag(b=b)
    with dsl.If(n.output > 4):
        say(msg="big")
    with dsl.If(n.output < 3):
        say(msg="small")
    with dsl.Elif(f.output == False):  # noqa: E712  (KFP's condition syntax)
        say(msg="not small, false")
    with dsl.If(x > 1):  # a pipeline input could hold any text: still an evaluation task
        say(msg="param")


def _tasks(manifest):
    return {t["name"]: t for t in manifest["spec"]["pipelineSpec"]["tasks"]}


def test_cel_when_replaces_evaluation_tasks_and_records_the_flag(tektonlint):  # noqa: F811
    [stock] = translator.translate(cel_conditions, backend="tekton")
    [alpha] = translator.translate(cel_conditions, backend="tekton", tekton_alpha=("cel-when",))
    assert FLAGS not in stock["metadata"]["annotations"]
    assert alpha["metadata"]["annotations"][FLAGS] == "enable-cel-in-whenexpression=true"
    evals = lambda m: sorted(n for n in _tasks(m) if n.endswith("-condition"))  # noqa: E731
    assert len(evals(stock)) == 4 and len(evals(alpha)) == 1  # only the pipeline input's is left
    cels = [w["cel"] for t in _tasks(alpha).values() for w in t.get("when", []) if "cel" in w]
    assert cels and all("$(params." not in c for c in cels)
    assert lint.lint_documents([alpha], tektonlint) == []
    del alpha["metadata"]["annotations"][FLAGS]
    [error] = lint.lint_documents([alpha], tektonlint)
    assert "enable-cel-in-whenexpression should be set to true" in error.message


def test_unknown_alpha_feature_is_an_error():
    with pytest.raises(translator.TranslateError, match="unknown alpha feature 'pipelines-in-pipelines'"):
        translator.translate(cel_conditions, backend="tekton", tekton_alpha=("pipelines-in-pipelines",))


@pytest.mark.parametrize("x,b,ran", [("5", "true", {"big", "param"}), ("1", "false", {"small"}),
                                     ("3", "false", {"not small, false", "param"}), ("3", "true", {"param"})])
def test_cel_conditions_run_with_tektons_evaluator(tmp_path, minio, tektonlint, x, b, ran):  # noqa: F811
    def cel_eval(expr: str) -> bool:
        out = subprocess.run([str(tektonlint), "eval-cel", expr], capture_output=True, text=True, check=True)
        return out.stdout.strip() == "true"

    env, _ = step_env(tmp_path, minio)
    [manifest] = translator.translate(cel_conditions, backend="tekton", enable_caching=False,
                                      tekton_alpha=("cel-when",), parameters=(("x", x), ("b", b)))
    out = Harness(tmp_path / "run", env, cel_eval=cel_eval).run(manifest)
    assert all(o.status in ("Succeeded", "None") for o in out.values()), \
        "\n".join(f"== {n}\n{o.logs}" for n, o in out.items())
    said = {o.results["Output"] for n, o in out.items() if n.endswith(("say", "say-2", "say-3", "say-4"))
            and o.status == "Succeeded"}
    assert said == ran
    assert yaml.safe_dump(manifest)  # plain data
