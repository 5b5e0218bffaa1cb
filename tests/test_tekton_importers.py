"""Tekton: importers from gs:// and http(s)://, and container components reading lists.

Importers make no pod; the consumer's `kfpt-fetch` step reads the URI: `gs://` through Google
Cloud Storage's S3-compatible XML API (`aws s3 cp --endpoint-url`), signed with the HMAC keys of
the `--gcs-credentials` Secret or unsigned, and `http(s)://` with curl. Here the "GCS" endpoint
is the real MinIO server on loopback (the same protocol) and the web server a real
`http.server` on loopback. A container component reading a loop's values, dsl.Collected or a
list of artifacts gets its placeholders from the `kfpt-inputs` step (the pod shim), through
Tekton step results. Every generated step runs as a real subprocess (tests/tekton_harness.py).
Expected values are computed here from the inputs, never copied from a run's output.
"""

import base64
import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import List

import pytest
from kfp import compiler, dsl
from kfp.dsl import Dataset, Input, Output

import translator

from .tekton_harness import Harness, step_env

REPO = Path(__file__).resolve().parent.parent
WORDS = ['a$b "q"', "{{x}} 's'", "line1\nline2", "cost $$5 $(params.x)"]


@dsl.component(base_image="python:3.12")
def read_text(data: Input[Dataset]) -> str:
    import os

    if os.path.isdir(data.path):
        return ",".join("%s=%s" % (n, open(os.path.join(data.path, n)).read()) for n in sorted(os.listdir(data.path)))
    with open(data.path) as f:
        return f.read()


@dsl.pipeline(name="gcs-importers")
def gcs_importers(uri: str = "gs://unused/x"):
    a = dsl.importer(artifact_uri="gs://gcs-data/one/file.txt", artifact_class=Dataset, metadata={"k": "v"})
    read_text(data=a.output).set_display_name("file")
    b = dsl.importer(artifact_uri="gs://gcs-data/one/dir", artifact_class=Dataset)
    read_text(data=b.output).set_display_name("folder")
    c = dsl.importer(artifact_uri=uri, artifact_class=Dataset)
    read_text(data=c.output).set_display_name("runtime")


@dsl.pipeline(name="http-importers")
def http_importers(uri: str = "http://unused/"):
    a = dsl.importer(artifact_uri="http://127.0.0.1:1/never", artifact_class=Dataset)  # replaced per test
    read_text(data=a.output).set_display_name("constant")
    b = dsl.importer(artifact_uri=uri, artifact_class=Dataset)
    read_text(data=b.output).set_display_name("runtime")


def _task(manifest: dict, display: str) -> str:
    return next(t["name"] for t in manifest["spec"]["pipelineSpec"]["tasks"] if t.get("displayName") == display)


def _decode(text: str) -> str:
    prefix = "__KFP_B64__:"
    return base64.b64decode(text[len(prefix):]).decode() if text.startswith(prefix) else text.replace("$$", "$")


# --- translation ------------------------------------------------------------------------------

