"""The real Tekton controller runs a PipelineRun of two tasks passing a result."""
from __future__ import annotations

TWO_STEPS = {
    "apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
    "metadata": {"generateName": "two-steps-"},
    "spec": {"pipelineSpec": {
        "params": [{"name": "word", "type": "string", "default": "hello"}],
        "tasks": [
            {"name": "produce", "params": [{"name": "word", "value": "$(params.word)"}],
             "taskSpec": {"params": [{"name": "word"}], "results": [{"name": "shout"}],
                          "steps": [{"name": "upper", "image": "python:3.11-slim",
                                     "command": ["python3", "-c",
                                                 "import sys; open('$(results.shout.path)', 'w').write(sys.argv[1].upper() + '!')",
                                                 "$(params.word)"]}]}},
            {"name": "consume", "params": [{"name": "text", "value": "$(tasks.produce.results.shout)"}],
             "taskSpec": {"params": [{"name": "text"}], "results": [{"name": "echoed"}],
                          "steps": [{"name": "echo", "image": "python:3.11-slim",
                                     "command": ["python3", "-c",
                                                 "import sys; open('$(results.echoed.path)', 'w').write('got ' + sys.argv[1])",
                                                 "$(params.text)"]}]}},
        ],
        "results": [{"name": "final", "value": "$(tasks.consume.results.echoed)"}],
    }, "params": [{"name": "word", "value": "kfp"}]},
}


def test_two_tasks_pass_a_result(cluster):
    created = cluster.create(TWO_STEPS)
    pr = cluster.wait_pipelinerun(created["metadata"]["name"], timeout=300)
    cond = next(c for c in pr["status"]["conditions"] if c["type"] == "Succeeded")
    assert cond["status"] == "True", pr["status"]
    results = {r["name"]: r["value"] for r in pr["status"].get("results", [])}
    assert results == {"final": "got KFP!"}
    assert len(cluster.taskruns(created["metadata"]["name"])) == 2
