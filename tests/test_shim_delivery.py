"""The pod shim reaches each pod once per manifest (translator/runtime/delivery.py).

The shim's behaviour is tested in test_podshim.py, whose runs all start the way a pod does:
the bootstrap command with the packed shim in $KFPT_SHIM. Here: the packing is lossless and
inert, the manifest carries the shim once, and the templates do not depend on its text.
"""
from __future__ import annotations

import ast
import functools
import itertools
import json
import os
import re
import subprocess
import sys

from kfp import dsl

import translator
from translator.cli import dump_yaml
from translator.runner.engine import kubelet_expand, with_template_defaults
from translator.runtime import delivery

from .conftest import REPO

EXAMPLE = str(REPO / "examples" / "ml_training_pipeline.py")


@functools.lru_cache(maxsize=1)
def _loaded_example():
    return translator.load(EXAMPLE)  # the kfp compile, once


def _example() -> dict:
    [wf] = translator.translate(_loaded_example())
    return wf


def _python_templates(manifest):
    return [t for t in manifest["spec"]["templates"]
            if "container" in t and t["container"]["command"][:3] == ["python3", "-c", delivery.BOOTSTRAP]]


def test_packed_shims_are_fresh():
    """translator/runtime/packed_shims.json is what tools/pack_shim.py (python-minifier) makes
    of today's podshim.py (and the Tekton shim): a shim edit without `make golden` fails here."""
    run = subprocess.run([sys.executable, str(REPO / "tools" / "pack_shim.py"), "--check"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    for parts in _all_subsets():
        assert delivery.minified(delivery.shim_source(), parts) is not None, parts


def _all_subsets():
    names = sorted(delivery.PARTS)
    return [frozenset(c) for n in range(len(names) + 1) for c in itertools.combinations(names, n)]


def test_packed_shim_is_the_minified_program():
    source = delivery.shim_source()
    for parts in _all_subsets():
        unpacked = delivery.unpack(delivery.packed_shim(parts))
        assert unpacked == delivery.minified(source, parts)
        compile(unpacked, "<packed shim>", "exec")
        assert "def build_executor_input" not in unpacked  # names shortened, docstrings gone
    whole = delivery.unpack(delivery.packed_shim())
    assert len(delivery.packed_shim(())) < len(delivery.packed_shim()) < len(source) / 3
    assert "kfp-compat" in whole and "kfp-compat" not in delivery.unpack(delivery.packed_shim(()))


def test_an_edited_shim_without_a_table_entry_is_packed_whole():
    edited = delivery.shim_source() + "\nSHIM_EDITED = True\n"
    assert delivery.minified(edited) is None
    unpacked = delivery.unpack(delivery.pack(edited, ()))
    assert ast.dump(ast.parse(unpacked)) == ast.dump(ast.parse(edited))  # only comments went
    assert "#" not in "".join(line.split('"')[0] for line in unpacked.splitlines())


def _pin(version):
    return ["sh", "-c", "python3 -m pip install --quiet 'kfp==%s' '--no-deps' && \"$0\" \"$@\"" % version]


def test_parts_needed():
    plain = {"inputs": {"parameters": {"a": {"env": "KFPT_P_0", "type": "STRING"}}}, "outputs": {}}
    assert delivery.parts_needed([plain], [_pin("2.14.3")]) == frozenset()
    assert delivery.parts_needed([plain], [_pin("2.5.0"), _pin("2.15.2")]) == frozenset()
    for old in ("2.4.0", "2.0.1", "1.8.22"):  # kfp < 2.5 gives local URIs no path
        assert delivery.parts_needed([plain], [_pin("2.14.3"), _pin(old)]) == {"kfp-compat"}
    no_pin = ["python3", "-m", "kfp.dsl.executor_main"]  # a containerized component: kfp unknown
    assert delivery.parts_needed([plain], [no_pin]) == {"kfp-compat"}
    collected = {"inputs": {"parameters": {"a": {"env": "E", "type": "LIST", "collected": [1, "STRING"]}}},
                 "outputs": {}}
    listed = {"inputs": {"artifacts": {"a": {"path": "/p", "isList": True}}}, "outputs": {}}
    keyed = {"outputs": {"artifacts": {"a": {"itemPath": "/i", "keyEnv": "K"}}}}
    for spec in (collected, listed, keyed):
        assert delivery.parts_needed([plain, spec], [_pin("2.14.3")]) == {"collections"}


def test_a_manifest_carries_the_parts_its_pods_use():
    wf = _example()  # kfp 2.17 components, no dsl.Collected
    packed = wf["spec"]["templateDefaults"]["container"]["env"][0]["value"]
    assert packed == delivery.packed_shim(())

    from .pipelines import control  # dsl.Collected out of loops (run by test_run_control.py)

    [wf] = translator.translate(control.loops)
    assert wf["spec"]["templateDefaults"]["container"]["env"][0]["value"] == delivery.packed_shim({"collections"})


def test_packed_value_and_bootstrap_are_inert():
    """No engine or kubelet rewrites them: base64 has no braces, `$` or quotes; Argo inserts a
    value as strconv.Quote without the quotes (util/template/simple_template.go), which leaves
    base64 as it is, like JSON does."""
    value = delivery.packed_shim()
    assert re.fullmatch(r"[A-Za-z0-9+/]+=*", value)
    assert json.dumps(value) == '"%s"' % value and kubelet_expand(value, {}) == value
    boot = delivery.BOOTSTRAP
    assert "{{" not in boot and "$" not in boot and kubelet_expand(boot, {"KFPT_SHIM": "x"}) == boot


def test_the_manifest_carries_the_shim_once():
    wf = _example()
    text = dump_yaml([wf])
    assert text.count(delivery.packed_shim(())) == 1
    assert "def build_executor_input" not in text  # the source is nowhere in clear
    env = wf["spec"]["templateDefaults"]["container"]["env"]
    assert list(wf["spec"]["templateDefaults"]) == ["container"] and list(wf["spec"]["templateDefaults"]["container"]) == ["env"]
    assert env[0] == {"name": delivery.SHIM_ENV, "value": delivery.packed_shim(())}
    assert [e["name"] for e in env[1:]] == [f"KFPT_C_{i}" for i in range(len(env) - 1)]  # shared command text
    pythons = _python_templates(wf)
    assert len(pythons) >= 3
    for t in pythons:  # the template names the variable only through the bootstrap
        assert delivery.SHIM_ENV not in {e["name"] for e in t["container"].get("env", [])}


def test_no_python_component_no_shim():
    @dsl.container_component
    def hello():
        return dsl.ContainerSpec(image="busybox:1.36", command=["echo", "hi"])

    @dsl.pipeline(name="only-containers")
    def only_containers():
        hello()

    [wf] = translator.translate(only_containers)
    assert "templateDefaults" not in wf["spec"]


def test_a_shim_change_leaves_every_template_alone(monkeypatch):
    """What a golden diff shows after editing podshim.py: one value, no template."""
    before = _example()
    changed = delivery.shim_source() + "\nSHIM_EDITED = True\n"
    monkeypatch.setattr(delivery, "shim_source", lambda: changed)
    delivery.packed_shim.cache_clear()
    try:
        [after] = translator.translate(_loaded_example())
    finally:
        delivery.packed_shim.cache_clear()
    assert delivery.unpack(after["spec"]["templateDefaults"]["container"]["env"][0]["value"]).endswith("SHIM_EDITED = True\n")
    assert after["spec"]["templateDefaults"]["container"]["env"][1:] == before["spec"]["templateDefaults"]["container"]["env"][1:]
    assert after["spec"]["templates"] == before["spec"]["templates"]
    assert {k: v for k, v in after["spec"].items() if k != "templateDefaults"} == \
        {k: v for k, v in before["spec"].items() if k != "templateDefaults"}


def test_bootstrap_runs_the_shim_as_main_with_its_argv(tmp_path):
    """The container as Argo starts it: templateDefaults merged in (env by name), the kubelet's
    expansion applied, the bootstrap as argv[0..2]; the shim sees its usual argv."""
    wf = _example()
    template = with_template_defaults(_python_templates(wf)[0], wf["spec"]["templateDefaults"])
    env_list = template["container"]["env"]
    assert env_list[0]["name"] == delivery.SHIM_ENV
    env = dict(os.environ, **{e["name"]: kubelet_expand(e["value"], {}) for e in env_list[:1]})
    capture = tmp_path / "ei.json"
    spec = {"marker": "M", "outputs": {"executorOutput": str(tmp_path / "eo.json")}}
    writer = "import sys; open(sys.argv[1], 'w').write(sys.argv[2])"
    argv = delivery.shim_command(json.dumps(spec), sys.executable) + [sys.executable, "-c", writer, str(capture), "M"]
    run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(capture.read_text())["outputs"]["outputFile"] == str(tmp_path / "eo.json")
    bad = subprocess.run(delivery.shim_command("{}", sys.executable), env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and bad.stderr.startswith("kfp-podshim: error: usage"), bad.stderr
    unset = subprocess.run(delivery.shim_command("{}", sys.executable) + ["true"], capture_output=True, text=True,
                           timeout=60, env={k: v for k, v in env.items() if k != delivery.SHIM_ENV})
    assert unset.returncode == 1 and "KFPT_SHIM" in unset.stderr


def test_shared_command_parts_expand_to_kfps_own_command():
    """The kubelet expands the templates' `$(KFPT_C_<n>)` from the env values (which it reduces
    first: `$$` -> `$`, pkg/kubelet/kubelet_pods.go, then container/helpers.go
    ExpandContainerCommandAndArgs): each Python template then runs exactly KFP's command."""
    wf = _example()
    defaults = wf["spec"]["templateDefaults"]["container"]["env"]
    shared = [e for e in defaults if e["name"].startswith("KFPT_C_")]
    assert shared, "the example's components share KFP's preambles"
    kfp_commands = [list(e.container.command) for e in _loaded_example().spec.deploymentSpec.executors.values()
                    if e.container is not None]
    for t in _python_templates(wf):
        env: dict[str, str] = {}
        for e in with_template_defaults(t, wf["spec"]["templateDefaults"])["container"]["env"]:
            env[e["name"]] = kubelet_expand(e["value"], env)
        command = [kubelet_expand(part, env) for part in t["container"]["command"]]
        assert command[5:] in kfp_commands
    uses = [part for t in _python_templates(wf) for part in t["container"]["command"] if part.startswith("$(KFPT_C_")]
    assert all(uses.count(f"$({e['name']})") >= 2 for e in shared)  # shared, or it would not pay