def test_gs_importer_reads_through_the_gcs_endpoint_signed_only_with_a_secret():
    [plain] = translator.translate(gcs_importers, backend="tekton")
    fetch = plain["spec"]["pipelineSpec"]["tasks"][0]["taskSpec"]["steps"][0]
    env = {e["name"]: e for e in fetch["env"]}
    assert env["KFPT_GCS_ENDPOINT"]["value"] == "https://storage.googleapis.com"  # Google's by default
    assert "GCS_ACCESS_KEY_ID" not in env  # no Secret named: unsigned, public objects
    [signed] = translator.translate(gcs_importers, backend="tekton", gcs_credentials="gcs-hmac",
                                    gcs_endpoint="http://minio.example:9000")
    fetch = signed["spec"]["pipelineSpec"]["tasks"][0]["taskSpec"]["steps"][0]
    env = {e["name"]: e for e in fetch["env"]}
    assert env["KFPT_GCS_ENDPOINT"]["value"] == "http://minio.example:9000"
    assert env["GCS_ACCESS_KEY_ID"]["valueFrom"] == {"secretKeyRef": {"name": "gcs-hmac", "key": "GCS_ACCESS_KEY_ID"}}
    assert env["GCS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "GCS_SECRET_ACCESS_KEY"
    locations = {p["value"] for t in signed["spec"]["pipelineSpec"]["tasks"] for p in t["params"]
                 if p["name"] == "data-location"}
    assert locations == {"gs://gcs-data/one/file.txt", "gs://gcs-data/one/dir", "$(params.uri)"}
    metadata = {p["value"] for t in signed["spec"]["pipelineSpec"]["tasks"] for p in t["params"]
                if p["name"] == "data-metadata"}
    assert '{"k":"v"}' in metadata


@dsl.pipeline(name="ftp-importer")
def ftp_importer():
    read_text(data=dsl.importer(artifact_uri="ftp://host/x", artifact_class=Dataset).output)


@dsl.pipeline(name="runtime-metadata")
def runtime_metadata(name: str = "n"):
    a = dsl.importer(artifact_uri="gs://b/k", artifact_class=Dataset, metadata={"name": name})
    read_text(data=a.output)


@pytest.mark.parametrize("pipeline,message", [
    (ftp_importer, "importer URI 'ftp://host/x': the scheme is not supported on Tekton (s3, minio, gs, http, https)"),
    (runtime_metadata, "task 'read-text' artifact 'data': reads the metadata of an importer built from run-time "
                       "input 'metadata', which is not supported on Tekton yet"),
])
def test_unsupported_importers_are_one_line_errors(pipeline, message, tmp_path):
    ir = tmp_path / "p.yaml"
    compiler.Compiler().compile(pipeline, str(ir))
    out = tmp_path / "out.yaml"
    proc = subprocess.run([sys.executable, "-m", "translator.cli", "--backend", "tekton", str(ir), "-o", str(out)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and not out.exists(), proc.stderr
    assert message in proc.stderr and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


@dsl.pipeline(name="constant-metadata")
def constant_metadata():
    a = dsl.importer(artifact_uri="https://example.com/x.csv", artifact_class=Dataset,
                     metadata={"rows": 3, "tag": 'q"$(x)'})
    read_text(data=a.output)


def test_importer_metadata_and_http_uri_are_data():
    [run] = translator.translate(constant_metadata, backend="tekton")
    params = {p["name"]: p["value"] for p in run["spec"]["pipelineSpec"]["tasks"][0]["params"]}
    assert params["data-location"] == "https://example.com/x.csv"
    meta = params["data-metadata"]  # spells `$(`: travels base64, exactly
    assert meta.startswith("__KFP_B64__:") and json.loads(_decode(meta)) == {"rows": 3, "tag": 'q"$(x)'}
    fetch = run["spec"]["pipelineSpec"]["tasks"][0]["taskSpec"]["steps"][0]
    assert "KFPT_GCS_ENDPOINT" not in {e["name"] for e in fetch["env"]}  # an http URL needs no GCS settings


def test_gcs_endpoint_must_be_a_url(tmp_path):
    with pytest.raises(translator.TranslateError, match="--gcs-endpoint"):
        translator.translate(gcs_importers, backend="tekton", gcs_endpoint="$(params.x)")


# --- runs against MinIO (as the GCS endpoint) and a loopback web server ---------------------

@pytest.fixture
def gcs(tmp_path, minio):
    """A 'gcs-data' bucket on MinIO holding a file and a folder; the harness environment."""
    env, bucket = step_env(tmp_path, minio)
    s3 = minio.client()
    name = "gcs-" + tmp_path.name.lower().replace("_", "-")[-30:].strip("-")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="one/file.txt", Body=WORDS[0].encode())
    s3.put_object(Bucket=name, Key="one/dir/a", Body=b"A")
    s3.put_object(Bucket=name, Key="one/dir/b", Body=WORDS[3].encode())
    return env, name, s3


def _gcs_manifest(bucket: str, endpoint: str, **kw) -> dict:
    [manifest] = translator.translate(gcs_importers, backend="tekton", enable_caching=False, gcs_endpoint=endpoint,
                                      parameters=(("uri", f"gs://{bucket}/one/dir/b"),), **kw)
    text = json.dumps(manifest).replace("gs://gcs-data/", f"gs://{bucket}/")
    return json.loads(text)


def test_gs_importers_signed_with_hmac_keys(gcs, minio, tmp_path):
    env, bucket, _ = gcs
    manifest = _gcs_manifest(bucket, minio.endpoint, gcs_credentials="gcs-hmac")
    # the Secret's keys as the kubelet would put them in the fetch step's env; the store's own
    # settings point elsewhere, so only the GCS settings can reach the objects
    run_env = dict(env, GCS_ACCESS_KEY_ID=minio.access_key, GCS_SECRET_ACCESS_KEY=minio.secret_key,
                   AWS_ACCESS_KEY_ID="not-the-store-key", AWS_ENDPOINT_URL="http://127.0.0.1:9")
    out = Harness(tmp_path / "run", run_env).run(manifest)
    logs = "\n".join(f"== {n}\n{o.logs}" for n, o in out.items())
    assert _decode(out[_task(manifest, "file")].results["Output"]) == WORDS[0], logs
    assert _decode(out[_task(manifest, "folder")].results["Output"]) == f"a=A,b={WORDS[3]}", logs
    assert _decode(out[_task(manifest, "runtime")].results["Output"]) == WORDS[3], logs  # a run-time gs:// URI
    # wrong keys: the signature is checked, the task fails with the store's message
    bad = Harness(tmp_path / "bad", dict(run_env, GCS_SECRET_ACCESS_KEY="wrong")).run(manifest)
    assert bad[_task(manifest, "file")].status == "Failed"
    assert "SignatureDoesNotMatch" in bad[_task(manifest, "file")].logs


def test_gs_importers_unsigned_read_public_objects_only(gcs, minio, tmp_path):
    env, bucket, s3 = gcs
    manifest = _gcs_manifest(bucket, minio.endpoint)
    private = Harness(tmp_path / "private", env).run(manifest)
    assert private[_task(manifest, "file")].status == "Failed"  # not public yet: unsigned is refused
    assert "AccessDenied" in private[_task(manifest, "file")].logs
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}))
    out = Harness(tmp_path / "public", env).run(manifest)
    logs = "\n".join(f"== {n}\n{o.logs}" for n, o in out.items())
    assert _decode(out[_task(manifest, "file")].results["Output"]) == WORDS[0], logs
    assert _decode(out[_task(manifest, "folder")].results["Output"]) == f"a=A,b={WORDS[3]}", logs


