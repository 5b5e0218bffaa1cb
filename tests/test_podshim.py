"""The pod shim (translator/runtime/podshim.py) run for real.

Each test compiles a real KFP lightweight component (tests/podshim_fixtures/components.py) with
kfp's compiler, builds the SPEC and env from the compiled IR the way docs/design.md ("The pod
contract") says, and runs `python3 -c <shim> <SPEC> -- <KFP command> <args with marker>` as a
subprocess. The KFP command (pip install kfp --no-deps, then kfp.dsl.executor_main) runs under a
`python3` that has kfp installed; PIP_NO_INDEX=1 keeps pip offline. Paths live under tmp_path
instead of /kfp. Expected values are computed from the inputs with an independent reference of
the canonical encoding, never copied from the shim's output.
"""
import base64
import glob
import hashlib
import importlib.util
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from kfp import compiler
from kfp import dsl

from tests.podshim_fixtures import components as C
from translator.runtime import delivery

ROOT = Path(__file__).resolve().parents[1]
SHIM = ROOT / "translator" / "runtime" / "podshim.py"
SHIM_SRC = SHIM.read_text(encoding="utf-8")
MARKER = "__KFP_EXECUTOR_INPUT__"
B64_PREFIX = "__KFP_B64__:"
TIMEOUT = 180


def load_shim_module():
    spec = importlib.util.spec_from_file_location("podshim_under_test", SHIM)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


shim = load_shim_module()


# ---------------------------------------------------------------- reference canonical encoding
def ref_canon(ptype, value):
    """docs/design.md "Canonical parameter encoding", written independently of the shim."""
    if ptype == "STRING":
        return value
    if ptype == "NUMBER_INTEGER":
        return "%d" % value
    if ptype == "NUMBER_DOUBLE":
        return json.dumps(float(value))
    if ptype == "BOOLEAN":
        return {True: "true", False: "false"}[value]
    return json.dumps(value, separators=(",", ":"))


def sha256_file(path):
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------- harness
_IR_CACHE = {}


def compile_component(comp, tmp_dir):
    name = comp.component_spec.name
    if name not in _IR_CACHE:
        out = Path(tmp_dir) / ("%s.yaml" % name)
        compiler.Compiler().compile(comp, str(out))
        docs = list(yaml.safe_load_all(out.read_text()))
        ir = docs[0]
        (cname, cspec), = ir["components"].items()
        container = ir["deploymentSpec"]["executors"][cspec["executorLabel"]]["container"]
        _IR_CACHE[name] = (cspec, container)
    return _IR_CACHE[name]


@pytest.fixture(scope="session")
def ir_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("ir")


@pytest.fixture(scope="session")
def child_bin(tmp_path_factory):
    """A directory whose `python3` is this interpreter (which has kfp installed)."""
    d = tmp_path_factory.mktemp("bin")
    py = d / "python3"
    py.write_text('#!/bin/sh\nexec "%s" "$@"\n' % sys.executable)
    py.chmod(0o755)
    return d


def argo_reads(path):
    """A file the shim writes for Argo, as the next pod receives it: Argo's executor drops one
    trailing newline (SaveParameters), and a value holding Argo's own tag syntax travels base64."""
    text = path.read_bytes().decode("utf-8")
    assert text.endswith("\n"), "the shim ends every file for Argo with a newline"
    text = text[:-1]
    prefix = "__KFP_B64__:"
    return base64.b64decode(text[len(prefix):]).decode("utf-8") if text.startswith(prefix) else text


class Run:
    def __init__(self, proc, spec, base):
        self.proc, self.spec, self.base = proc, spec, base
        self.rc, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr

    def param(self, name):
        return argo_reads(Path(self.spec["outputs"]["parameters"][name]["argoPath"]))

    def metadata_text(self, name):
        return argo_reads(Path(self.spec["outputs"]["artifacts"][name]["metadataPath"]))

    def metadata(self, name):
        return json.loads(self.metadata_text(name))

    def digest(self, name):
        return argo_reads(Path(self.spec["outputs"]["artifacts"][name]["digestPath"]))

    def out_path(self, name):
        return Path(self.spec["outputs"]["artifacts"][name]["path"])

    def canonical_files(self):
        kfp_dir = self.base / "outputs" / ".kfp"
        return sorted(str(p.relative_to(kfp_dir)) for p in kfp_dir.rglob("*") if p.is_file())

    def check_ok(self):
        assert self.rc == 0, "shim failed rc=%s\nstderr:\n%s" % (self.rc, self.stderr[-4000:])
        return self


