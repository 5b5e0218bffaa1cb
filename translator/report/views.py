"""What each KFP artifact type looks like in the report, as KFP's UI draws it: Metrics as a table,
ClassificationMetrics as a confusion matrix and an ROC curve, SlicedClassificationMetrics per
slice, Markdown rendered, HTML in a sandboxed frame. Metrics live in the artifact's metadata
(what `log_metric`, `log_confusion_matrix`, `log_roc_curve` write), Markdown and HTML in its file.

Every user value is escaped; Markdown is rendered with raw HTML off and images off (an image
would be a request to somewhere else); an HTML artifact runs in `<iframe sandbox srcdoc>`: no
scripts, no forms, its own origin, and the page's Content-Security-Policy forbids requests.
"""
from __future__ import annotations

import gzip
import io
import json
import math
import tarfile
from html import escape
from typing import Any, Callable

from .model import Artifact
from .svg import roc

MAX_FILE = 2 * 1024 * 1024  # bytes of a Markdown or HTML artifact shown (the rest is cut, and said so)
LOW, HIGH = (255, 255, 255), (31, 78, 155)  # confusion matrix: empty cell, fullest cell


def unpack(data: bytes) -> bytes:
    """An artifact's bytes as the component wrote them: Argo's default archive (tar, gzipped) is
    opened and its one file taken; raw bytes (`archive: none`, our backends) stay as they are."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            return data
    if len(data) >= 512 and data[257:262] == b"ustar":
        try:
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                files = sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name)
                if files:
                    return tar.extractfile(files[0]).read()  # type: ignore[union-attr]
        except tarfile.TarError:
            pass
    return data


def number(value: Any) -> str:
    """A metric value as KFP logged it: numbers exactly (JSON form), anything else as JSON."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return json.dumps(value)


def kv_table(values: dict[str, Any], cls: str, head: tuple[str, str] = ("name", "value")) -> str:
    if not values:
        return ""
    rows = "".join(f'<tr><th scope="row">{escape(str(k))}</th><td>{escape(number(v) if cls == "metrics" else _text(v))}</td></tr>'
                   for k, v in sorted(values.items()))
    return (f'<table class="{cls}"><thead><tr><th>{head[0]}</th><th>{head[1]}</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>")


def _text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True, ensure_ascii=False)


def cell_colour(value: float, most: float) -> tuple[int, int, int]:
    t = 0.0 if most <= 0 else max(0.0, min(1.0, value / most))
    return tuple(round(lo + (hi - lo) * t) for lo, hi in zip(LOW, HIGH))  # type: ignore[return-value]