class _Files(http.server.BaseHTTPRequestHandler):
    files: dict = {}

    def do_GET(self):  # noqa: N802
        body = self.files.get(self.path)
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/data.txt")
            self.end_headers()
            return
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(body or b"missing")

    def log_message(self, *args):
        pass


@pytest.fixture
def web():
    _Files.files = {"/data.txt": WORDS[2].encode(), "/other.txt": WORDS[1].encode()}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_importers_download_constant_and_run_time_urls(tmp_path, minio, web):
    env, _ = step_env(tmp_path, minio)
    [manifest] = translator.translate(http_importers, backend="tekton", enable_caching=False,
                                      parameters=(("uri", f"{web}/other.txt"),))
    manifest = json.loads(json.dumps(manifest).replace("http://127.0.0.1:1/never", f"{web}/moved"))
    out = Harness(tmp_path / "run", env).run(manifest)
    logs = "\n".join(f"== {n}\n{o.logs}" for n, o in out.items())
    assert _decode(out[_task(manifest, "constant")].results["Output"]) == WORDS[2], logs  # redirect followed
    assert _decode(out[_task(manifest, "runtime")].results["Output"]) == WORDS[1], logs
    missing = json.loads(json.dumps(manifest).replace(f"{web}/moved", f"{web}/nothing-here"))
    bad = Harness(tmp_path / "bad", env).run(missing)
    assert bad[_task(manifest, "constant")].status == "Failed"  # an HTTP error fails the task


