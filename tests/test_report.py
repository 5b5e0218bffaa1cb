"""The run report (`translator.report`): real runs of real pipelines (`translate run`'s runner,
artifacts in a real S3 server), their Argo Workflow objects, the report page parsed as HTML the
way a browser reads it, and the page opened in headless Chromium (what a person would see).

One run of the seed's training pipeline (examples/ml_training_pipeline.py) and one of a pipeline
with every artifact type KFP's UI draws (through `translate run --report`), shared by all tests
of this module. The seed's packages
(pandas, scikit-learn, xgboost) go into an environment kept across sessions (the runner's KFP_TRANSLATE_VENVS,
default ~/.cache/kfp-translate/run-venvs): pip installs them once per machine, not per session.
"""
from __future__ import annotations

import concurrent.futures
import html.parser
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import translator
from translator.cli import main as translate_main
from translator.report import ReportError, build_report, write_report
from translator.report.local import workflow
from translator.runner.engine import Runner

from .pipelines import reports
from .seed_data import write_seed_csv

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "examples" / "ml_training_pipeline.py"
SHOWCASE = Path(reports.__file__)
BUCKET = "report-runs"


# --- a small DOM: what the page holds, as an HTML parser reads it --------------------------------

VOID = {"meta", "br", "img", "hr", "input", "link", "col", "area", "base", "source", "wbr"}


@dataclass
class El:
    tag: str
    attrs: dict = field(default_factory=dict)
    children: list = field(default_factory=list)  # El or str
    parent: "El | None" = None

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def all(self, tag: str | None = None, **attrs) -> list["El"]:
        found = []
        for c in self.children:
            if isinstance(c, El):
                if (tag is None or c.tag == tag) and all(
                        (k == "cls" and v in (c.attrs.get("class") or "").split()) or c.attrs.get(k.replace("_", "-")) == v
                        for k, v in attrs.items()):
                    found.append(c)
                found += c.all(tag, **attrs)
        return found

    def one(self, tag: str | None = None, **attrs) -> "El":
        found = self.all(tag, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag} {attrs}>"
        return found[0]


class _Builder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = El("#document")
        self.at = self.root

    def handle_starttag(self, tag, attrs):
        el = El(tag, {k: (v if v is not None else "") for k, v in attrs}, parent=self.at)
        self.at.children.append(el)
        if tag not in VOID:
            self.at = el

    def handle_endtag(self, tag):
        node = self.at
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.at = node.parent

    def handle_data(self, data):
        self.at.children.append(data)


def dom(text: str) -> El:
    b = _Builder()
    b.feed(text)
    b.close()
    return b.root


def table_rows(table: El) -> dict[str, str]:
    rows = {}
    for tr in table.one("tbody").all("tr"):
        rows[tr.one("th").text()] = tr.one("td").text()
    return rows


def section(page: El, task: str) -> El:
    return page.one("section", data_task=task)


def picture(page: El, task: str, artifact: str) -> El:
    """An artifact's picture in the run output (beside the graph, as KFP's "Run output" tab)."""
    return page.one("div", id="run-output").one("div", cls="visual", data_task=task, data_artifact=artifact)


# --- the runs -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tracker():
    """A loopback HTTP server that records every request: the showcase's artifacts point at it."""
    hits: list[str] = []

    class Record(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Record)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


@pytest.fixture(scope="module")
def runs(minio, tracker, tmp_path_factory):
    """The seed's training pipeline (the runner's API: its Workflow object is checked too) and the
    showcase (`translate run --report --summary`, as a user runs it), each run once."""
    work = tmp_path_factory.mktemp("report-runs")
    data = write_seed_csv(work / "data.csv")  # pandas reads a path as it reads a URL
    params = {"dataset_url": str(data), "n_estimators": "20"}
    argv = ["run", f"{SHOWCASE}:showcase", "-p", f"tracker={tracker[0]}", "-p", f"marker={work / 'flaky'}",
            "--work-dir", str(work / "cli"), "--s3-endpoint", minio.endpoint, "--bucket", BUCKET, "--jobs", "1",
            "--summary", str(work / "showcase.json"), "--report", str(work / "showcase.html")]
    store = minio.store(BUCKET)  # makes the bucket, before both runs use it
    with pytest.MonkeyPatch.context() as env, concurrent.futures.ThreadPoolExecutor(1) as pool:
        env.setenv("AWS_ACCESS_KEY_ID", minio.access_key)
        env.setenv("AWS_SECRET_ACCESS_KEY", minio.secret_key)
        # compiled before the showcase's thread starts: kfp's compiler keeps the pipeline being
        # built in a global, so two compiles at once fail ("Nested pipelines are not allowed")
        [manifest] = translator.translate(str(SEED), backend="argo", artifact_bucket=BUCKET)
        showcase = pool.submit(translate_main, argv)  # beside the seed's chain of five steps
        result = Runner(work / "wd", store=store, jobs=1, venv_dir=None).run(manifest, params)
        seed = workflow(result, BUCKET, params)
        assert showcase.result() == 1  # the showcase's `check` fails on purpose
    s3 = minio.client()

    def read_artifact(uri: str) -> bytes:
        assert uri.startswith("s3://"), uri
        bucket, key = uri[len("s3://"):].split("/", 1)
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    return Runs(seed, read_artifact, work / "showcase.html", json.loads((work / "showcase.json").read_text()))


