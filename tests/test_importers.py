"""Importers never read another object than the one their URI names.

An S3 location without an endpoint is incomplete for Argo (`S3Artifact.HasLocation` wants
endpoint, bucket and key): the controller copies the artifact repository's location over it and
keeps only the key (`ArtifactLocation.Relocate`), so `s3://heldout-bucket/seed/data.csv` would read
`seed/data.csv` in the repository's bucket. Constant URIs are key-only inside the repository,
complete with an importer endpoint, refused otherwise; `translate run` reads as Argo does. The
run tests use a real S3 server (MinIO, `minio` fixture).
"""
from __future__ import annotations

import pytest

import translator
from translator.cli import main as translate_main
from translator.errors import TranslateError
from translator.runner.engine import Runner
from translator.runner.kube import KubeObjects

from .pipelines import containers

HELD_OUT = "s3://heldout-bucket/seed/data.csv"


def imported(uri: str, **options) -> dict:
    [wf] = translator.translate(containers.importer_pipeline(uri), backend="argo", **options)
    [art] = [a for t in wf["spec"]["templates"] if "dag" in t for task in t["dag"]["tasks"]
             for a in (task.get("arguments") or {}).get("artifacts", [])]
    return art


@pytest.mark.parametrize("uri", [HELD_OUT, "minio://heldout-bucket/seed/data.csv"])
def test_a_bucket_outside_the_repository_is_refused_without_an_endpoint(uri, tmp_path, capsys):
    with pytest.raises(TranslateError, match="task 'importer'.*may be outside the artifact repository"):
        imported(uri)
    source = tmp_path / "p.py"
    source.write_text(f"from tests.pipelines.containers import importer_pipeline\np = importer_pipeline({uri!r})\n")
    assert translate_main(["--backend", "argo", f"{source}:p", "-o", str(tmp_path / "out.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "importer" in err and "--importer-s3-endpoint" in err
    assert not (tmp_path / "out.yaml").exists()


def test_inside_the_repository_bucket_the_location_is_key_only():
    art = imported(HELD_OUT, artifact_bucket="heldout-bucket")
    assert art["s3"] == {"key": "seed/data.csv"}


def test_with_an_importer_endpoint_the_location_is_complete():
    art = imported(HELD_OUT, importer_s3_endpoint="minio.example:9000", importer_s3_secret="held-out",
                   importer_s3_insecure=True)
    assert art["s3"] == {"endpoint": "minio.example:9000", "bucket": "heldout-bucket", "key": "seed/data.csv",
                         "insecure": True, "accessKeySecret": {"name": "held-out", "key": "accesskey"},
                         "secretKeySecret": {"name": "held-out", "key": "secretkey"}}


@pytest.mark.parametrize("uri,kind", [("gs://b/k/data.csv", "gcs"), ("https://example.com/d.csv", "http")])
def test_gcs_and_http_locations_are_complete_as_they_are(uri, kind):
    art = imported(uri)
    assert kind in art and "s3" not in art


def test_a_run_time_uri_needs_the_repository_bucket_or_an_endpoint():
    with pytest.raises(TranslateError, match="chosen at run time may be outside the artifact repository"):
        translator.translate(containers.dynamic_importer_pipeline(), backend="argo")


# --- run for real against MinIO --------------------------------------------------------------------


@pytest.fixture()
def buckets(minio, tmp_path):
    """The repository's bucket and another one, both holding `seed/data.csv` with different bytes."""
    repo = "repo-" + tmp_path.name.lower().replace("_", "-")[-30:]
    other = "held-" + tmp_path.name.lower().replace("_", "-")[-30:]
    client = minio.client()
    for bucket, text in ((repo, "repository copy"), (other, "held-out copy")):
        client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key="seed/data.csv", Body=text.encode())
    return repo, other


def test_the_runner_relocates_an_incomplete_location_into_the_repository_as_argo_does(minio, buckets, tmp_path):
    repo, other = buckets
    # A manifest as Argo sees it when a location has a bucket but no endpoint (what a hand-written
    # Workflow, or kfp-translate before this check, gives): Argo reads the repository's object.
    [wf] = translator.translate(containers.importer_pipeline(f"s3://{repo}/seed/data.csv"), backend="argo",
                                artifact_bucket=repo)
    for t in wf["spec"]["templates"]:
        for task in (t.get("dag") or {}).get("tasks", []):
            for a in (task.get("arguments") or {}).get("artifacts", []):
                a["s3"] = {"bucket": other, "key": "seed/data.csv"}
    result = Runner(tmp_path / "work", store=minio.store(repo)).run(wf)
    assert result.phase == "Succeeded", [(n.path, n.message[-300:]) for n in result.nodes]
    assert result.node("read-imported").parameters["Output"] == "repository copy|web"


def test_a_complete_location_reads_the_named_bucket_with_its_secret(minio, buckets, tmp_path):
    repo, other = buckets
    [wf] = translator.translate(containers.importer_pipeline(f"s3://{other}/seed/data.csv"), backend="argo",
                                importer_s3_endpoint=minio.address, importer_s3_secret="held-out",
                                importer_s3_insecure=True)
    objects = KubeObjects({("Secret", "held-out"): {"accesskey": minio.access_key, "secretkey": minio.secret_key}})
    result = Runner(tmp_path / "work", store=minio.store(repo), objects=objects).run(wf)
    assert result.phase == "Succeeded", [(n.path, n.message[-300:]) for n in result.nodes]
    assert result.node("read-imported").parameters["Output"] == "held-out copy|web"


@pytest.mark.parametrize("where,expected", [("repo", "repository copy|param"), ("other", None)])
def test_a_run_time_uri_outside_the_repository_fails_instead_of_reading_another_object(minio, buckets, tmp_path,
                                                                                       where, expected):
    repo, other = buckets
    [wf] = translator.translate(containers.dynamic_importer_pipeline(), backend="argo", artifact_bucket=repo)
    uri = f"s3://{repo if where == 'repo' else other}/seed/data.csv"
    result = Runner(tmp_path / "work", store=minio.store(repo)).run(wf, {"uri": uri})
    node = result.node("read-imported")
    if expected is None:
        assert result.phase != "Succeeded" and "importer-uri-outside-the-artifact-repository" in node.message
    else:
        assert node.parameters["Output"] == expected


@pytest.mark.parametrize("options", [
    {"artifact_bucket": "kfp-artifacts"},
    {"importer_s3_endpoint": "minio.argo.svc:9000", "importer_s3_secret": "held-out", "importer_s3_insecure": True},
])
def test_guarded_run_time_locations_pass_argos_own_lint(options):
    from translator import lint

    try:
        lint.build_linter()
    except lint.GoNotFoundError as exc:
        pytest.skip(f"cannot build tools/argolint: {exc}")
    manifests = translator.translate(containers.dynamic_importer_pipeline(), backend="argo",
                                     parameters=(("uri", "s3://kfp-artifacts/seed/data.csv"),), **options)
    assert lint.lint_documents(manifests) == []