# --- container components reading lists -------------------------------------------------------

@dsl.component(base_image="python:3.12")
def word(i: int, data: Output[Dataset]) -> str:
    words = ['a$b "q"', "{{x}} 's'", "line1\nline2", "cost $$5 $(params.x)"]
    with open(data.path, "w") as f:
        f.write("content-%d" % i)
    data.metadata["i"] = i
    return words[i]


@dsl.component(base_image="python:3.12")
def number(i: int) -> int:
    return i * 10


@dsl.container_component
def echo_list(xs: list, out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="alpine:3.20", command=["sh", "-c", 'printf "%s" "$0" > "$1"'], args=[xs, out])


@dsl.container_component
def echo_text(text: str, out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="alpine:3.20", command=["sh", "-c", 'printf "<%s>" "$0" > "$1"'], args=[text, out])


READ_ALL = """
import json, sys
items = json.loads(sys.argv[1])
with open(sys.argv[2], "w") as f:
    f.write("|".join("%s:%s:%s" % (d["name"], d["metadata"].get("i"), open(d["uri"]).read()) for d in items))
"""


@dsl.container_component
def read_all(ds: Input[List[Dataset]], out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="python:3.12", command=["python3", "-c", READ_ALL], args=[ds, out])


@dsl.component(base_image="python:3.12")
def make_words() -> list:
    return ['a$b "q"', "{{x}} 's'", "line1\nline2", "cost $$5 $(params.x)"]


@dsl.pipeline(name="container-lists")
def container_lists():
    with dsl.ParallelFor(make_words().output) as item:  # a run-time list: the item picked by the shim
        echo_text(text=item).set_display_name("item")
    with dsl.ParallelFor([0, 1, 2, 3]) as i:
        w = word(i=i)
        echo_text(text=w.outputs["Output"]).set_display_name("same-loop")  # a per-iteration value of the same loop
        n = number(i=i)
    echo_list(xs=dsl.Collected(w.outputs["Output"])).set_display_name("words")
    echo_list(xs=dsl.Collected(n.output)).set_display_name("numbers")
    read_all(ds=dsl.Collected(w.outputs["data"]))


def test_container_components_reading_lists_get_kfp_texts(tmp_path, minio):
    env, _ = step_env(tmp_path, minio)
    [manifest] = translator.translate(container_lists, backend="tekton", enable_caching=False)
    tasks = {t["name"]: t for t in manifest["spec"]["pipelineSpec"]["tasks"]}
    reader = tasks[_task(manifest, "words")]
    steps = [s["name"] for s in reader["taskSpec"]["steps"]]
    assert steps == ["kfpt-inputs", "main", "kfpt-store"]
    assert reader["taskSpec"]["steps"][1]["args"][0] == "$(steps.kfpt-inputs.results.i0)"
    out = Harness(tmp_path / "run", env).run(manifest)
    logs = "\n".join(f"== {n}\n{o.logs}" for n, o in out.items())
    assert _decode(out[_task(manifest, "words")].results["out"]) == json.dumps(WORDS, separators=(",", ":")), logs
    assert _decode(out[_task(manifest, "numbers")].results["out"]) == "[0,10,20,30]", logs  # ints stay ints
    got = _decode(out["read-all"].results["out"])
    assert got == "|".join(f"ds:{i}:content-{i}" for i in range(4)), logs
    per_iteration = sorted(_decode(x.partition(":")[2]) for x in out[_task(manifest, "same-loop")].results["out"])
    assert per_iteration == sorted(f"<{w}>" for w in WORDS), logs
    items = sorted(_decode(x.partition(":")[2]) for x in out[_task(manifest, "item")].results["out"])
    assert items == sorted(f"<{w}>" for w in WORDS), logs