def confusion_matrix(cm: dict[str, Any]) -> str:
    labels = [str((s or {}).get("displayName", "")) if isinstance(s, dict) else str(s) for s in cm.get("annotationSpecs") or []]
    rows = [r.get("row") if isinstance(r, dict) else r for r in cm.get("rows") or []]
    rows = [[v for v in r] for r in rows if isinstance(r, list)]
    if not rows:
        return ""
    n = max(len(labels), len(rows), max(len(r) for r in rows))
    labels += [""] * (n - len(labels))
    nums = [v for r in rows for v in r if isinstance(v, (int, float)) and not isinstance(v, bool)]
    most = max(nums, default=0)
    head = "".join(f'<th scope="col" class="pred">{escape(label)}</th>' for label in labels)
    body = []
    for i, label in enumerate(labels):
        row = rows[i] if i < len(rows) else []
        cells = []
        for j in range(n):
            v = row[j] if j < len(row) else None
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
            r, g, b = cell_colour(float(v), most) if ok else LOW
            fg = "#ffffff" if ok and most > 0 and v / most > 0.5 else "#202124"
            cells.append(f'<td class="cm-cell" data-row="{i}" data-col="{j}" style="background-color:rgb({r},{g},{b});'
                         f'color:{fg}">{escape(number(v)) if v is not None else ""}</td>')
        body.append(f'<tr><th scope="row" class="actual">{escape(label)}</th>{"".join(cells)}</tr>')
    return ('<div class="scroll"><table class="confusion-matrix">'
            "<caption>Confusion matrix (rows: actual, columns: predicted)</caption>"
            f'<thead><tr><th></th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def roc_view(readings: list[Any]) -> str:
    points = []
    for p in readings:
        if isinstance(p, dict):
            points.append((p.get("falsePositiveRate"), p.get("recall"), p.get("confidenceThreshold")))
    if not points:
        return ""
    rows = "".join(f"<tr><td>{escape(number(t))}</td><td>{escape(number(f))}</td><td>{escape(number(r))}</td></tr>"
                   for f, r, t in points)
    return (f'<figure class="roc-curve">{roc(points)}<figcaption>ROC curve</figcaption></figure>'
            '<details><summary>ROC points</summary><table class="roc-points"><thead><tr><th>threshold</th>'
            f"<th>false positive rate</th><th>true positive rate</th></tr></thead><tbody>{rows}</tbody></table></details>")


def classification(meta: dict[str, Any]) -> str:
    out = []
    if isinstance(meta.get("confusionMatrix"), dict):
        out.append(confusion_matrix(meta["confusionMatrix"]))
    if isinstance(meta.get("confidenceMetrics"), list):
        out.append(roc_view(meta["confidenceMetrics"]))
    rest = {k: v for k, v in meta.items() if k not in ("confusionMatrix", "confidenceMetrics")}
    out.append(kv_table(rest, "metadata"))
    return "".join(out)


def sliced(meta: dict[str, Any]) -> str:
    out = []
    for s in meta.get("evaluationSlices") or []:
        if not isinstance(s, dict):
            continue
        inner = s.get("sliceClassificationMetrics")
        out.append(f'<div class="slice"><h4>Slice: {escape(_text(s.get("slice", "")))}</h4>'
                   f'{classification(inner) if isinstance(inner, dict) else ""}</div>')
    rest = {k: v for k, v in meta.items() if k != "evaluationSlices"}
    return "".join(out) + kv_table(rest, "metadata")


def markdown(text: str) -> str:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").disable("image")
    return f'<div class="markdown">{md.render(text)}</div>'


def html_frame(text: str) -> str:
    return (f'<iframe class="html-artifact" sandbox="" referrerpolicy="no-referrer" title="HTML artifact" '
            f'srcdoc="{escape(text, quote=True)}"></iframe>')


def _read(art: Artifact, read_artifact: Callable[[str], bytes]) -> tuple[str | None, str]:
    """The artifact's file as text, or None and why not."""
    if not art.uri:
        return None, "no location recorded"
    try:
        data = unpack(read_artifact(art.uri))
    except Exception as exc:  # the reader is the caller's (S3, HTTP, ...): any failure is shown, not raised
        return None, f"could not read {art.uri}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    note = ""
    if len(data) > MAX_FILE:
        data, note = data[:MAX_FILE], f"first {MAX_FILE} bytes shown"
    return data.decode("utf-8", "replace"), note


def metrics_of(text: str) -> dict[str, Any] | None:
    """Metrics from a metrics file: a JSON object of name -> value, or KFP v1's
    `{"metrics": [{"name": ..., "numberValue": ...}]}`; None for anything else."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get("metrics"), list) and \
            all(isinstance(m, dict) and "name" in m for m in value["metrics"]):
        return {str(m["name"]): m.get("numberValue", m.get("value")) for m in value["metrics"]}
    return value if isinstance(value, dict) else None


def file_metrics(art: Artifact, read_artifact: Callable[[str], bytes]) -> str:
    text, note = _read(art, read_artifact)
    if text is None:
        return f'<p class="unreadable">{escape(note)}</p>'
    found = metrics_of(text)
    if found is None:
        return '<p class="unreadable">the metrics file is not a JSON object of metrics</p>'
    return kv_table(found, "metrics", ("metric", "value"))


def view(art: Artifact, read_artifact: Callable[[str], bytes]) -> str:
    """The picture of one output artifact (empty for types KFP's UI shows no picture of)."""
    meta = art.metadata
    if art.schema == "system.Metrics":
        if not meta and art.uri:  # a container component writes its metrics into the file
            return file_metrics(art, read_artifact)
        return kv_table(meta, "metrics", ("metric", "value"))
    if art.schema == "system.ClassificationMetrics":
        return classification(meta)
    if art.schema == "system.SlicedClassificationMetrics":
        return sliced(meta)
    if art.schema in ("system.Markdown", "system.HTML"):
        text, note = _read(art, read_artifact)
        shown = kv_table(meta, "metadata")
        if text is None:
            return f'<p class="unreadable">{escape(note)}</p>' + shown
        body = markdown(text) if art.schema == "system.Markdown" else html_frame(text)
        return body + (f'<p class="note">{escape(note)}</p>' if note else "") + shown
    return kv_table(meta, "metadata")