def build_spec(cspec, base):
    """SPEC as docs/design.md defines it, from the compiled component's interface."""
    ins, outs = cspec.get("inputDefinitions", {}), cspec.get("outputDefinitions", {})
    spec = {"version": 1, "marker": MARKER, "inputs": {"parameters": {}, "artifacts": {}},
            "outputs": {"parameters": {}, "artifacts": {},
                        "executorOutput": str(base / "outputs/.kfp/executor_output.json")}}
    for i, (name, p) in enumerate(sorted(ins.get("parameters", {}).items())):
        spec["inputs"]["parameters"][name] = {"type": p["parameterType"], "env": "KFPT_P_%d" % i}
    for i, (name, a) in enumerate(sorted(ins.get("artifacts", {}).items())):
        spec["inputs"]["artifacts"][name] = {
            "schemaTitle": a["artifactType"]["schemaTitle"],
            "schemaVersion": a["artifactType"]["schemaVersion"],
            "path": str(base / "inputs" / name), "metadataEnv": "KFPT_M_%d" % i,
            "isList": bool(a.get("isArtifactList", False))}
    for name, p in outs.get("parameters", {}).items():
        spec["outputs"]["parameters"][name] = {
            "type": p["parameterType"], "outputFile": str(base / "outputs" / name),
            "argoPath": str(base / "outputs/.kfp/params" / name)}
    for name, a in outs.get("artifacts", {}).items():
        spec["outputs"]["artifacts"][name] = {
            "schemaTitle": a["artifactType"]["schemaTitle"],
            "schemaVersion": a["artifactType"]["schemaVersion"],
            "path": str(base / "outputs" / name),
            "metadataPath": str(base / ("outputs/.kfp/artifacts/%s.metadata" % name)),
            "digestPath": str(base / ("outputs/.kfp/artifacts/%s.digest" % name))}
    return spec


def guard(text):
    """What the translator does to argv text holding double braces (Argo would read them as
    variables): `__KFP_B64__:` + base64 of the UTF-8 bytes."""
    if "{{" in text or "}}" in text:
        return B64_PREFIX + base64.b64encode(text.encode("utf-8")).decode("ascii")
    return text


def shim_argv(spec, container, shim_python=None):
    """As a pod starts it: the bootstrap, which runs the shim from $KFPT_SHIM (see shim_env)."""
    args = [MARKER if a == "{{$}}" else guard(a) for a in container.get("args", [])]
    assert MARKER in args, "a lightweight component passes {{$}} as a whole argument"
    return delivery.shim_command(json.dumps(spec), shim_python or sys.executable) + \
        [guard(c) for c in container["command"]] + args


def shim_env(child_bin, spec, params=None, metadata=None, command=None):
    """params/metadata: input name -> env text (None = leave the variable unset). With the
    component's `command`, the shim has only the optional parts a manifest running it would carry
    (delivery.parts_needed), else all of them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KFPT_")}
    parts = delivery.ALL_PARTS if command is None else delivery.parts_needed([spec], [command])
    env[delivery.SHIM_ENV] = delivery.packed_shim(parts)
    env.update(PATH="%s%s%s" % (child_bin, os.pathsep, env.get("PATH", "")), PIP_NO_INDEX="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    for name, value in (params or {}).items():
        if value is not None:
            env[spec["inputs"]["parameters"][name]["env"]] = value
    for name, value in (metadata or {}).items():
        if value is not None:
            env[spec["inputs"]["artifacts"][name]["metadataEnv"]] = value
    return env


@pytest.fixture
def run_component(tmp_path, ir_dir, child_bin):
    counter = [0]

    def run(comp, params=None, metadata=None, setup=None, shim_python=None, base=None):
        counter[0] += 1
        base = Path(base or tmp_path / ("run%d" % counter[0]))
        base.mkdir(parents=True, exist_ok=True)
        cspec, container = compile_component(comp, ir_dir)
        spec = build_spec(cspec, base)
        if setup:
            setup(base)
        proc = subprocess.run(shim_argv(spec, container, shim_python),
                              env=shim_env(child_bin, spec, params, metadata, container["command"]),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=TIMEOUT)
        return Run(proc, spec, base)
    return run


def feed(producer, out_name, consumer_base, in_name):
    """What Argo does between two tasks: the artifact file/dir goes to the consumer's input
    path, the producer's `<name>-metadata` output parameter goes into the metadata env var."""
    dst = Path(consumer_base) / "inputs" / in_name
    dst.parent.mkdir(parents=True, exist_ok=True)
    src = producer.out_path(out_name)
    if src.is_dir():
        shutil.copytree(str(src), str(dst))
    else:
        shutil.copyfile(str(src), str(dst))
    return producer.metadata_text(out_name)


def env_texts(types, values):
    return {k: ref_canon(types[k], v) for k, v in values.items()}


ECHO_TYPES = {"s": "STRING", "i": "NUMBER_INTEGER", "f": "NUMBER_DOUBLE", "b": "BOOLEAN",
              "l": "LIST", "d": "STRUCT"}
ECHO_PY_TYPES = {"s": "str", "i": "int", "f": "float", "b": "bool", "l": "list", "d": "dict"}


def check_echo(run, expected):
    run.check_ok()
    for name, value in expected.items():
        assert run.param(name) == ref_canon(ECHO_TYPES[name], value), name
    assert json.loads(run.param("seen")) == ECHO_PY_TYPES


