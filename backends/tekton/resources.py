"""kfp-kubernetes `CreatePVC` / `DeletePVC` → one small Tekton task calling the Kubernetes API.

KFP marks these tasks with stub images (`argostub/createpvc`, `argostub/deletepvc`) and its
driver calls the API; Argo does it with a resource template (backends/argo/resources.py). Tekton
has no such thing, so one step (`--python-image`, standard library only) sends the request with
the pod's service account token, as an in-cluster client does. The claim is built from the
inputs as JSON data (values can never add fields), with Argo's rules: the name is `pvc_name`, else
the run name + `pvc_name_suffix` (default `-pvc`); an empty storage class means the cluster's
default. CreatePVC writes the result `name`, which tasks mounting the claim read
(backends/tekton/platform.py). DeletePVC requests the deletion and returns (a claim in use stays
until its pods are gone, e2e F3); a claim that is already gone is fine. The service account needs
create/delete on persistentvolumeclaims: manifests/base/pvc-rbac.yaml.
"""
from __future__ import annotations

from hera.workflows import models as k

from backends.argo.resources import CREATE_IMAGE
from translator.errors import TranslateError

from . import models as t
from .flatten import Unit
from .names import param_name
from .values import encode, protect

SCRIPT = """#!/usr/bin/env python3
# kfp-translate: kfp-kubernetes %(what)s (docs/tekton.md, "CreatePVC and DeletePVC")
import base64, json, os, ssl, sys, urllib.error, urllib.request
P, ABSENT = "__KFP_B64__:", "\\uffff"
def given(name):
    v = os.environ.get("KFPT_IN_" + name.upper())
    if v is None or v == ABSENT:
        return None
    for _ in range(2):
        if v.startswith(P):
            v = base64.b64decode(v[len(P):]).decode("utf-8", "surrogateescape")
    return v
SA = "/var/run/secrets/kubernetes.io/serviceaccount"
def call(method, name=None, body=None):
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
    host = "[" + host + "]" if ":" in host else host
    with open(SA + "/namespace") as f:
        ns = f.read().strip()
    with open(SA + "/token") as f:
        token = f.read().strip()
    url = "https://%%s:%%s/api/v1/namespaces/%%s/persistentvolumeclaims" %% (host, port, ns)
    if name is not None:
        url += "/" + urllib.request.quote(name, safe="")
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": "Bearer " + token, "Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ssl.create_default_context(cafile=SA + "/ca.crt"), timeout=60) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")
%(body)s"""

CREATE = """name = given("pvc_name") or os.environ["KFPT_RUN"] + (given("pvc_name_suffix") if given("pvc_name_suffix") is not None else "-pvc")
spec = {"accessModes": json.loads(given("access_modes")), "resources": {"requests": {"storage": given("size")}}}
if given("storage_class_name"):
    spec["storageClassName"] = given("storage_class_name")
if given("volume_name") is not None:
    spec["volumeName"] = given("volume_name")
if given("data_source") is not None:
    spec["dataSource"] = json.loads(given("data_source"))
meta = {"name": name}
if given("annotations") is not None:
    meta["annotations"] = json.loads(given("annotations"))
code, obj = call("POST", body={"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "spec": spec})
if code >= 300:
    sys.exit("kfp-translate: creating PersistentVolumeClaim %r failed (HTTP %d): %s" % (name, code, obj.get("message", obj)))
with open("/tekton/results/name", "w") as f:
    f.write(obj["metadata"]["name"])
print("created PersistentVolumeClaim", obj["metadata"]["name"])
"""

DELETE = """name = given("pvc_name")
code, obj = call("DELETE", name)
if code >= 300 and code != 404:
    sys.exit("kfp-translate: deleting PersistentVolumeClaim %r failed (HTTP %d): %s" % (name, code, obj.get("message", obj)))
print("deletion requested" if code < 300 else "already gone:", name)
"""


def build(unit: Unit, python_image: str) -> t.PipelineTask:
    impl = unit.component.impl
    iface = unit.component.interface
    create = impl.image == CREATE_IMAGE
    declared = {p.name for p in iface.input_params}
    need = ("access_modes", "size") if create else ("pvc_name",)
    missing = sorted(set(need) - declared)
    if missing:
        raise TranslateError(f"{'CreatePVC' if create else 'DeletePVC'} component lacks input '{missing[0]}'",
                             element=unit.element)
    extra = sorted(set(unit.params) - declared)
    if extra:
        raise TranslateError(f"binds parameter '{extra[0]}', which component '{unit.component.name}' does not declare",
                             element=unit.element)
    if unit.loop is not None:
        raise TranslateError("kfp-kubernetes CreatePVC / DeletePVC inside a dsl.ParallelFor is not supported on "
                             "Tekton yet", element=unit.element)
    specs, params, env = [], [], [k.EnvVar(name="KFPT_RUN", value="$(context.pipelineRun.name)")]
    for p in iface.input_params:
        value = unit.params.get(p.name)
        if value is not None and (value.oneof or value.item is not None or value.collected is not None):
            raise TranslateError(f"input '{p.name}' of a CreatePVC / DeletePVC task must be a plain value on "
                                 "Tekton", element=unit.element)
        default = protect(encode(p.default, p.type)) if p.has_default and p.default is not None else None
        if value is None and default is None:
            continue  # absent (optional, not given): the script's rule applies
        pname = param_name(p.name)
        specs.append(t.ParamSpec(name=pname, description=f"KFP {p.type}", default=default))
        if value is not None:
            params.append(t.Param(name=pname, value=value.text))
        env.append(k.EnvVar(name="KFPT_IN_" + p.name.upper(), value=f"$(params.{pname})"))
    script = SCRIPT % {"what": "CreatePVC" if create else "DeletePVC", "body": CREATE if create else DELETE}
    spec = t.EmbeddedTask(params=specs or None, results=[t.TaskResult(name="name")] if create else None,
                          steps=[t.Step(name="main", image=python_image, script=script, env=env)])
    return t.PipelineTask(name=unit.name, task_spec=spec, params=params or None, when=unit.when or None,
                          run_after=sorted(unit.run_after) or None)
