"""Create one PipelineRun of a recurring run (kfp-translate's Tekton scheduler).

Run by the CronJob `translate schedule` creates, in the stock python image, as the ServiceAccount
kfp-translate-scheduler (create and list PipelineRuns, nothing else). Standard library only.
Environment: KFPT_SCHEDULE (the schedule's name, a label value), KFPT_MAX_CONCURRENCY (0: no
limit), KFPT_TEMPLATE (the PipelineRun as JSON), KFPT_START and KFPT_END (optional, UTC
YYYY-MM-DDTHH:MM:SSZ: kfp's start_time and end_time). A tick is skipped, with exit status 0,
outside [KFPT_START, KFPT_END) and while KFPT_MAX_CONCURRENCY PipelineRuns of the schedule are
unfinished, as KFP's scheduler does.
"""
import datetime
import json
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

SA = "/var/run/secrets/kubernetes.io/serviceaccount"
LABEL = "kfp-translate.dev/schedule"


def api(method, url, token, context, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": "Bearer " + token, "Content-Type": "application/json", "Accept": "application/json"})
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        return json.load(response)


def unfinished(run):
    for condition in (run.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Succeeded" and condition.get("status") in ("True", "False"):
            return False
    return True


def outside_window(now):
    """Why a tick at `now` (UTC) creates nothing, or None inside the schedule's window."""
    start, end = os.environ.get("KFPT_START"), os.environ.get("KFPT_END")
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    if start and stamp < start:
        return "skipped: %s is before the start time %s" % (stamp, start)
    if end and stamp >= end:
        return "skipped: %s is not before the end time %s" % (stamp, end)
    return None


def main():
    reason = outside_window(datetime.datetime.now(datetime.timezone.utc))
    if reason:
        print(reason)
        return 0
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    if ":" in host:
        host = "[" + host + "]"
    base = "https://%s:%s" % (host, os.environ["KUBERNETES_SERVICE_PORT"])
    with open(SA + "/token") as f:
        token = f.read().strip()
    with open(SA + "/namespace") as f:
        namespace = f.read().strip()
    context = ssl.create_default_context(cafile=SA + "/ca.crt")
    schedule = os.environ["KFPT_SCHEDULE"]
    limit = int(os.environ.get("KFPT_MAX_CONCURRENCY") or "0")
    url = "%s/apis/tekton.dev/v1/namespaces/%s/pipelineruns" % (base, namespace)
    if limit > 0:
        query = urllib.parse.urlencode({"labelSelector": "%s=%s" % (LABEL, schedule)})
        running = [r["metadata"]["name"] for r in api("GET", url + "?" + query, token, context)["items"] if unfinished(r)]
        if len(running) >= limit:
            print("skipped: %d of at most %d runs unfinished (%s)" % (len(running), limit, ", ".join(sorted(running))))
            return 0
    with open(os.environ["KFPT_TEMPLATE"]) as f:
        run = json.load(f)
    created = api("POST", url, token, context, run)
    print("created pipelinerun %s/%s" % (namespace, created["metadata"]["name"]))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except urllib.error.HTTPError as exc:
        print("kfp-translate scheduler: the API server answered %s: %s" % (exc.code, exc.read().decode("utf-8", "replace")[:500]),
              file=sys.stderr)
        sys.exit(1)