# ---------------------------------------------------------------- parameters
@pytest.mark.parametrize("values", [
    dict(s="hello", i=42, f=3.25, b=True, l=[1, "two", 3.5, None, True], d={"k": "v", "n": [1, 2]}),
    dict(s="", i=-(2 ** 62), f=1.0, b=False, l=[], d={}),
    dict(s="x" * 5000, i=0, f=1e-9, b=True, l=[{"a": [[]]}], d={"ünï": {"é": "ø"}, "": None}),
])
def test_every_parameter_type_in_and_out(run_component, values):
    run = run_component(C.echo_types, params=env_texts(ECHO_TYPES, values))
    check_echo(run, values)
    assert run.canonical_files() == sorted(
        ["executor_output.json"] + ["params/" + n for n in list(ECHO_TYPES) + ["seen"]])


@pytest.mark.parametrize("texts,expected", [
    (dict(i="3.0", f="2", b="True"), dict(i=3, f=2.0, b=True)),
    (dict(i=" 7\n", f=" 0.25 ", b="False"), dict(i=7, f=0.25, b=False)),
    (dict(i="-0", f="1e3", b="1"), dict(i=0, f=1000.0, b=True)),
    (dict(i="1e2", f="-7.5e-3", b="0"), dict(i=100, f=-0.0075, b=False)),
])
def test_lenient_input_parsing(run_component, texts, expected):
    base = dict(s="s", l='[1, 2]', d='{"a": 1}')  # JSON with spaces is fine too
    run = run_component(C.echo_types, params=dict(base, **texts))
    check_echo(run, dict(expected, s="s", l=[1, 2], d={"a": 1}))


@pytest.mark.parametrize("name,text", [("i", "3.5"), ("i", "seven"), ("b", "yes"),
                                       ("f", "1,5"), ("l", '{"a": 1}'), ("d", "[1]"),
                                       ("d", "{not json")])
def test_bad_input_value_fails_before_running_the_component(run_component, name, text):
    good = env_texts(ECHO_TYPES, dict(s="s", i=1, f=1.0, b=True, l=[], d={}))
    run = run_component(C.echo_types, params=dict(good, **{name: text}))
    assert run.rc == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    env_name = run.spec["inputs"]["parameters"][name]["env"]
    assert repr(name) in lines[0] and env_name in lines[0]
    assert not (run.base / "outputs/.kfp/executor_output.json").exists()
    assert run.stdout == ""  # the KFP command never started


def same(a, b):
    """Equal including int-vs-float (1 == 1.0 in Python, not here)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def python_defaults(comp):
    sig = inspect.signature(comp.python_func)
    return {k: [p.default, type(p.default).__name__] for k, p in sig.parameters.items()}


def test_optional_params_and_defaults_when_unset(run_component):
    run = run_component(C.defaults, params={}).check_ok()
    assert same(json.loads(run.param("Output")), python_defaults(C.defaults))


def test_optional_params_and_defaults_when_set(run_component, ir_dir):
    values = dict(o="given", n=9, x=2.0, flag=False, tags=["z"], ints=[7, 8, 9], cfg={"a": 1},
                  maybe_n=0)
    pdefs = compile_component(C.defaults, ir_dir)[0]["inputDefinitions"]["parameters"]
    types = {k: p["parameterType"] for k, p in pdefs.items()}
    run = run_component(C.defaults, params=env_texts(types, values)).check_ok()
    assert same(json.loads(run.param("Output")), {k: [v, type(v).__name__] for k, v in values.items()})


def test_ir_defaults_passed_explicitly_keep_their_python_types(run_component, ir_dir):
    """The IR writes integer defaults as floats (n: 5.0, ints: [1.0, 2.0]). A translator that
    passes IR defaults through must still give the function ints, as KFP's launcher does."""
    cspec, _ = compile_component(C.defaults, ir_dir)
    pdefs = cspec["inputDefinitions"]["parameters"]
    texts = {k: ref_canon(p["parameterType"], p["defaultValue"]) if p["parameterType"] !=
             "NUMBER_INTEGER" else json.dumps(p["defaultValue"])  # "5.0": lenient int parsing
             for k, p in pdefs.items() if "defaultValue" in p}
    assert texts["n"] == "5.0" and texts["ints"] == "[1.0,2.0]"
    run = run_component(C.defaults, params=texts).check_ok()
    assert same(json.loads(run.param("Output")), python_defaults(C.defaults))


@pytest.mark.parametrize("text,n", [("plain", 3), ("two\nlines\n", -4), ("", 0),
                                    ("  spaced  \r\n", 10)])
def test_output_path_parameters(run_component, text, n):
    run = run_component(C.write_outputs, params=dict(text=text, n=str(n))).check_ok()
    assert run.param("p_text") == text  # exactly what the component wrote, no newline games
    assert run.param("p_int") == ref_canon("NUMBER_INTEGER", n)
    assert run.param("p_float") == ref_canon("NUMBER_DOUBLE", n / 4)
    assert run.param("p_bool") == ref_canon("BOOLEAN", n > 0)
    assert run.param("p_list") == ref_canon("LIST", [text, n])
    assert run.param("p_dict") == ref_canon("STRUCT", {"text": text, "n": n})


