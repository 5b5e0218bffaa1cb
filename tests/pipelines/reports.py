"""Pipelines whose runs the report tests draw: every artifact type KFP's UI draws a picture of,
values that would inject markup if the report did not escape them, a task that fails and one
that its condition skips."""
from kfp import dsl
from kfp.dsl import HTML, ClassificationMetrics, Markdown, Metrics, Output, SlicedClassificationMetrics

IMAGE = "python:3.11-slim"
HOSTILE = "<script>window.pwned=1</script><img src=x onerror=alert(1)> & \"quotes\" {{workflow.name}} $(id)"


@dsl.component(base_image=IMAGE)
def evaluate(note: str, tracker: str, scores: Output[Metrics], roc: Output[ClassificationMetrics],
             sliced: Output[SlicedClassificationMetrics], summary: Output[Markdown], page: Output[HTML]) -> str:
    scores.log_metric("accuracy", 0.875)
    scores.log_metric("examples", 1200)
    scores.log_metric(note, -1.5)  # a hostile metric name
    roc.log_confusion_matrix(["cat", "dog", note], [[50, 3, 1], [7, 40, 0], [2, 0, 9]])
    roc.log_roc_curve(fpr=[0.0, 0.1, 0.3, 1.0], tpr=[0.0, 0.6, 0.9, 1.0], threshold=[1.0, 0.8, 0.5, 0.0])
    # KFP's SlicedClassificationMetrics log methods fail in kfp 2.x (no _sliced_metrics): users
    # write the metadata KFP's UI reads directly
    sliced.metadata["evaluationSlices"] = [
        {"slice": "north", "sliceClassificationMetrics": {
            "confusionMatrix": {"annotationSpecs": [{"displayName": "no"}, {"displayName": "yes"}],
                                "rows": [{"row": [11, 2]}, {"row": [4, 13]}]}}},
        {"slice": "south", "sliceClassificationMetrics": {
            "confidenceMetrics": [{"confidenceThreshold": 0.5, "recall": 0.7, "falsePositiveRate": 0.2}]}},
    ]
    with open(summary.path, "w") as f:
        f.write("# Evaluation\n\n| metric | value |\n| --- | --- |\n| accuracy | 0.875 |\n\n"
                "Raw markup stays text: " + note + "\n\n![remote](" + tracker + "/markdown.png)\n"
                "[bad link](javascript:alert(1))\n")
    with open(page.path, "w") as f:
        f.write("<html><body><h1 id='inner'>Inner page</h1><script>parent.document.title='pwned'</script>"
                "<p>" + note + "</p><img src='" + tracker + "/frame.png'>"
                "<link rel=stylesheet href='" + tracker + "/frame.css'></body></html>")
    return note


@dsl.component(base_image=IMAGE)
def check(value: str, fail: bool) -> str:
    if fail:
        raise SystemExit("failing on purpose: " + value)
    return "checked"


@dsl.component(base_image=IMAGE)
def flaky(marker: str) -> str:
    """Fails on its first attempt (no marker file yet), succeeds on its retry."""
    import os
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise SystemExit("first attempt fails")
    return "second attempt"


@dsl.component(base_image=IMAGE)
def publish(value: str):
    print(value)


@dsl.pipeline(name="report-showcase")
def showcase(note: str = HOSTILE, fail: bool = True, tracker: str = "http://127.0.0.1:9", marker: str = "/nonexistent/x"):
    """evaluate succeeds, check fails (when `fail`), flaky succeeds on its retry (its first
    attempt makes the file `marker`), publish is skipped by its condition; the
    Markdown and HTML artifacts ask for files at `tracker` (a report must never fetch them)."""
    e = evaluate(note=note, tracker=tracker)
    check(value=e.outputs["Output"], fail=fail)
    flaky(marker=marker).set_retry(num_retries=1)
    with dsl.If(fail == False):  # noqa: E712 (a KFP condition, not a Python comparison)
        publish(value=note)
