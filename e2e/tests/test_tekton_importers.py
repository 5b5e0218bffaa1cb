"""Importers beyond S3 and container components reading lists, on the real Tekton controller
(docs/tekton.md, "Importers" and "Container components reading lists"): a gs:// importer read
through the S3-compatible XML API of the cluster's MinIO (standing in for Google Cloud Storage's,
the same protocol) signed with HMAC keys from a Secret, an http:// importer from the loopback data
server, a run-time gs:// URI, and container components reading a loop's values, dsl.Collected
parameters and a list of artifacts (the kfpt-inputs step and Tekton's step results). The
pipelines are tests/test_tekton_importers.py's."""
from __future__ import annotations

import json
import uuid

from kubernetes import client
from kubernetes.client.rest import ApiException

import translator
from tests import test_tekton_importers as local

BUCKET = "kfpt-gcs-e2e"
SECRET = "kfpt-gcs-hmac"


def _results(cluster, name: str) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for tr in cluster.taskruns(name):
        task = tr["metadata"]["labels"]["tekton.dev/pipelineTask"]
        out.setdefault(task, []).append({r["name"]: r["value"] for r in tr.get("status", {}).get("results", [])})
    return out


def _succeeded(pr: dict) -> bool:
    return next(c for c in pr["status"]["conditions"] if c["type"] == "Succeeded")["status"] == "True"


def _gcs_setup(cluster) -> None:
    s3 = cluster.s3_client()
    try:
        s3.create_bucket(Bucket=BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    s3.put_object(Bucket=BUCKET, Key="one/file.txt", Body=local.WORDS[0].encode())
    s3.put_object(Bucket=BUCKET, Key="one/dir/a", Body=b"A")
    s3.put_object(Bucket=BUCKET, Key="one/dir/b", Body=local.WORDS[3].encode())
    secret = client.V1Secret(metadata=client.V1ObjectMeta(name=SECRET), string_data={
        "GCS_ACCESS_KEY_ID": cluster.s3["access_key"], "GCS_SECRET_ACCESS_KEY": cluster.s3["secret_key"]})
    try:
        cluster.core.create_namespaced_secret(cluster.namespace, secret)
    except ApiException as exc:
        if exc.status != 409:
            raise
        cluster.core.replace_namespaced_secret(SECRET, cluster.namespace, secret)


def test_importers_and_container_lists_on_the_real_controller(cluster, data_server):
    _gcs_setup(cluster)
    [gcs] = translator.translate(local.gcs_importers, backend="tekton", namespace=cluster.namespace,
                                 enable_caching=False, gcs_credentials=SECRET, gcs_endpoint=cluster.s3["endpoint"],
                                 parameters=(("uri", f"gs://{BUCKET}/one/dir/b"),))
    gcs = json.loads(json.dumps(gcs).replace("gs://gcs-data/", f"gs://{BUCKET}/"))
    [web] = translator.translate(local.http_importers, backend="tekton", namespace=cluster.namespace,
                                 enable_caching=False, parameters=(("uri", f"{data_server}/count/{uuid.uuid4().hex}"),))
    web = json.loads(json.dumps(web).replace("http://127.0.0.1:1/never", f"{data_server}/small.csv"))
    [lists] = translator.translate(local.container_lists, backend="tekton", namespace=cluster.namespace,
                                   enable_caching=False)
    names = {key: cluster.create(m)["metadata"]["name"] for key, m in (("gcs", gcs), ("web", web), ("lists", lists))}
    runs = {key: cluster.wait_pipelinerun(name, timeout=900) for key, name in names.items()}
    assert all(_succeeded(pr) for pr in runs.values()), {k: pr["status"].get("conditions") for k, pr in runs.items()}

    got = _results(cluster, names["gcs"])
    by_display = {local._task(gcs, d): d for d in ("file", "folder", "runtime")}
    values = {by_display[t]: local._decode(r[0]["Output"]) for t, r in got.items()}
    assert values == {"file": local.WORDS[0], "folder": f"a=A,b={local.WORDS[3]}", "runtime": local.WORDS[3]}

    got = _results(cluster, names["web"])
    assert local._decode(got[local._task(web, "constant")][0]["Output"]) == "a,b\n1,2\n"
    assert local._decode(got[local._task(web, "runtime")][0]["Output"]) == "1"  # the first GET of that counter

    got = _results(cluster, names["lists"])
    words = json.dumps(local.WORDS, separators=(",", ":"))
    assert local._decode(got[local._task(lists, "words")][0]["out"]) == words
    assert local._decode(got[local._task(lists, "numbers")][0]["out"]) == "[0,10,20,30]"
    assert local._decode(got["read-all"][0]["out"]) == "|".join(f"ds:{i}:content-{i}" for i in range(4))
    echoed = sorted(local._decode(r["out"].partition(":")[2]) for r in got[local._task(lists, "same-loop")])
    assert echoed == sorted(f"<{w}>" for w in local.WORDS)
    items = sorted(local._decode(r["out"].partition(":")[2]) for r in got[local._task(lists, "item")])
    assert items == sorted(f"<{w}>" for w in local.WORDS)