@pytest.mark.parametrize("comp,ptype,arg,expected", [
    (C.ret_int, "NUMBER_INTEGER", 21, 42),
    (C.ret_float, "NUMBER_DOUBLE", 5.0, 2.5),
    (C.ret_float, "NUMBER_DOUBLE", 0.2, 0.1),
    (C.ret_float_from_int, "NUMBER_DOUBLE", 4, 4.0),
    (C.ret_bool, "BOOLEAN", 4, True),
    (C.ret_bool, "BOOLEAN", 3, False),
    (C.ret_list, "LIST", 4, [0, 1, 2, 3]),
    (C.ret_dict, "STRUCT", 7, {"x": 7, "sq": 49}),
    (C.ret_str, "STRING", "abc\n\u00e9", "\u00e9\ncba"),
])
def test_single_return_values(run_component, comp, ptype, arg, expected):
    in_type = "STRING" if isinstance(arg, str) else ("NUMBER_DOUBLE" if isinstance(arg, float)
                                                     else "NUMBER_INTEGER")
    run = run_component(comp, params={"x": ref_canon(in_type, arg)}).check_ok()
    assert run.spec["outputs"]["parameters"]["Output"]["type"] == ptype
    assert run.param("Output") == ref_canon(ptype, expected)
    assert not (run.base / "outputs" / "Output").exists()  # return values live in executor output


TRICKY = [
    'he said "hi" and \'bye\'',
    "$$ $(HOME) $$(HOME) $(KFPT_P_0)",
    "line1\nline2\n",
    "trailing newline\n",
    "\n",
    "{{workflow.name}} {{inputs.parameters.x}} {{$}}",
    "$(echo pwned) ${HOME} $HOME `id`",
    "; rm -rf / # && | > < & * ? ~ !",
    "\u00fcn\u00efc\u00f8d\u00e9 \u2713 \u65e5\u672c\u8a9e \U0001F680",
    "",
    "  leading and trailing  ",
    "back\\slash \\n \\u0041 \\\\",
    "tab\there\r\nCRLF\rCR",
    MARKER,
    '{"looks": "like json"}',
    "null",
    "--executor_input",
]


@pytest.mark.parametrize("b64", [False, True], ids=["plain", "b64"])
@pytest.mark.parametrize("value", TRICKY, ids=range(len(TRICKY)))
def test_values_are_data_and_round_trip_exactly(run_component, value, b64):
    """b64: env values sent as `__KFP_B64__:<base64>`, the form that survives the kubelet's
    $(NAME) / $$ processing of env values in a real pod."""
    params = dict(s=value, l=ref_canon("LIST", [value, value]), d=ref_canon("STRUCT", {value: value}))
    if b64:
        params = {k: B64_PREFIX + base64.b64encode(v.encode("utf-8")).decode("ascii")
                  for k, v in params.items()}
    run = run_component(C.echo_str, params=params).check_ok()
    assert json.loads(run.param("codepoints")) == [ord(c) for c in value]
    assert run.param("n") == str(len(value))
    assert run.param("s") == value
    assert run.param("out_file") == value
    assert run.param("l") == ref_canon("LIST", [value, value])
    assert run.param("d") == ref_canon("STRUCT", {value: value})


def test_component_source_with_double_braces_is_decoded(run_component, ir_dir):
    _, container = compile_component(C.braces, ir_dir)
    guarded = [c for c in container["command"] if guard(c) != c]
    assert guarded, "the component's source text should need the guard"
    x = "v {{x}} \u00e9"
    run = run_component(C.braces, params={"x": x}).check_ok()
    assert run.param("fmt") == "{" + x + "}"
    assert run.param("jinja") == "{{ " + x + " }}"


# ---------------------------------------------------------------- artifacts
def produce_expectations(text):
    data = text.encode("utf-8")
    return {
        "ds": (data, {"rows": len(text.splitlines()), "note": text}),
        "model": (data * 3, {"framework": "sklearn", "accuracy": 0.875}),
        "art": (bytes(range(256)), {}),
    }


def test_artifacts_out_and_into_the_next_component(run_component, tmp_path):
    text = "a,b\n1,2\nüñí \"quoted\" {{x}}\n"
    prod = run_component(C.produce, params={"text": text}).check_ok()
    for name, (content, md) in produce_expectations(text).items():
        assert prod.out_path(name).read_bytes() == content
        assert prod.metadata(name) == md
        assert prod.digest(name) == "sha256:" + hashlib.sha256(content).hexdigest()
        assert prod.metadata_text(name) == json.dumps(md, separators=(",", ":"))
    folder = prod.out_path("folder")
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) == \
        ["a.txt", "sub", "sub/b.bin", "sub/empty"]
    assert prod.metadata("folder") == {"files": 2}
    assert prod.digest("folder").startswith("sha256:") and len(prod.digest("folder")) == 71

    consumer_base = tmp_path / "consumer"
    md_env = {n: feed(prod, n, consumer_base, n) for n in ("ds", "model", "art", "folder")}
    cons = run_component(C.consume, metadata=md_env, base=consumer_base).check_ok()
    report = json.loads(cons.param("report"))
    exp = produce_expectations(text)
    assert report == {
        "classes": ["Dataset", "Model", "Artifact", "Artifact"],
        "uri_is_path": [True] * 4,
        "ds_text": text, "ds_metadata": exp["ds"][1],
        "model_sha": hashlib.sha256(exp["model"][0]).hexdigest(),
        "model_framework": "sklearn", "model_metadata": exp["model"][1],
        "art_hex": exp["art"][0].hex(),
        "folder_tree": {"a.txt": text.encode("utf-8").hex(), "sub": None,
                        "sub/b.bin": (b"\x00\x01" + text.encode("utf-8")).hex(),
                        "sub/empty": None},
        "folder_metadata": {"files": 2},
    }


