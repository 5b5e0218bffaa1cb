"""Importers make no pod: the consumer's input artifact points at the URI (a constant one
straight, a run-time one split by Argo), metadata may be built by Argo from task inputs.

Mixed into dag._Scope; `self` is that scope.
"""
from __future__ import annotations

import json
import re

from hera.workflows import models as m

from translator import graph as g
from translator.errors import TranslateError

from dataclasses import dataclass


@dataclass
class _Importer:
    """What a pod-less importer task provides to its consumers."""

    artifact: m.Artifact  # a location (s3/gcs/http), without name
    metadata: str
    digest: str


_PLACEHOLDER_ONLY = re.compile(r"""^\{\{\$\.inputs\.parameters\[['"]([^'"]+)['"]\]\}\}$""")


def importer_artifact(uri: str, metadata: str, element: str) -> _Importer:
    """A constant URI: the consumer's input artifact points straight at it (no pod)."""
    scheme, _, rest = uri.partition("://")
    bucket, _, key = rest.partition("/")
    if scheme in ("s3", "minio"):
        art = m.Artifact(name="x", s3=m.S3Artifact(bucket=bucket, key=key), archive=m.ArchiveStrategy(none=m.NoneStrategy()))
    elif scheme == "gs":
        art = m.Artifact(name="x", gcs=m.GCSArtifact(bucket=bucket, key=key), archive=m.ArchiveStrategy(none=m.NoneStrategy()))
    elif scheme in ("http", "https"):
        art = m.Artifact(name="x", http=m.HTTPArtifact(url=uri), archive=m.ArchiveStrategy(none=m.NoneStrategy()))
    else:
        raise TranslateError(f"importer URI scheme '{scheme}' is not supported (s3, minio, gs, http, https)", element=element)
    return _Importer(art, metadata, "uri:" + uri)


def dynamic_importer_artifact(accessor: str, value: str, metadata: str) -> _Importer:
    """A URI chosen at run time (`s3://bucket/key` or `minio://...`): Argo splits it into the
    bucket and key of an S3 artifact; credentials and endpoint come from the repository."""
    bucket = '{{=sprig.regexReplaceAll("^[a-z0-9]+://([^/]*)/?.*$", %s, "${1}")}}' % accessor
    key = '{{=sprig.regexReplaceAll("^[a-z0-9]+://[^/]*/?", %s, "")}}' % accessor
    return _Importer(m.Artifact(name="x", s3=m.S3Artifact(bucket=bucket, key=key), archive=m.ArchiveStrategy(none=m.NoneStrategy())), metadata, "uri:" + value)


class ImporterMixin:
    def importer(self, task: g.Task) -> _Importer:
        impl = task.component.impl
        assert isinstance(impl, g.ImporterImpl)
        where = self._where(task.name)
        binding = impl.uri
        if isinstance(binding, g.FromInput):  # the importer task binds its `uri` input
            binding = task.param(binding.name) or binding
        metadata = self.importer_metadata(task, impl.metadata or {}, where)
        if isinstance(binding, g.Const):
            return importer_artifact(str(binding.value), metadata, where)
        return dynamic_importer_artifact(self.accessor(binding, where), self.param_value(binding, g.STRING, where, task), metadata)

    def importer_metadata(self, task: g.Task, metadata: dict, where: str) -> str:
        """Importer metadata; values that are placeholders of the importer's inputs become Argo
        values (an expression building the JSON object)."""
        text = json.dumps(metadata, sort_keys=True, separators=(",", ":"))
        if "{{" not in text:
            return text
        def text(value: str) -> str:
            """A string with placeholders as an expression: literal pieces joined with values."""
            pieces = []
            for piece in re.split(r"(\{\{\$[^{}]*\}\})", value):
                if not piece:
                    continue
                match = _PLACEHOLDER_ONLY.match(piece)
                if match is None:
                    if "{{" in piece:
                        raise TranslateError(f"importer metadata value {value!r} is not supported", element=where)
                    pieces.append(json.dumps(piece))
                    continue
                bound = task.param(match.group(1))
                if bound is None:
                    raise TranslateError(f"importer metadata reads '{match.group(1)}', which the task does not receive", element=where)
                pieces.append(self.accessor(bound, where))
            return "(%s)" % " + ".join(pieces or ['""'])

        def build(value: object) -> str:
            if isinstance(value, dict):
                if any("{{" in key for key in value):  # keys chosen at run time
                    return "sprig.dict(%s)" % ", ".join(f"{text(k)}, {build(v)}" for k, v in sorted(value.items()))
                return "{%s }" % ", ".join(f"{json.dumps(k)}: {build(v)}" for k, v in sorted(value.items()))
            if isinstance(value, list):
                return "[%s]" % ", ".join(build(v) for v in value)
            if not isinstance(value, str) or "{{" not in value:
                return json.dumps(value)
            return text(value)

        return "{{=toJson(%s)}}" % build(metadata)

