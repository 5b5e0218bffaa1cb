"""Reading an artifact a run wrote, from the store the engine used: Argo's artifact repository
ConfigMap (and its credentials Secret), or the Tekton artifact store Secret. boto3, S3 API."""
from __future__ import annotations

import base64
from typing import Any

import yaml

from .connection import Connection
from .errors import ClientError


def _secret(conn: Connection, namespace: str, name: str) -> dict[str, str]:
    secret = conn.call(f"read Secret {name}", conn.core.read_namespaced_secret, name, namespace)
    return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}


def store(conn: Connection, engine: str, namespace: str, options: dict[str, Any]) -> dict[str, Any]:
    """boto3 client settings and the bucket of the namespace's store."""
    if engine == "tekton":
        env = _secret(conn, namespace, options.get("artifact_store", "kfp-translate-artifacts"))
        return {"endpoint_url": env.get("AWS_ENDPOINT_URL"), "region_name": env.get("AWS_DEFAULT_REGION", "us-east-1"),
                "aws_access_key_id": env.get("AWS_ACCESS_KEY_ID"), "aws_secret_access_key": env.get("AWS_SECRET_ACCESS_KEY"),
                "bucket": env.get("KFP_TRANSLATE_BUCKET")}
    cm_name, key = (options.get("artifact_repository_ref") or ("artifact-repositories", None))
    cm = conn.call("read the artifact repository", conn.core.read_namespaced_config_map, cm_name, namespace)
    key = key or (cm.metadata.annotations or {}).get("workflows.argoproj.io/default-artifact-repository", "default-v1")
    s3 = (yaml.safe_load((cm.data or {}).get(key, "")) or {}).get("s3")
    if not s3:
        raise ClientError(f"artifact repository {cm_name}:{key} is not an S3 repository", element="artifacts")
    access = _secret(conn, namespace, s3["accessKeySecret"]["name"])
    secret = _secret(conn, namespace, s3["secretKeySecret"]["name"])
    scheme = "http" if s3.get("insecure") else "https"
    return {"endpoint_url": f"{scheme}://{s3['endpoint']}", "region_name": s3.get("region") or "us-east-1",
            "aws_access_key_id": access[s3["accessKeySecret"]["key"]],
            "aws_secret_access_key": secret[s3["secretKeySecret"]["key"]], "bucket": s3.get("bucket")}


def read(conn: Connection, engine: str, namespace: str, uri: str, options: dict[str, Any]) -> bytes:
    import boto3

    if not uri.startswith("s3://"):
        raise ClientError(f"not an s3:// artifact URI: {uri!r}", element="artifact")
    bucket, _, key = uri[len("s3://"):].partition("/")
    settings = store(conn, engine, namespace, options)
    bucket = bucket or settings.pop("bucket")
    settings.pop("bucket", None)
    s3 = boto3.client("s3", **settings)
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:  # noqa: BLE001 - botocore's errors: one line
        raise ClientError(f"cannot read {uri}: {' '.join(str(exc).split())}", element="artifact") from None