def test_directory_digest_is_stable_and_content_sensitive(run_component):
    a = run_component(C.produce, params={"text": "same"}).check_ok()
    b = run_component(C.produce, params={"text": "same"}).check_ok()
    c = run_component(C.produce, params={"text": "other"}).check_ok()
    assert a.out_path("folder") != b.out_path("folder")
    assert a.digest("folder") == b.digest("folder")  # location-independent
    assert a.digest("folder") != c.digest("folder")
    assert a.digest("ds") == b.digest("ds") != c.digest("ds")


def test_metrics_metadata(run_component):
    acc, labels, matrix = 0.8125, ["cat", "dog", "🐟"], [[8, 2, 0], [1, 9, 0], [0, 0, 5]]
    run = run_component(C.metrics, params=dict(acc=ref_canon("NUMBER_DOUBLE", acc),
                                               labels=ref_canon("LIST", labels),
                                               matrix=ref_canon("LIST", matrix))).check_ok()
    m, cm = dsl.Metrics(), dsl.ClassificationMetrics()  # the SDK's own bookkeeping, in-process
    m.log_metric("accuracy", acc)
    m.log_metric("count", len(labels))
    cm.log_confusion_matrix(labels, matrix)
    cm.log_roc_curve([0.0, 0.5, 1.0], [0.0, 0.8, 1.0], [1.0, 0.5, 0.0])
    assert run.metadata("m") == m.metadata
    assert run.metadata("cm") == json.loads(json.dumps(cm.metadata))
    for name in ("m", "cm"):  # metrics are metadata-only in KFP: an empty file stands in
        assert run.out_path(name).read_bytes() == b""
        assert run.digest(name) == "sha256:" + hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("count", [1, 3, 11])
def test_list_of_artifacts_input(run_component, count):
    texts = ["item %d ✓\n" % i for i in range(count)]
    mds = [{"i": i, "tag": "t%d" % i} for i in range(count)]

    def setup(base):
        for i, t in enumerate(texts):
            (base / "inputs/items" / str(i)).parent.mkdir(parents=True, exist_ok=True)
            (base / "inputs/items" / str(i)).write_text(t, encoding="utf-8")
    run = run_component(C.gather, metadata={"items": json.dumps(mds)}, setup=setup).check_ok()
    assert json.loads(run.param("Output")) == [
        {"text": t, "metadata": md, "class": "Dataset", "uri_is_path": True}
        for t, md in zip(texts, mds)]  # numeric order: 0, 1, 2, ..., 10


def test_list_of_artifacts_without_metadata(run_component):
    def setup(base):
        for i in range(2):
            p = base / "inputs/items" / str(i)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(str(i))
    run = run_component(C.gather, setup=setup).check_ok()
    assert [x["metadata"] for x in json.loads(run.param("Output"))] == [{}, {}]


def test_pythonic_artifact_return_is_moved_to_the_argo_path(run_component):
    text = "pythonic ✓"
    run = run_component(C.pythonic, params={"text": text}).check_ok()
    assert run.out_path("Output").read_text(encoding="utf-8") == text
    assert run.metadata("Output") == {"len": len(text)}
    assert run.digest("Output") == sha256_file(run.out_path("Output"))


def test_custom_path_artifact_is_copied_to_the_argo_path(run_component, tmp_path):
    where, text = tmp_path / "elsewhere" / "model.txt", "custom ✓"
    where.parent.mkdir()
    run = run_component(C.custom_path_writer, params={"where": str(where), "text": text}).check_ok()
    assert run.out_path("model").read_text(encoding="utf-8") == text
    assert where.read_text(encoding="utf-8") == text  # the user's location is left alone
    assert run.metadata("model") == {"where": str(where)}
    assert run.digest("model") == sha256_file(where)


# ---------------------------------------------------------------- failures
def test_component_that_raises(run_component):
    run = run_component(C.boom, params={"msg": "kaboom-12345"})
    assert run.rc == 1
    assert "kaboom-12345" in run.stderr and "ValueError" in run.stderr
    assert "kfp-podshim" not in run.stderr  # the failure is the component's, reported by it
    assert run.canonical_files() == []
    assert not (run.base / "outputs/.kfp/executor_output.json").exists()


@pytest.mark.parametrize("code", [3, 42])
def test_exit_status_propagates(run_component, code):
    run = run_component(C.exit_with, params={"code": str(code)})
    assert run.rc == code
    assert run.canonical_files() == []


def test_missing_output_artifact_is_a_clear_error(run_component):
    run = run_component(C.forgets_artifact)
    assert run.rc == 1
    lines = run.stderr.strip().splitlines()
    assert "Traceback" not in run.stderr
    assert lines[-1].startswith("kfp-podshim: error:")
    assert "output artifact 'ds'" in lines[-1] and str(run.out_path("ds")) in lines[-1]
    assert "'m'" not in lines[-1]  # the metrics-only artifact is fine


