"""SVG pictures of the report: the run's graph with phases coloured, and ROC curves. Inline SVG,
no script: what a browser shows without running anything. Every text is escaped."""
from __future__ import annotations

from html import escape

# fill, stroke per phase (the stroke also colours the legend and the phase badges)
PHASE_COLOURS = {
    "Succeeded": ("#e6f4ea", "#1e8e3e"),
    "Failed": ("#fce8e6", "#d93025"),
    "Error": ("#fce8e6", "#a50e0e"),
    "Skipped": ("#f1f3f4", "#80868b"),
    "Omitted": ("#f1f3f4", "#80868b"),
    "Running": ("#e8f0fe", "#1a73e8"),
    "Pending": ("#fef7e0", "#b06000"),
}
OTHER = ("#ffffff", "#5f6368")
BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 190, 40, 28, 46, 16


def colours(phase: str) -> tuple[str, str]:
    return PHASE_COLOURS.get(phase, OTHER)


def _layers(ids: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering (a node sits one row below its lowest parent), in topological order:
    linear in nodes and edges. A node on a cycle (an engine never reports one) stays in row 0."""
    layer = {i: 0 for i in ids}
    children: dict[str, list[str]] = {i: [] for i in ids}
    waiting = {i: 0 for i in ids}
    for a, b in edges:
        children[a].append(b)
        waiting[b] += 1
    ready = [i for i in ids if waiting[i] == 0]
    while ready:
        a = ready.pop()
        for b in children[a]:
            layer[b] = max(layer[b], layer[a] + 1)
            waiting[b] -= 1
            if waiting[b] == 0:
                ready.append(b)
    return layer


def layout(ids: list[str], edges: list[tuple[str, str]]) -> dict[str, tuple[int, int]]:
    """Top-left corner of each node's box: rows by layer, each row ordered by its parents' places."""
    known = set(ids)
    edges = [(a, b) for a, b in edges if a in known and b in known]
    layer = _layers(ids, edges)
    order = {i: k for k, i in enumerate(ids)}
    parents: dict[str, list[str]] = {i: [] for i in ids}
    for a, b in edges:
        parents[b].append(a)
    rows: dict[int, list[str]] = {}
    for i in ids:
        rows.setdefault(layer[i], []).append(i)
    place: dict[str, float] = {}

    def where(i: str) -> tuple[float, int]:
        placed = [place[p] for p in parents[i] if p in place]
        return (sum(placed) / len(placed) if placed else order[i], order[i])

    for depth in sorted(rows):
        rows[depth].sort(key=where)
        for k, i in enumerate(rows[depth]):
            place[i] = k
    width = max((len(r) for r in rows.values()), default=1)
    pos = {}
    for depth, row in rows.items():
        offset = (width - len(row)) * (BOX_W + GAP_X) / 2
        for k, i in enumerate(row):
            pos[i] = (int(MARGIN + offset + k * (BOX_W + GAP_X)), MARGIN + depth * (BOX_H + GAP_Y))
    return pos


def _short(text: str, n: int = 26) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def graph(nodes: list[tuple[str, str, str, str, bool]], edges: list[tuple[str, str]]) -> str:
    """nodes: (id, label, phase, kind, cached). Each box links to the task's section."""
    ids = [n[0] for n in nodes]
    pos = layout(ids, edges)
    width = max((x for x, _ in pos.values()), default=0) + BOX_W + MARGIN
    height = max((y for _, y in pos.values()), default=0) + BOX_H + MARGIN
    parts = [f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="run graph">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#9aa0a6"/></marker></defs>']
    for a, b in edges:
        if a in pos and b in pos:
            (x1, y1), (x2, y2) = pos[a], pos[b]
            sx, sy, ex, ey = x1 + BOX_W // 2, y1 + BOX_H, x2 + BOX_W // 2, y2
            my = (sy + ey) // 2
            parts.append(f'<path class="edge" d="M{sx},{sy} C{sx},{my} {ex},{my} {ex},{ey - 2}" fill="none" '
                         f'stroke="#9aa0a6" stroke-width="1.5" marker-end="url(#arrow)"/>')
    for ident, label, phase, kind, cached in nodes:
        x, y = pos[ident]
        fill, stroke = colours(phase)
        dash = ' stroke-dasharray="5 3"' if kind in ("DAG", "TaskGroup", "Skipped") else ""
        note = " (cached)" if cached else ""
        parts.append(
            f'<a href="#task-{escape(ident, quote=True)}"><g class="node" data-task="{escape(label, quote=True)}" '
            f'data-phase="{escape(phase, quote=True)}"><title>{escape(label)}: {escape(phase)}{note}</title>'
            f'<rect class="box" x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="1.5"{dash}/><rect x="{x}" y="{y}" width="6" height="{BOX_H}" rx="2" fill="{stroke}"/>'
            f'<text x="{x + 14}" y="{y + 17}" font-size="13" fill="#202124">{escape(_short(label))}</text>'
            f'<text x="{x + 14}" y="{y + 32}" font-size="11" fill="{stroke}">{escape(phase)}{note}</text></g></a>')
    parts.append("</svg>")
    return "".join(parts)


def roc(points: list[tuple[float, float, float | None]]) -> str:
    """An ROC curve: points (false positive rate, true positive rate, threshold) on the unit square."""
    size, pad = 300, 44
    pts = sorted((p for p in points if _finite(p[0]) and _finite(p[1])), key=lambda p: (p[0], p[1]))

    def xy(fpr: float, tpr: float) -> tuple[float, float]:
        fpr, tpr = min(max(fpr, 0.0), 1.0), min(max(tpr, 0.0), 1.0)
        return round(pad + fpr * size, 2), round(pad + (1 - tpr) * size, 2)

    total = size + 2 * pad
    parts = [f'<svg class="roc" xmlns="http://www.w3.org/2000/svg" width="{total}" height="{total}" '
             f'viewBox="0 0 {total} {total}" role="img" aria-label="ROC curve">',
             f'<rect x="{pad}" y="{pad}" width="{size}" height="{size}" fill="#fff" stroke="#5f6368"/>']
    for k in range(5):
        t = k / 4
        x, y = xy(t, t)
        parts.append(f'<line x1="{x}" y1="{pad}" x2="{x}" y2="{pad + size}" stroke="#e8eaed"/>'
                     f'<line x1="{pad}" y1="{y}" x2="{pad + size}" y2="{y}" stroke="#e8eaed"/>'
                     f'<text x="{x}" y="{pad + size + 16}" font-size="11" text-anchor="middle">{t:g}</text>'
                     f'<text x="{pad - 6}" y="{y + 4}" font-size="11" text-anchor="end">{t:g}</text>')
    parts.append(f'<line class="chance" x1="{pad}" y1="{pad + size}" x2="{pad + size}" y2="{pad}" '
                 'stroke="#9aa0a6" stroke-dasharray="4 4"/>')
    line = " ".join(f"{x},{y}" for x, y in (xy(f, t) for f, t, _ in pts))
    if pts:
        parts.append(f'<polyline class="curve" points="{line}" fill="none" stroke="#1a73e8" stroke-width="2"/>')
    for f, t, threshold in pts:
        x, y = xy(f, t)
        label = f"fpr {f:g}, tpr {t:g}" + (f", threshold {threshold:g}" if _finite(threshold) else "")
        parts.append(f'<circle class="point" cx="{x}" cy="{y}" r="3" fill="#1a73e8" data-fpr="{f!r}" '
                     f'data-tpr="{t!r}"><title>{escape(label)}</title></circle>')
    parts.append(f'<text x="{pad + size / 2}" y="{total - 6}" font-size="12" text-anchor="middle">False positive rate</text>'
                 f'<text x="12" y="{pad + size / 2}" font-size="12" text-anchor="middle" '
                 f'transform="rotate(-90 12 {pad + size / 2})">True positive rate</text></svg>')
    return "".join(parts)


def _finite(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")