def test_container_list_reader_is_cached_like_any_task(tmp_path, minio):
    """With caching on, kfpt-inputs runs after the lookup and is skipped on a hit with the component."""
    [manifest] = translator.translate(container_lists, backend="tekton")
    steps = next(t for t in manifest["spec"]["pipelineSpec"]["tasks"] if t["name"] == "read-all")["taskSpec"]["steps"]
    names = [s["name"] for s in steps]
    assert names == ["kfpt-fetch", "kfpt-cache", "kfpt-inputs", "main", "kfpt-store"]
    assert steps[2]["when"] == steps[3]["when"] == [{"input": "$(steps.kfpt-cache.results.hit)", "operator": "notin",
                                                     "values": ["true"]}]


def test_container_list_texts_equal_the_argo_backends(tmp_path, minio):
    """The same pipeline through the Argo backend (run by the local Argo runner, real processes):
    the container components read the same texts on both engines."""
    from translator.runner.engine import Runner

    [workflow] = translator.translate(container_lists, backend="argo", enable_caching=False)
    argo = Runner(tmp_path / "argo").run(workflow, {})
    failed = [(n.path, n.message) for n in argo.nodes if n.phase not in ("Succeeded", "Skipped")]
    assert argo.phase == "Succeeded", failed
    env, _ = step_env(tmp_path, minio)
    [manifest] = translator.translate(container_lists, backend="tekton", enable_caching=False)
    out = Harness(tmp_path / "tekton", env).run(manifest)
    assert _decode(out[_task(manifest, "words")].results["out"]) == argo.node("words").parameters["out"]
    assert _decode(out["read-all"].results["out"]) == argo.node("read-all").parameters["out"]
    for display in ("item", "same-loop"):
        on_argo = sorted(n.parameters["out"] for n in argo.nodes if n.path.endswith("/" + display))
        assert sorted(_decode(x.partition(":")[2]) for x in out[_task(manifest, display)].results["out"]) == on_argo
    # collected ints: KFP's text is [0,10,20,30] (ints stay ints, as Python components get them);
    # Argo's aggregation (aggregatedJSONValueList) holds strings, ["0","10",...], which the Argo
    # backend's placeholder expression retypes (docs/design.md)
    assert _decode(out[_task(manifest, "numbers")].results["out"]) == "[0,10,20,30]"
    assert argo.node("numbers").parameters["out"] == "[0,10,20,30]"



@dsl.component(base_image="python:3.12")
def double(num: int) -> int:
    return 2 * num


@dsl.container_component
def add_container(nums: List[int], total: dsl.OutputPath(int)):
    """KFP's own test component (parameters_simple): jq sums the placeholder's JSON."""
    return dsl.ContainerSpec(image="jetbrainsinfra/jq", command=["sh", "-c"],
                             args=[f"set -e; mkdir -p $(dirname {total}); echo {nums} | jq add > {total}"])


@dsl.pipeline(name="jq-sum")
def jq_sum():
    with dsl.ParallelFor([1, 2, 3]) as x:
        d = double(num=x)
    add_container(nums=dsl.Collected(d.output))


def test_collected_ints_summed_by_jq(tmp_path, minio):
    """As KFP's parameters_simple: the placeholder is [2,4,6], so jq adds numbers (12); a list of
    strings would concatenate them."""
    import shutil

    if shutil.which("jq") is None:
        pytest.skip("jq (the component's own tool) is not installed here")
    env, _ = step_env(tmp_path, minio)
    [manifest] = translator.translate(jq_sum, backend="tekton", enable_caching=False)
    out = Harness(tmp_path / "run", env).run(manifest)
    assert out["add-container"].results.get("total") == "12", out["add-container"].logs