def test_missing_output_parameter_is_a_clear_error(run_component):
    run = run_component(C.forgets_param)
    assert run.rc == 1
    last = run.stderr.strip().splitlines()[-1]
    assert "Traceback" not in run.stderr
    assert last.startswith("kfp-podshim: error:") and "output parameter 'p'" in last
    assert not Path(run.spec["outputs"]["parameters"]["p"]["argoPath"]).exists()


def _process_gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def _as_a_container_starts():
    """A container's first process starts with every signal at its default action. A test run
    started from a background job inherits SIGINT ignored, and an ignored signal stays ignored
    across exec: the sleeper would never see the SIGINT the shim forwards."""
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_are_forwarded_to_the_component(tmp_path, ir_dir, child_bin, sig):
    base = tmp_path / "run"
    cspec, container = compile_component(C.sleeper, ir_dir)
    spec = build_spec(cspec, base)
    pid_file, err_file = tmp_path / "pid", tmp_path / "stderr"
    with open(str(err_file), "wb") as err:
        proc = subprocess.Popen(shim_argv(spec, container),
                                env=shim_env(child_bin, spec, {"pid_file": str(pid_file)}),
                                stdout=subprocess.DEVNULL, stderr=err, preexec_fn=_as_a_container_starts)
    try:
        deadline = time.time() + TIMEOUT
        while not pid_file.exists():
            assert proc.poll() is None, err_file.read_text()
            assert time.time() < deadline
            time.sleep(0.05)
        component_pid = int(pid_file.read_text())
        started = time.time()
        proc.send_signal(sig)
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 128 + sig, err_file.read_text()
    assert time.time() - started < 10  # the component did not sleep on
    deadline = time.time() + 10
    while not _process_gone(component_pid) and time.time() < deadline:
        time.sleep(0.05)
    assert _process_gone(component_pid)


def _run_raw(argv, env=None):
    return subprocess.run([sys.executable, "-c", SHIM_SRC] + argv, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60)


@pytest.mark.parametrize("argv,needle", [
    ([], "usage"),
    (["{}", "true"], "usage"),
    (["{not json", "--", "true"], "invalid SPEC"),
    (['{"marker": "M"}', "--", "true"], "invalid SPEC"),
    (['{"marker": "M", "outputs": {"executorOutput": "/tmp/x", "parameters": '
      '{"p": {"type": "FLOAT"}}}}', "--", "true"], "unsupported parameter type 'FLOAT'"),
    (['{"marker": "M", "outputs": {"executorOutput": "/tmp/x"}}', "--",
      "/nonexistent/command"], "cannot start"),
    (['{"marker": "M", "outputs": {"executorOutput": "/tmp/x"}}', "--", "true",
      B64_PREFIX + "not base64!"], "bad __KFP_B64__: value"),
])
def test_usage_and_spec_errors_are_one_line(argv, needle):
    r = _run_raw(argv)
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
    assert needle in r.stderr


