"""The report page: one self-contained HTML document (inline CSS and SVG, no script, no request:
its Content-Security-Policy allows nothing to be fetched) for a `Run`."""
from __future__ import annotations

from html import escape
from typing import Callable

from .model import Artifact, Run, Task
from .svg import PHASE_COLOURS, colours, graph
from .views import kv_table, view

ARROW, DOT = " \u2192 ", " \u00b7 "
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self' about:; base-uri 'none'; form-action 'none'"
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#202124;max-width:1200px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:0} h3{font-size:15px;margin:14px 0 6px}
h4{font-size:14px;margin:10px 0 4px}
.phase{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;vertical-align:middle}
.meta{color:#5f6368;font-size:13px;margin:2px 0}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border:1px solid #dadce0;padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#f1f3f4}
td{white-space:pre-wrap;word-break:break-word;max-width:640px}
section.task{border:1px solid #dadce0;border-radius:8px;padding:12px 16px;margin:14px 0}
.graph-box{overflow-x:auto;border:1px solid #dadce0;border-radius:8px;padding:8px;margin:12px 0}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:4px;vertical-align:-1px}
table.confusion-matrix td.cm-cell{min-width:64px;height:40px;text-align:center;vertical-align:middle;font-weight:600;white-space:nowrap}
table.confusion-matrix caption{caption-side:top;text-align:left;font-size:12px;color:#5f6368;padding-bottom:4px}
iframe.html-artifact{width:100%;height:360px;border:1px solid #dadce0;border-radius:4px;background:#fff}
.markdown{border-left:3px solid #dadce0;padding-left:12px}
.artifact{margin:8px 0 14px} .uri{font-family:monospace;font-size:12px;color:#5f6368;word-break:break-all}
.unreadable{color:#a50e0e}
"""


def _badge(phase: str) -> str:
    return f'<span class="phase" style="background:{colours(phase)[1]}">{escape(phase)}</span>'


def _artifact(art: Artifact, read_artifact: Callable[[str], bytes], output: bool) -> str:
    schema = f' <span class="meta">({escape(art.schema)})</span>' if art.schema else ""
    uri = f'<div class="uri">{escape(art.uri)}</div>' if art.uri else ""
    body = view(art, read_artifact) if output else kv_table(art.metadata, "metadata")
    return (f'<div class="artifact" data-artifact="{escape(art.name, quote=True)}" data-schema="{escape(art.schema, quote=True)}">'
            f"<h4>{escape(art.name)}{schema}</h4>{uri}{body}</div>")


def _task(task: Task, read_artifact: Callable[[str], bytes]) -> str:
    times = ARROW.join(t for t in (task.started, task.finished) if t)
    parts = [f'<section class="task" id="task-{escape(task.id, quote=True)}" data-task="{escape(task.name, quote=True)}" '
             f'data-phase="{escape(task.phase, quote=True)}"><h2>{escape(task.name)} {_badge(task.phase)}'
             f'{" <span class=meta>(cached)</span>" if task.cached else ""}</h2>',
             f'<p class="meta">{escape(task.kind)}{(DOT + "template " + escape(task.template)) if task.template else ""}'
             f'{(DOT + escape(times)) if times else ""}</p>']
    if task.message:
        parts.append(f'<p class="message">{escape(task.message)}</p>')
    if task.inputs:
        parts.append("<h3>Inputs</h3>" + kv_table(task.inputs, "inputs", ("parameter", "value")))
    if task.input_artifacts:
        parts.append("<h3>Input artifacts</h3>" + "".join(_artifact(a, read_artifact, False) for a in task.input_artifacts))
    if task.outputs:
        parts.append("<h3>Outputs</h3>" + kv_table(task.outputs, "outputs", ("parameter", "value")))
    if task.artifacts:
        parts.append("<h3>Output artifacts</h3>" + "".join(_artifact(a, read_artifact, True) for a in task.artifacts))
    parts.append("</section>")
    return "".join(parts)


def render(run: Run, read_artifact: Callable[[str], bytes]) -> str:
    legend = "".join(f'<span><i style="background:{stroke}"></i>{escape(phase)}</span>'
                     for phase, (_, stroke) in PHASE_COLOURS.items())
    picture = graph([(t.id, t.name, t.phase, t.kind, t.cached) for t in run.tasks], run.edges)
    times = ARROW.join(t for t in (run.started, run.finished) if t)
    head = (f'<h1>{escape(run.name)} {_badge(run.phase)}</h1><p class="meta">{escape(run.engine)} run'
            f'{(DOT + escape(times)) if times else ""}</p>')
    if run.message:
        head += f'<p class="message">{escape(run.message)}</p>'
    params = ("<h3>Run parameters</h3>" + kv_table(run.parameters, "run-parameters", ("parameter", "value"))) if run.parameters else ""
    tasks = "".join(_task(t, read_artifact) for t in run.tasks)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<title>{escape(run.name)}: {escape(run.phase)}</title><style>{STYLE}</style></head><body>"
            f'<header>{head}</header>{params}<h3>Graph</h3><div class="legend">{legend}</div>'
            f'<div class="graph-box">{picture}</div><main>{tasks}</main></body></html>\n')
