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


_NONE = m.ArchiveStrategy(none=m.NoneStrategy())
_HOW = ("name the repository's bucket with --artifact-bucket, or give a complete location with "
        "--importer-s3-endpoint HOST:PORT and --importer-s3-secret NAME")


def _complete_s3(options, bucket: str, key: str) -> m.S3Artifact:
    """A location Argo uses as it is (endpoint, bucket and key set: `S3Artifact.HasLocation`)."""
    secret = options.importer_s3_secret
    return m.S3Artifact(
        endpoint=options.importer_s3_endpoint, bucket=bucket, key=key,
        insecure=True if options.importer_s3_insecure else None,
        access_key_secret=m.SecretKeySelector(name=secret, key="accesskey") if secret else None,
        secret_key_secret=m.SecretKeySelector(name=secret, key="secretkey") if secret else None,
    )


def importer_artifact(uri: str, metadata: str, element: str, options) -> _Importer:
    """A constant URI: the consumer's input artifact points straight at it (no pod).

    An S3 location without an endpoint is incomplete for Argo: it copies the artifact
    repository's location over it and keeps only the key (ArtifactLocation.Relocate), so
    `s3://other-bucket/k` would read `k` in the repository's bucket. Such a URI is key-only
    when it is inside the repository, complete when an endpoint is given, refused otherwise."""
    scheme, _, rest = uri.partition("://")
    bucket, _, key = rest.partition("/")
    if scheme in ("s3", "minio"):
        if not bucket or not key:
            raise TranslateError(f"importer URI {uri!r} has no bucket or no key", element=element)
        if options.artifact_bucket and bucket == options.artifact_bucket:
            s3 = m.S3Artifact(key=key)
        elif options.importer_s3_endpoint:
            s3 = _complete_s3(options, bucket, key)
        else:
            raise TranslateError(f"importer URI {uri!r} may be outside the artifact repository, and Argo would "
                                 f"then read key {key!r} from the repository's bucket instead; {_HOW}", element=element)
        art = m.Artifact(name="x", s3=s3, archive=_NONE)
    elif scheme == "gs":  # bucket and key: complete for Argo (GCSArtifact.HasLocation)
        if not bucket or not key:
            raise TranslateError(f"importer URI {uri!r} has no bucket or no key", element=element)
        art = m.Artifact(name="x", gcs=m.GCSArtifact(bucket=bucket, key=key), archive=_NONE)
    elif scheme in ("http", "https"):  # a URL: complete (HTTPArtifact.HasLocation)
        art = m.Artifact(name="x", http=m.HTTPArtifact(url=uri), archive=_NONE)
    else:
        raise TranslateError(f"importer URI scheme '{scheme}' is not supported (s3, minio, gs, http, https)", element=element)
    return _Importer(art, metadata, "uri:" + uri)


def dynamic_importer_artifact(accessor: str, value: str, metadata: str, options, element: str) -> _Importer:
    """A URI chosen at run time (`s3://bucket/key` or `minio://...`): Argo splits it into the
    bucket and key of an S3 artifact. With an importer endpoint the location is complete; with
    only the repository's bucket it is key-only and a URI in another bucket (or with another
    scheme) gets a key that names the refusal, so Argo fails to find it instead of reading
    another object; with neither, it is refused here."""
    if not options.importer_s3_endpoint and not options.artifact_bucket:
        raise TranslateError("importer URI chosen at run time may be outside the artifact repository, and Argo "
                             f"would then read its key from the repository's bucket instead; {_HOW}", element=element)
    q = json.dumps
    bucket = '{{=sprig.regexReplaceAll("^[a-z0-9]+://([^/]*)/?.*$", %s, "${1}")}}' % accessor
    key = 'sprig.regexReplaceAll("^[a-z0-9]+://[^/]*/?", %s, "")' % accessor
    if options.importer_s3_endpoint:  # any bucket: the location is complete
        prefixes = ["s3://", "minio://"]
    else:  # key-only: only URIs inside the repository's bucket
        prefixes = [f"s3://{options.artifact_bucket}/", f"minio://{options.artifact_bucket}/"]
    accepted = " || ".join(f"sprig.hasPrefix({q(p)}, {accessor})" for p in prefixes)
    # a valid object name (no "//", no ":") that says why, for Argo's "key not found" message
    refused = '"kfp-translate-refused/importer-uri-outside-the-artifact-repository/" + sprig.replace("://", "/", %s)' % accessor
    guarded = "{{=(%s) ? %s : %s}}" % (accepted, key, refused)
    s3 = _complete_s3(options, bucket, guarded) if options.importer_s3_endpoint else m.S3Artifact(key=guarded)
    return _Importer(m.Artifact(name="x", s3=s3, archive=_NONE), metadata, "uri:" + value)


class ImporterMixin:
    def importer(self, task: g.Task) -> _Importer:
        impl = task.component.impl
        assert isinstance(impl, g.ImporterImpl)
        where = self._where(task.name)
        binding = impl.uri
        if isinstance(binding, g.FromInput):  # the importer task binds its `uri` input
            binding = task.param(binding.name) or binding
        metadata = self.importer_metadata(task, impl.metadata or {}, where)
        options = self.emitter.options
        if isinstance(binding, g.Const):
            return importer_artifact(str(binding.value), metadata, where, options)
        return dynamic_importer_artifact(self.accessor(binding, where), self.param_value(binding, g.STRING, where, task),
                                         metadata, options, where)

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