@dataclass
class Runs:
    seed: dict  # the seed run's Workflow object
    read: object  # read_artifact for the S3 server
    showcase_report: Path  # what `translate run --report` wrote
    showcase_summary: dict  # what `translate run --summary` wrote


@pytest.fixture(scope="module")
def pages(runs):
    return {"seed": build_report(runs.seed, "argo", runs.read),
            "showcase": runs.showcase_report.read_text(encoding="utf-8")}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- the seed's training pipeline ---------------------------------------------------------------

def test_seed_report_shows_phases_metrics_and_confusion_matrix(runs, pages):
    page = dom(pages["seed"])
    status = {n["displayName"]: n for n in runs.seed["status"]["nodes"].values()}
    # the graph: one box per task, coloured by its phase, with Argo's edges between them
    boxes = {g.attrs["data-task"]: g.attrs["data-phase"] for g in page.all("g", cls="node")}
    for task in ("load-data", "preprocess-data", "train-model", "evaluate-model", "deploy-model"):
        assert boxes[task] == "Succeeded" == status[task]["phase"]
        assert section(page, task).attrs["data-phase"] == "Succeeded"
    # each task below the one it runs after (deploy-model runs inside the condition's group)
    tops = {g.attrs["data-task"]: int(g.one("rect", cls="box").attrs["y"]) for g in page.all("g", cls="node")}
    order = ["load-data", "preprocess-data", "train-model", "evaluate-model", "condition-1", "deploy-model"]
    assert [tops[t] for t in order] == sorted(tops[t] for t in order) and len(set(tops.values())) == 6
    # the edges are the tasks' dependencies (an edge starts at the bottom middle of a box and ends
    # at the top middle of another)
    boxes_at = {}
    for g in page.all("g", cls="node"):
        r = g.one("rect", cls="box").attrs
        x, y, w, h = (int(r[k]) for k in ("x", "y", "width", "height"))
        boxes_at[(x + w // 2, y + h)] = boxes_at[(x + w // 2, y)] = g.attrs["data-task"]
    drawn = set()
    for path in page.all("path", cls="edge"):
        numbers = [int(float(v)) for v in path.attrs["d"].replace("M", " ").replace("C", " ").replace(",", " ").split()]
        drawn.add((boxes_at[(numbers[0], numbers[1])], boxes_at[(numbers[-2], numbers[-1] + 2)]))
    assert drawn == {("load-data", "preprocess-data"), ("preprocess-data", "train-model"),
                     ("preprocess-data", "evaluate-model"), ("train-model", "evaluate-model"),
                     ("train-model", "condition-1"), ("evaluate-model", "condition-1"), ("condition-1", "deploy-model")}
    # train-model's Metrics: every logged metric with its exact value
    train = section(page, "train-model")
    logged = json.loads(next(p["value"] for p in status["train-model"]["outputs"]["parameters"]
                             if p["name"] == "metrics_output-metadata"))
    shown = table_rows(picture(page, "train-model", "metrics_output").one("table", cls="metrics"))
    assert set(shown) == {"cv_accuracy_mean", "cv_accuracy_std", "n_estimators"}
    assert {k: json.loads(v) for k, v in shown.items()} == logged and logged["n_estimators"] == 20
    # inputs are the task's parameters as the user gave them
    assert table_rows(train.one("table", cls="inputs"))["n_estimators"] == "20"
    # evaluate-model's confusion matrix: its labels and cells (the 20% test split: 80 rows)
    evaluate = section(page, "evaluate-model")
    cm = picture(page, "evaluate-model", "metrics_output").one("table", cls="confusion-matrix")
    assert [th.text() for th in cm.all("th", cls="pred")] == ["Class 0", "Class 1"]
    assert [th.text() for th in cm.all("th", cls="actual")] == ["Class 0", "Class 1"]
    cells = [[int(td.text()) for td in tr.all("td")] for tr in cm.one("tbody").all("tr")]
    assert sum(map(sum, cells)) == 80 and cells[0][0] + cells[1][1] >= 68  # accuracy >= 0.85: deploy ran
    eo = table_rows(evaluate.one("table", cls="outputs"))
    assert abs(float(eo["Output"]) - (cells[0][0] + cells[1][1]) / 80) < 1e-9
    assert table_rows(picture(page, "evaluate-model", "eval_metrics").one("table", cls="metrics")) == {"test_accuracy": eo["Output"]}
    # the run's parameters as given, the task's section links to the picture
    assert table_rows(page.one("table", cls="run-parameters"))["n_estimators"] == "20"
    link = evaluate.one("div", data_artifact="metrics_output").one("a").attrs["href"]
    assert link == "#" + picture(page, "evaluate-model", "metrics_output").attrs["id"]


# --- every picture, and hostile values ----------------------------------------------------------

def test_metrics_matrix_roc_slices_markdown_html(pages):
    page = dom(pages["showcase"])
    metrics = table_rows(picture(page, "evaluate", "scores").one("table", cls="metrics"))
    assert metrics == {"accuracy": "0.875", "examples": "1200", reports.HOSTILE: "-1.5"}
    roc_art = picture(page, "evaluate", "roc")
    cm = roc_art.one("table", cls="confusion-matrix")
    assert [th.text() for th in cm.all("th", cls="pred")] == ["cat", "dog", reports.HOSTILE]
    cells = {(td.attrs["data-row"], td.attrs["data-col"]): td for td in cm.all("td", cls="cm-cell")}
    assert [[int(cells[(str(i), str(j))].text()) for j in range(3)] for i in range(3)] == [[50, 3, 1], [7, 40, 0], [2, 0, 9]]
    # darker is more: the fullest cell is the darkest, an empty one is white
    shade = {k: sum(int(x) for x in td.attrs["style"].split("rgb(")[1].split(")")[0].split(",")) for k, td in cells.items()}
    assert shade[("0", "0")] == min(shade.values()) and shade[("1", "2")] == 255 * 3
    # the ROC curve: a point per reading, a line through them in order of false positive rate
    points = [(float(c.attrs["data-fpr"]), float(c.attrs["data-tpr"])) for c in roc_art.all("circle", cls="point")]
    assert points == [(0.0, 0.0), (0.1, 0.6), (0.3, 0.9), (1.0, 1.0)]
    line = [tuple(map(float, p.split(","))) for p in roc_art.one("polyline", cls="curve").attrs["points"].split()]
    xs, ys = [x for x, _ in line], [y for _, y in line]
    assert xs == sorted(xs) and ys == sorted(ys, reverse=True) and len(line) == 4  # up and to the right
    assert (xs[1] - xs[0]) / (xs[3] - xs[0]) == pytest.approx(0.1) and (ys[0] - ys[1]) / (ys[0] - ys[3]) == pytest.approx(0.6)
    # sliced metrics: one block per slice, each with its own pictures
    sliced = picture(page, "evaluate", "sliced")
    slices = sliced.all("div", cls="slice")
    assert [s.one("h4").text() for s in slices] == ["Slice: north", "Slice: south"]
    assert [int(td.text()) for td in slices[0].all("td", cls="cm-cell")] == [11, 2, 4, 13]
    assert [c.attrs["data-tpr"] for c in slices[1].all("circle", cls="point")] == ["0.7"]
    # Markdown, rendered; its raw markup stays text, its image makes no request, its bad link is no link
    md = picture(page, "evaluate", "summary").one("div", cls="markdown")
    assert md.one("h1").text() == "Evaluation"
    assert [[td.text() for td in tr.all("td")] for tr in md.one("tbody").all("tr")] == [["accuracy", "0.875"]]
    assert reports.HOSTILE in md.text() and not md.all("script") and not md.all("img")
    assert not [a for a in md.all("a") if a.attrs.get("href", "").startswith("javascript")]
    # HTML: in a sandboxed frame (no scripts), its document in srcdoc exactly as written
    frame = picture(page, "evaluate", "page").one("iframe")
    assert frame.attrs["sandbox"] == ""
    assert frame.attrs["srcdoc"].startswith("<html><body><h1 id='inner'>Inner page</h1><script>")
    assert reports.HOSTILE in frame.attrs["srcdoc"]


def test_hostile_values_never_become_markup(pages):
    for text in pages.values():
        page = dom(text)
        assert len(page.all("script")) == 0 and len(page.all("img")) == 0  # none anywhere, ours or theirs
        assert [f.attrs.get("sandbox") for f in page.all("iframe")] in ([], [""])
    page = dom(pages["showcase"])
    assert table_rows(page.one("table", cls="run-parameters"))["note"] == reports.HOSTILE
    assert table_rows(section(page, "check").one("table", cls="inputs"))["value"] == reports.HOSTILE
    assert table_rows(section(page, "evaluate").one("table", cls="outputs"))["Output"] == reports.HOSTILE
    csp = page.one("meta", http_equiv="Content-Security-Policy").attrs["content"]
    assert "default-src 'none'" in csp and "script-src" not in csp


def test_phases_failed_red_skipped_grey(runs, pages):
    page = dom(pages["showcase"])
    assert runs.showcase_summary["phase"] == "Failed"
    assert page.one("header").one("span", cls="phase").text() == "Failed"
    check = section(page, "check")
    assert check.attrs["data-phase"] == "Failed"
    box = page.one("g", data_task="check")
    assert box.attrs["data-phase"] == "Failed" and box.one("rect", cls="box").attrs["stroke"] == "#d93025"
    assert "failing on purpose" in check.one("pre", cls="message").text()
    assert page.one("g", data_task="evaluate").attrs["data-phase"] == "Succeeded"
    # a retried task is one box and one section: its last attempt, which succeeded
    summary = {n["task"]: n for n in runs.showcase_summary["nodes"]}
    assert summary["flaky"]["phase"] == "Succeeded" and summary["check"]["phase"] == "Failed"
    assert page.one("g", data_task="flaky").attrs["data-phase"] == "Succeeded"
    assert table_rows(section(page, "flaky").one("table", cls="outputs")) == {"Output": "second attempt"}
    skipped = page.one("g", data_task="condition-1")
    assert skipped.attrs["data-phase"] == "Skipped" and skipped.one("rect", cls="box").attrs["stroke"] == "#80868b"


def test_write_report_writes_the_page_whole(runs, pages, tmp_path):
    target = tmp_path / "report.html"
    write_report(runs.seed, "argo", str(target), runs.read)
    assert target.read_text(encoding="utf-8") == pages["seed"]  # and the same text: deterministic
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    with pytest.raises(ReportError, match="a tekton run is a PipelineRun object, not 'Workflow'"):
        write_report(runs.seed, "tekton", str(tmp_path / "other.html"), runs.read)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


# --- in a browser: what a person sees ------------------------------------------------------------

def chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found is None:
        reason = "browser test needs Chromium (Debian: apt-get install -y chromium)"
        if os.environ.get("KFPT_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " and KFPT_REQUIRE_BROWSER=1")
        pytest.skip(reason)
    return found


def open_in_browser(page: Path, work: Path) -> tuple[El, dict[tuple[int, int, int], int]]:
    """The DOM after Chromium rendered the page (file://, no network needed), and how many pixels
    of each colour its screenshot (1280x2000, what a person sees first) has."""
    from PIL import Image

    profile = work / "profile"
    profile.mkdir()
    shot = work / "shot.png"
    done = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1280,2000", "--dump-dom",
         page.as_uri()], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1280, 2000)
        colours = image.convert("RGB").getcolors(maxcolors=1280 * 2000)
    return dom(done.stdout), {c: n for n, c in colours}


def rgb(style: str) -> tuple[int, int, int]:
    return tuple(int(x) for x in style.split("rgb(")[1].split(")")[0].split(","))  # type: ignore[return-value]


def test_in_chromium_the_seed_report_shows_metrics_and_confusion_matrix(runs, tmp_path):
    target = tmp_path / "report.html"
    write_report(runs.seed, "argo", str(target), runs.read)
    rendered, counts = open_in_browser(target, tmp_path)
    # what the browser built holds the metrics and the matrix
    metrics = table_rows(picture(rendered, "train-model", "metrics_output").one("table", cls="metrics"))
    assert set(metrics) == {"cv_accuracy_mean", "cv_accuracy_std", "n_estimators"} and metrics["n_estimators"] == "20"
    cells = picture(rendered, "evaluate-model", "metrics_output").all("td", cls="cm-cell")
    assert len(cells) == 4
    # the screenshot: not blank, and the matrix's cell colours are painted (each cell is 64x40 at least)
    assert len(counts) > 50 and counts.get((255, 255, 255), 0) < 0.97 * 1280 * 2000
    for cell in cells:
        colour = rgb(cell.attrs["style"])
        if colour != (255, 255, 255):
            assert counts.get(colour, 0) >= 1000, (cell.text(), colour, counts.get(colour, 0))
    # the graph's boxes are painted in the Succeeded colour
    assert counts.get((0xe6, 0xf4, 0xea), 0) >= 5 * 1000


def test_in_chromium_hostile_artifacts_run_nothing_and_fetch_nothing(runs, tracker, tmp_path):
    rendered, counts = open_in_browser(runs.showcase_report, tmp_path)
    # the HTML artifact's script would have renamed the page; Markdown's image and the frame's
    # image and stylesheet would have asked the tracker for them
    assert rendered.one("head").one("title").text().endswith(": Failed")
    assert rendered.one("head").one("title").text().startswith("report-showcase-")
    assert tracker[1] == []
    assert not rendered.all("script")
    assert table_rows(rendered.one("table", cls="run-parameters"))["note"] == reports.HOSTILE
    assert counts.get((0xd9, 0x30, 0x25), 0) >= 200  # the failed task's red (box, stripe, badge)


# --- Tekton: results as our Tekton shim writes them ---------------------------------------------

def test_tekton_results_decode_to_what_the_argo_run_gave(runs, minio, tracker, tmp_path):
    """Without a cluster (the real TaskRuns are in e2e/tests/test_report_on_engines.py): the local Tekton harness runs the
    showcase's steps and gives each task's results as Tekton would read them; the Tekton reader's
    decoding of those results must give the same metadata, values and artifacts as the Argo run."""
    from backends.tekton.names import result_name
    from translator.report.model import metadata_value
    from translator.report.tekton import PREFIX_RESULT, result_value

    from .tekton_harness import Harness, local_env

    bucket = "report-tekton"
    minio.client().create_bucket(Bucket=bucket)
    child_bin = tmp_path / "bin"
    child_bin.mkdir()
    (child_bin / "python3").write_text('#!/bin/sh\nexec "%s" "$@"\n' % sys.executable)
    (child_bin / "python3").chmod(0o755)
    env = local_env(child_bin, minio, bucket)
    env["PATH"] = f"{child_bin}:{Path(sys.executable).parent}:{env['PATH']}"
    [manifest] = translator.translate(reports.showcase, backend="tekton")
    manifest["spec"]["pipelineSpec"]["tasks"] = [t for t in manifest["spec"]["pipelineSpec"]["tasks"]
                                                 if t["name"] == "evaluate"]  # the one with every artifact
    out = Harness(tmp_path / "run", env).run(manifest, {"tracker": tracker[0]})
    evaluate = out["evaluate"]
    assert evaluate.status == "Succeeded", evaluate.logs[-3000:]
    argo = {n["task"]: n for n in runs.showcase_summary["nodes"]}["evaluate"]["outputs"]
    for name in ("scores", "roc", "sliced", "summary", "page"):
        decoded = metadata_value(result_value(evaluate.results[result_name(name + "-metadata")], False))
        assert decoded == argo["metadata"].get(name, {}), name
    assert metadata_value(result_value(evaluate.results[result_name("scores-metadata")], False))[reports.HOSTILE] == -1.5
    assert result_value(evaluate.results["Output"], False) == reports.HOSTILE == argo["parameters"]["Output"]
    key = result_value(evaluate.results[PREFIX_RESULT], False) + "/summary"
    markdown = minio.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    assert markdown == Path(argo["artifacts"]["summary"]).read_bytes()


def test_run_report_into_a_missing_folder_is_refused_before_the_run(tmp_path, capsys):
    target = tmp_path / "missing" / "report.html"
    assert translate_main(["run", f"{SHOWCASE}:showcase", "--work-dir", str(tmp_path / "wd"),
                           "--report", str(target)]) == 2
    err = capsys.readouterr().err
    assert err == f"translate run: --report {target}: no such folder (the run did not start)\n"
    assert not (tmp_path / "wd").exists() and not target.parent.exists()


def test_argo_default_archive_is_opened():
    """Argo stores an artifact as a gzipped tar of the one file unless `archive: none` (ours are
    raw): the report shows the file either way."""
    import gzip
    import io
    import tarfile

    from translator.report.views import unpack

    text = "# Title\n\nbody " * 100
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as tar:
        info = tarfile.TarInfo("summary.md")
        info.size = len(text.encode())
        tar.addfile(info, io.BytesIO(text.encode()))
    assert unpack(packed.getvalue()) == text.encode()
    assert unpack(gzip.compress(b"just gzip")) == b"just gzip"
    assert unpack(text.encode()) == text.encode() and unpack(b"") == b""