# ---------------------------------------------------------------- the ExecutorInput itself
def test_executor_input_shape(tmp_path):
    """Capture the ExecutorInput the shim hands to a command and compare it with KFP's
    ExecutorInput JSON (field names as in pipeline_spec.proto / launcher_v2.go)."""
    base = tmp_path
    (base / "inputs/ds").parent.mkdir(parents=True)
    (base / "inputs/ds").write_text("x")
    for i in range(2):
        (base / "inputs/many" / str(i)).mkdir(parents=True)
    spec = {
        "version": 1, "marker": MARKER,
        "inputs": {
            "parameters": {"s": {"type": "STRING", "env": "E_S"},
                           "n": {"type": "NUMBER_INTEGER", "env": "E_N"},
                           "st": {"type": "TASK_FINAL_STATUS", "env": "E_ST"},
                           "unset": {"type": "STRING", "env": "E_UNSET"}},
            "artifacts": {
                "ds": {"schemaTitle": "system.Dataset", "schemaVersion": "0.0.1",
                       "path": str(base / "inputs/ds"), "metadataEnv": "E_MD", "isList": False},
                "gone": {"schemaTitle": "system.Model", "schemaVersion": "0.0.1",
                         "path": str(base / "inputs/gone"), "metadataEnv": "E_GONE"},
                "many": {"schemaTitle": "system.Artifact", "schemaVersion": "0.0.1",
                         "path": str(base / "inputs/many"), "metadataEnv": "E_MANY",
                         "isList": True}}},
        "outputs": {
            "parameters": {"o": {"type": "NUMBER_DOUBLE", "outputFile": str(base / "out/o"),
                                 "argoPath": str(base / "out/.kfp/params/o")}},
            "artifacts": {"m": {"schemaTitle": "system.Metrics", "schemaVersion": "0.0.1",
                                "path": str(base / "out/m"),
                                "metadataPath": str(base / "out/.kfp/artifacts/m.metadata"),
                                "digestPath": str(base / "out/.kfp/artifacts/m.digest")}},
            "executorOutput": str(base / "out/.kfp/executor_output.json")}}
    status = {"state": "FAILED", "pipelineJobResourceName": "wf-1", "pipelineTaskName": "t",
              "error": {}}
    env = dict(os.environ, E_S="v", E_N="7.0", E_ST=json.dumps(status), E_MD="",
               E_GONE='{"x": 1}', E_MANY='[{"a": 1}, {}]')
    env.pop("E_UNSET", None)
    capture = base / "captured.json"
    writer = ("import sys, json; open(sys.argv[1], 'w').write(sys.argv[2]); "
              "assert sys.argv[3] == 'x' + '__KFP_EXEC' + 'UTOR_INPUT__' and sys.argv[4] == sys.argv[2]; "
              "o = json.loads(sys.argv[2])['outputs']; "
              "open(o['parameters']['o']['outputFile'], 'w').write('9'); "
              "open(o['outputFile'], 'w').write(json.dumps({'parameterValues': {'o': 2}}))")
    r = _run_raw([json.dumps(spec), "--", sys.executable, "-c", writer, str(capture), MARKER,
                  "x" + MARKER, MARKER], env=env)
    assert r.returncode == 0, r.stderr
    ei = json.loads(capture.read_text())

    def art(name, title, uri, md):
        return {"name": name, "uri": uri, "type": {"schemaTitle": title, "schemaVersion": "0.0.1"},
                "metadata": md}
    assert ei == {
        "inputs": {
            "parameterValues": {"s": "v", "n": 7, "st": status},
            "artifacts": {
                "ds": {"artifacts": [art("ds", "system.Dataset", str(base / "inputs/ds"), {})]},
                "many": {"artifacts": [
                    art("many", "system.Artifact", str(base / "inputs/many/0"), {"a": 1}),
                    art("many", "system.Artifact", str(base / "inputs/many/1"), {})]}}},
        "outputs": {
            "parameters": {"o": {"outputFile": str(base / "out/o")}},
            "artifacts": {"m": {"artifacts": [art("m", "system.Metrics", str(base / "out/m"), {})]}},
            "outputFile": str(base / "out/.kfp/executor_output.json")}}
    assert argo_reads(base / "out/.kfp/params/o") == "2.0"  # executor output wins, as in KFP
    assert argo_reads(base / "out/.kfp/artifacts/m.metadata") == "{}"


def test_executor_input_is_ascii_in_argv(tmp_path):
    spec = {"marker": MARKER, "inputs": {"parameters": {"s": {"type": "STRING", "env": "E_S"}}},
            "outputs": {"executorOutput": str(tmp_path / "eo.json")}}
    value = "日本 \U0001F680 é"
    capture = tmp_path / "argv.bin"
    writer = "import os, sys; open(sys.argv[1], 'wb').write(os.fsencode(sys.argv[2]))"
    r = _run_raw([json.dumps(spec), "--", sys.executable, "-c", writer, str(capture), MARKER],
                 env=dict(os.environ, E_S=value))
    assert r.returncode == 0, r.stderr
    raw = capture.read_bytes()
    assert raw.isascii()
    assert json.loads(raw.decode("ascii"))["inputs"]["parameterValues"]["s"] == value


# ---------------------------------------------------------------- in-process checks
@pytest.mark.parametrize("ptype,text,expected", [
    ("NUMBER_INTEGER", "3", 3), ("NUMBER_INTEGER", " 3\n", 3), ("NUMBER_INTEGER", "3.0", 3),
    ("NUMBER_INTEGER", "+12", 12), ("NUMBER_INTEGER", str(2 ** 70), 2 ** 70),
    ("NUMBER_DOUBLE", "1", 1.0), ("NUMBER_DOUBLE", "-2.5e-3\n", -0.0025),
    ("BOOLEAN", "true", True), ("BOOLEAN", "False", False), ("BOOLEAN", " 1\n", True),
    ("BOOLEAN", "0", False), ("BOOLEAN", "TRUE", True),
    ("LIST", "[1.0, 2.5, {\"a\": 3.0}]", [1, 2.5, {"a": 3}]),
    ("STRUCT", "{\"a\": [1.0]}", {"a": [1]}),
    ("STRING", " keep \n", " keep \n"),
])
def test_lenient_text_parsing(ptype, text, expected):
    got = shim.conv(ptype, text, "p")
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("ptype,value,expected", [
    ("NUMBER_INTEGER", 3.0, "3"), ("NUMBER_INTEGER", True, "1"), ("NUMBER_DOUBLE", 3, "3.0"),
    ("NUMBER_DOUBLE", 0.1, "0.1"), ("BOOLEAN", True, "true"), ("STRING", 5, "5"),
    ("STRING", {"a": 1}, '{"a":1}'), ("LIST", [1.0, "é"], '[1,"\\u00e9"]'),
])
def test_executor_output_values_are_canonicalised(ptype, value, expected):
    assert shim.canon(ptype, shim.conv(ptype, value, "p")) == expected


@pytest.mark.parametrize("ptype,value", [("NUMBER_INTEGER", 2.5), ("NUMBER_INTEGER", "x"),
                                         ("BOOLEAN", 2), ("BOOLEAN", "yes"), ("LIST", {}),
                                         ("STRUCT", []), ("NUMBER_DOUBLE", None)])
