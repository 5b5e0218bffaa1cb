"""The e2e suite on a real cluster made by kind (pytest-kind), where Docker is there (GitHub Actions).

It cannot run on the project's own machines (no Docker engine, no registry): there the
single-machine cluster of e2e/cluster is used instead. On kind the engines are the released ones,
installed from their release manifests, and the images are pulled as on any cluster:

- Argo Workflows at the version `tools/argolint` pins (its `install.yaml`, namespace `argo`);
- Tekton Pipelines at the version e2e/cluster builds (its `release.yaml`);
- MinIO in the workflow namespace (`e2e/kind-minio.yaml`), with this project's `manifests/` pointed
  at it as the artifact repository, the memoization cache and RBAC;
- a port-forward to MinIO so the tests read artifacts from this machine (KFPT_E2E_S3_ENDPOINT).

Use: `KFPT_E2E_KIND=1 KFPT_E2E_DATA_HOST=<this machine as pods see it> pytest e2e/tests
--ignore-glob='e2e/tests/test_node_*'` (the node-agent tests are about e2e/cluster's own node; pods
on kind do not share this host's network, so the data server listens on the address pods reach:
the gateway of Docker's `kind` network). `.github/workflows/e2e.yml` runs it.
"""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any, Iterator

import yaml

from e2e.cluster import build
from e2e.cluster.up import NAMESPACE, S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, project_objects

REPO = Path(__file__).resolve().parents[1]
ARGO_INSTALL = f"https://github.com/argoproj/argo-workflows/releases/download/{build.ARGO}/install.yaml"
TEKTON_RELEASE = f"https://infra.tekton.dev/tekton-releases/pipeline/previous/{build.TEKTON}/release.yaml"
MINIO = REPO / "e2e" / "kind-minio.yaml"
S3_IN_CLUSTER = f"minio.{NAMESPACE}.svc.cluster.local:9000"


def _kubectl(kind: Any, *args: str) -> None:
    kind.kubectl(*args)


def _wait_rollouts(kind: Any, namespace: str, deployments: list[str], timeout: str = "600s") -> None:
    for name in deployments:
        _kubectl(kind, "-n", namespace, "rollout", "status", f"deployment/{name}", f"--timeout={timeout}")


def install(kind: Any, work: Path) -> None:
    """Argo, Tekton, MinIO and this project's manifests on a fresh kind cluster."""
    _kubectl(kind, "create", "namespace", NAMESPACE)
    _kubectl(kind, "create", "namespace", "argo")
    _kubectl(kind, "apply", "-n", "argo", "--server-side", "-f", ARGO_INSTALL)
    _kubectl(kind, "apply", "--server-side", "-f", TEKTON_RELEASE)
    _kubectl(kind, "apply", "-n", NAMESPACE, "-f", str(MINIO))
    objects = project_objects(S3_IN_CLUSTER)
    path = work / "kfp-translate-manifests.yaml"
    path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    _kubectl(kind, "apply", "-n", NAMESPACE, "-f", str(path))
    _kubectl(kind, "config", "set-context", "--current", f"--namespace={NAMESPACE}")
    _wait_rollouts(kind, "argo", ["workflow-controller"])
    _wait_rollouts(kind, "tekton-pipelines", ["tekton-pipelines-controller", "tekton-pipelines-webhook"])
    _wait_rollouts(kind, NAMESPACE, ["minio"])


def _make_bucket(endpoint: str) -> None:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id=S3_ACCESS_KEY, aws_secret_access_key=S3_SECRET_KEY)
    deadline = time.monotonic() + 120
    while True:
        try:
            s3.head_bucket(Bucket=S3_BUCKET)
            return
        except ClientError:
            s3.create_bucket(Bucket=S3_BUCKET)
            return
        except BotoCoreError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"MinIO on kind is not reachable at {endpoint}: {exc}") from None
            time.sleep(2)


@contextlib.contextmanager
def kind_environment(kind: Any, work: Path) -> Iterator[None]:
    """Install everything, forward MinIO to this machine, and point the harness at the cluster
    (KUBECONFIG, KFPT_E2E_S3_ENDPOINT) for the session."""
    install(kind, work)
    with kind.port_forward("service/minio", 9000, "-n", NAMESPACE) as port:
        endpoint = f"http://127.0.0.1:{port}"
        _make_bucket(endpoint)
        saved = {k: os.environ.get(k) for k in ("KUBECONFIG", "KFPT_E2E_S3_ENDPOINT")}
        os.environ["KUBECONFIG"] = str(kind.kubeconfig_path)
        os.environ["KFPT_E2E_S3_ENDPOINT"] = endpoint
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
