"""Artifact stores for the local runner: the same keys Argo writes to its S3 repository.

`S3Store` talks to any S3-compatible endpoint with boto3 (by default a loopback server the
runner starts); `DirStore` keeps objects in a directory, for runs that need no server. A key
names a single object (a file) or, like Argo with `archive: none`, a prefix (a directory).
With a `mirror` directory, `S3Store` also keeps a local copy of what it uploads: the embedded
server lives as long as one run, and a later run's cache hits need those objects back (`ensure`).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path


class StoreError(Exception):
    pass


def _copy(source: Path, target: Path) -> None:
    """A file or a whole directory, as Argo's `archive: none` stores either."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copyfile(source, target)


class DirStore:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not str(path).startswith(str(self.root.resolve()) + os.sep):
            raise StoreError(f"artifact key {key!r} escapes the store")
        return path

    def put(self, key: str, source: Path) -> None:
        target = self._path(key)
        if target.exists():
            raise StoreError(f"artifact key {key!r} already exists: keys must be unique per run, task and retry")
        _copy(source, target)

    def get(self, key: str, target: Path) -> None:
        source = self._path(key)
        if not source.exists():
            raise StoreError(f"artifact key {key!r} not found")
        _copy(source, target)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()


class S3Store:
    def __init__(self, endpoint: str, bucket: str, access_key: str = "test", secret_key: str = "test",
                 region: str = "us-east-1", mirror: Path | None = None, create: bool = True):
        import boto3

        self.bucket = bucket
        self.endpoint = endpoint
        self.mirror = DirStore(mirror) if mirror is not None else None
        self.client = boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
            region_name=region,
        )
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=bucket)
        except ClientError:
            if not create:
                raise StoreError(f"S3 endpoint {endpoint}: bucket {bucket!r} cannot be read") from None
            try:
                self.client.create_bucket(Bucket=bucket)
            except (BotoCoreError, ClientError) as exc:
                raise StoreError(f"S3 endpoint {endpoint}: cannot create bucket {bucket!r}: {exc}") from None
        except BotoCoreError as exc:  # unreachable, bad URL, ...: one line, no traceback
            raise StoreError(f"S3 endpoint {endpoint} is not reachable: {exc}") from None

    def _keys(self, key: str) -> list[str]:
        """The object `key` itself, or the objects under the prefix `key/` (never `key2...`)."""
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=key):
            keys.extend(obj["Key"] for obj in page.get("Contents", []) if obj["Key"] == key or obj["Key"].startswith(key + "/"))
        return keys

    def exists(self, key: str) -> bool:
        return bool(self._keys(key))

    def put(self, key: str, source: Path) -> None:
        if self.exists(key):
            raise StoreError(f"artifact key {key!r} already exists: keys must be unique per run, task and retry")
        self._upload(key, source)
        if self.mirror is not None and not self.mirror.exists(key):
            self.mirror.put(key, source)

    def ensure(self, key: str) -> bool:
        """Whether the store holds `key`, restoring it from the mirror when the server lost it."""
        if self.exists(key):
            return True
        if self.mirror is None or not self.mirror.exists(key):
            return False
        self._upload(key, self.mirror._path(key))
        return True

    def _upload(self, key: str, source: Path) -> None:
        if source.is_dir():
            for path in sorted(source.rglob("*")):
                if path.is_file():
                    self.client.upload_file(str(path), self.bucket, f"{key}/{path.relative_to(source).as_posix()}")
        else:
            self.client.upload_file(str(source), self.bucket, key)

    def get(self, key: str, target: Path) -> None:
        keys = self._keys(key)
        if not keys:
            raise StoreError(f"artifact key {key!r} not found")
        target.parent.mkdir(parents=True, exist_ok=True)
        if keys == [key]:
            self.client.download_file(self.bucket, key, str(target))
            return
        for k in keys:  # a prefix: a directory, as Argo's S3 driver loads it
            if not k.startswith(key + "/"):
                continue
            dest = target / k[len(key) + 1 :]
            dest.parent.mkdir(parents=True, exist_ok=True)
            self.client.download_file(self.bucket, k, str(dest))
