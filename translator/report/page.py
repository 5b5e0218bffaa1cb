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
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#202124;max-width:1400px}
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
.scroll{overflow-x:auto;max-width:100%}
table.confusion-matrix th{max-width:180px;word-break:break-word;white-space:normal}
table.confusion-matrix caption{caption-side:top;text-align:left;font-size:12px;color:#5f6368;padding-bottom:4px}
iframe.html-artifact{width:100%;height:360px;border:1px solid #dadce0;border-radius:4px;background:#fff}
.markdown{border-left:3px solid #dadce0;padding-left:12px}
.top{display:flex;gap:20px;align-items:flex-start;flex-wrap:wrap}
.graph-col{flex:0 1 auto;max-width:100%} .output-col{flex:1 1 480px;min-width:0}
.artifact.visual{border:1px solid #dadce0;border-radius:8px;padding:4px 12px;margin:12px 0}
pre.message{background:#f8f9fa;border:1px solid #dadce0;border-radius:4px;padding:8px;font-size:12px;
  white-space:pre-wrap;word-break:break-word;max-height:240px;overflow:auto}
.artifact{margin:8px 0 14px} .uri{font-family:monospace;font-size:12px;color:#5f6368;word-break:break-all}
.unreadable{color:#a50e0e}
"""


VISUAL = ("system.Metrics", "system.ClassificationMetrics", "system.SlicedClassificationMetrics",
          "system.Markdown", "system.HTML")
MAX_MESSAGE = 4000


def _badge(phase: str) -> str:
    return f'<span class="phase" style="background:{colours(phase)[1]}">{escape(phase)}</span>'


def _anchor(task: Task, art: Artifact) -> str:
    return f"art-{task.id}-{art.name}"


def _visual(task: Task, art: Artifact, read_artifact: Callable[[str], bytes]) -> str:
    """One picture of the run output: the task, the artifact, what KFP's UI draws of it."""
    return (f'<div class="artifact visual" id="{escape(_anchor(task, art), quote=True)}" data-task="{escape(task.name, quote=True)}" '
            f'data-artifact="{escape(art.name, quote=True)}" data-schema="{escape(art.schema, quote=True)}">'
            f'<h4><a href="#task-{escape(task.id, quote=True)}">{escape(task.name)}</a> \u203a {escape(art.name)} '
            f'<span class="meta">({escape(art.schema)})</span></h4>{view(art, read_artifact)}</div>')


def _listed(task: Task, art: Artifact, output: bool) -> str:
    """An artifact in its task's section: type, location, metadata; pictures are in the run output."""
    schema = f' <span class="meta">({escape(art.schema)})</span>' if art.schema else ""
    uri = f'<div class="uri">{escape(art.uri)}</div>' if art.uri else ""
    if output and art.schema in VISUAL:
        body = f'<p class="meta"><a href="#{escape(_anchor(task, art), quote=True)}">shown in the run output</a></p>'
    else:
        body = kv_table(art.metadata, "metadata")
    return (f'<div class="artifact" data-artifact="{escape(art.name, quote=True)}" data-schema="{escape(art.schema, quote=True)}">'
            f"<h4>{escape(art.name)}{schema}</h4>{uri}{body}</div>")


def _task(task: Task) -> str:
    times = ARROW.join(t for t in (task.started, task.finished) if t)
    parts = [f'<section class="task" id="task-{escape(task.id, quote=True)}" data-task="{escape(task.name, quote=True)}" '
             f'data-phase="{escape(task.phase, quote=True)}"><h2>{escape(task.name)} {_badge(task.phase)}'
             f'{" <span class=meta>(cached)</span>" if task.cached else ""}</h2>',
             f'<p class="meta">{escape(task.kind)}{(DOT + "template " + escape(task.template)) if task.template else ""}'
             f'{(DOT + escape(times)) if times else ""}</p>']
    if task.message:
        text = task.message if len(task.message) <= MAX_MESSAGE else "\u2026" + task.message[-MAX_MESSAGE:]
        parts.append(f'<pre class="message">{escape(text)}</pre>')
    if task.inputs:
        parts.append("<h3>Inputs</h3>" + kv_table(task.inputs, "inputs", ("parameter", "value")))
    if task.input_artifacts:
        parts.append("<h3>Input artifacts</h3>" + "".join(_listed(task, a, False) for a in task.input_artifacts))
    if task.outputs:
        parts.append("<h3>Outputs</h3>" + kv_table(task.outputs, "outputs", ("parameter", "value")))
    if task.artifacts:
        parts.append("<h3>Output artifacts</h3>" + "".join(_listed(task, a, True) for a in task.artifacts))
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
    shown = sorted(((VISUAL.index(a.schema), i, a.name, t, a) for i, t in enumerate(run.tasks) for a in t.artifacts
                    if a.schema in VISUAL), key=lambda x: x[:3])  # metrics first, then tasks in run order
    visuals = "".join(_visual(t, a, read_artifact) for *_, t, a in shown)
    output = visuals or '<p class="meta">No metrics, Markdown or HTML artifacts.</p>'
    params = kv_table(run.parameters, "run-parameters", ("parameter", "value"))
    params = "<h3>Run parameters</h3>" + params if params else ""
    tasks = "".join(_task(t) for t in run.tasks)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<title>{escape(run.name)}: {escape(run.phase)}</title><style>{STYLE}</style></head><body>"
            f'<header>{head}</header><div class="top"><div class="graph-col"><h3>Graph</h3>'
            f'<div class="legend">{legend}</div><div class="graph-box">{picture}</div></div>'
            f'<div class="output-col" id="run-output"><h3>Run output</h3>{output}</div></div>'
            f"{params}<main>{tasks}</main></body></html>\n")