def test_wrong_values_are_rejected(ptype, value):
    with pytest.raises(shim.ShimError) as e:
        shim.conv(ptype, value, "output parameter 'z'")
    assert "output parameter 'z'" in str(e.value)


def _tree(root, files, dirs=()):
    for d in dirs:
        (root / d).mkdir(parents=True, exist_ok=True)
    for rel, data in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return str(root)


def test_directory_digest_properties(tmp_path):
    files = [("a", b"1"), ("sub/b", b"2"), ("sub/deeper/c", b"")]
    d1 = _tree(tmp_path / "d1", files)
    d2 = _tree(tmp_path / "d2", list(reversed(files)))
    assert shim.digest(d1) == shim.digest(d2)  # creation order and location do not matter
    variants = [
        [("a", b"1"), ("sub/b", b"2!"), ("sub/deeper/c", b"")],  # content
        [("a", b"1"), ("sub/B", b"2"), ("sub/deeper/c", b"")],   # name
        [("a", b"1"), ("sub/b", b"2")],                           # a file less
        [("a", b"1"), ("subb", b"2"), ("sub/deeper/c", b"")],    # moved
    ]
    digests = {shim.digest(d1)}
    for i, v in enumerate(variants):
        digests.add(shim.digest(_tree(tmp_path / ("v%d" % i), v)))
    digests.add(shim.digest(_tree(tmp_path / "e", files, dirs=["empty"])))  # an extra empty dir
    assert len(digests) == len(variants) + 2
    single = _tree(tmp_path / "f", [("x", b"data")])
    assert shim.digest(os.path.join(single, "x")) == "sha256:" + hashlib.sha256(b"data").hexdigest()
    assert shim.digest(single) != shim.digest(os.path.join(single, "x"))
    link_dir = tmp_path / "l"
    _tree(link_dir, [("real", b"data")])
    os.symlink("real", str(link_dir / "alias"))
    plain = _tree(tmp_path / "p", [("real", b"data"), ("alias", b"data")])
    assert shim.digest(str(link_dir)) == shim.digest(plain)  # a link to a file counts as content


def test_shim_is_compact_stdlib_and_versioned():
    import ast
    tree = ast.parse(SHIM_SRC)
    mods = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
            for a in n.names}
    mods |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    stdlib = getattr(sys, "stdlib_module_names", None)
    if stdlib is not None:
        assert mods <= set(stdlib), mods - set(stdlib)
    assert shim.SHIM_VERSION == 1
    # What every manifest carries is the packed shim (translator.runtime.delivery): keep it small
    # (issue 11 measures its share of the bytes: 5,796 bytes whole before minifying; 3,952 without
    # its optional parts, 5,264 with all of them, when these bounds were set).
    from translator.runtime import delivery
    assert len(delivery.packed_shim()) < 5632 and len(delivery.packed_shim(())) < 4096
    # The translator embeds the source verbatim in the manifest: Argo must see no variable.
    assert "{{" not in SHIM_SRC and "}}" not in SHIM_SRC
    # ... and the kubelet must find nothing to expand ($(NAME)) or to reduce ($$) in it.
    assert "$(" not in SHIM_SRC and "$$" not in SHIM_SRC
    assert 'if __name__ == "__main__":' in SHIM_SRC


# ---------------------------------------------------------------- other interpreters
def _interpreters():
    """python3.7 ... python3.13 that really run (pyenv's shims exist but may refuse)."""
    found = {}
    for minor in range(7, 14):
        cands = sorted(glob.glob(os.path.expanduser(
            "~/.pyenv/versions/3.%d.*/bin/python3" % minor))) + [shutil.which("python3.%d" % minor)]
        for c in cands:
            try:
                out = subprocess.run([c, "-c", "import sys; print(sys.version_info[1])"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     timeout=30).stdout if c else b""
            except (OSError, subprocess.SubprocessError):
                continue
            if out.strip() == str(minor).encode():
                found["3.%d" % minor] = c
                break
    return found


INTERPRETERS = _interpreters()


@pytest.mark.parametrize("version", ["3.%d" % m for m in range(7, 14)])
def test_shim_runs_under_python(run_component, tmp_path, version):
    """The shim runs under the image's python3 (3.7 ... 3.13); the component still needs kfp,
    so the command runs under the test interpreter, as an image's python3 with kfp would."""
    py = INTERPRETERS.get(version)
    if py is None:
        pytest.skip("python%s not installed here" % version)
    value = "{{workflow.name}} $(HOME) $$ \u00fcn\u00ef \u2713 \U0001F680 \"q\"\n"
    prod = run_component(C.produce, params={"text": value}, shim_python=py).check_ok()
    assert prod.metadata("ds") == produce_expectations(value)["ds"][1]
    assert prod.digest("folder") == run_component(C.produce, params={"text": value}).digest("folder")
    params = env_texts(ECHO_TYPES, dict(s=value, i=7, f=0.5, b=False, l=[value], d={"k": value}))
    run = run_component(C.echo_types, params=params, shim_python=py)
    check_echo(run, dict(s=value, i=7, f=0.5, b=False, l=[value], d={"k": value}))
