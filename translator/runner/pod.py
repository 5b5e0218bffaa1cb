"""One container step as a real local process: what the kubelet and Argo's executor would do.

The template (after Argo's substitution, `{{pod.name}}` and `{{retries}}` included) gives the
command, args and env; the kubelet's `$(VAR)` expansion applies. Paths under `/kfp/` and volume
mount paths map into a sandbox of the step's own (`work/pods/<pod>/`), which also holds HOME,
TMPDIR, the working directory and the log: no two steps share a writable path. A step whose
image runs Python gets `python3` from its image's virtual environment (`venvs.py`); other images
get this machine's `sh` and tools. Input artifacts are downloaded from the store before the
process starts, outputs uploaded under the template's keys after it exits 0. `retryStrategy`
(limit, retryPolicy, expression, backoff) retries the step as Argo does, each try a new pod.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from translator import exprlang

from . import sandbox as pod_fs
from . import subst
from .engine import ERROR, FAILED, SUCCEEDED, ArtifactRef, Node, RunError, Unsupported, duration, kubelet_expand
from .store import StoreError

# Host settings a step may need to reach a package index (pip) the way this machine does.
PASSTHROUGH = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CERT", "PIP_DEFAULT_TIMEOUT",
               "PIP_TRUSTED_HOST", "PIP_RETRIES", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy",
               "https_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "LANG", "LC_ALL")


def run_container(r: Any, template: dict, values: dict[str, str], artifacts: dict[str, ArtifactRef], path: str,
                  hooked: bool) -> Node:
    retry = template.get("retryStrategy") or {}
    try:
        limit = int(str(retry.get("limit", 0) or 0)) if retry else 0
    except ValueError:
        raise RunError(f"{path}: retryStrategy.limit {retry.get('limit')!r} is not a number") from None
    policy = retry.get("retryPolicy") or ("OnFailure" if retry else "")
    if retry and policy not in ("Always", "OnFailure", "OnError", "OnTransientError"):
        raise Unsupported(f"{path}: retryPolicy {policy!r} is not supported")
    backoff = retry.get("backoff") or {}
    delay = duration(backoff.get("duration"))
    factor = float(str(backoff.get("factor", 2) or 2)) if backoff.get("duration") else 1.0
    cap = duration(backoff.get("cap")) if backoff.get("cap") else None
    max_total = duration(backoff.get("maxDuration")) if backoff.get("maxDuration") else None
    first = time.time()
    attempt = 0
    while True:
        node = _attempt(r, template, values, artifacts, path, attempt, hooked)
        if node.phase == SUCCEEDED or attempt >= limit or r.blocked(hooked):
            return node
        if not _retries(policy, node.phase):
            return node
        if retry.get("expression"):
            scope = {"lastRetry": {"exitCode": node.exit_code,
                                   "status": node.phase, "duration": str(node.finished - node.started),
                                   "message": node.message}}
            try:
                if exprlang.evaluate(retry["expression"], scope) is not True:
                    return node
            except exprlang.ExprError as exc:
                raise RunError(f"{path}: retryStrategy.expression: {exc}") from None
        wait = delay * (factor ** attempt)
        if cap is not None:
            wait = min(wait, cap)
        if max_total is not None and time.time() - first + wait > max_total:
            return node
        time.sleep(min(wait, r.max_backoff))
        attempt += 1


def _retries(policy: str, phase: str) -> bool:
    if policy == "Always":
        return True
    if policy == "OnFailure":
        return phase == FAILED
    return phase == ERROR  # OnError, OnTransientError (our errors are local, count them as transient)


def _attempt(r: Any, template: dict, values: dict[str, str], artifacts: dict[str, ArtifactRef], path: str,
             attempt: int, hooked: bool) -> Node:
    pod = r.new_pod_name(template["name"], path)
    sandbox = r.work / "pods" / pod
    node = r.add_node(Node(path, template["name"], "Pending", pod=pod, attempt=attempt, hooked=hooked,
                           log=str(sandbox / "log.txt"), inputs=dict(values), input_artifacts=dict(artifacts)))
    r.event("start", node)
    try:
        with r.pod_slots:
            if r.blocked(hooked):
                node.phase, node.message = FAILED, "stopped" if r.stopping.is_set() else "cancelled"
            else:
                node.phase, node.started = "Running", time.time()
                r.event("running", node)
                _execute(r, node, template, values, artifacts, sandbox, attempt)
    except Unsupported:
        node.phase = ERROR
        raise
    except (RunError, StoreError, subst.SubstitutionError, OSError) as exc:
        node.phase, node.message = ERROR, str(exc)
    node.finished = time.time()
    r.event("finish", node)
    return node


def _execute(r: Any, node: Node, template: dict, values: dict[str, str], artifacts: dict[str, ArtifactRef],
             sandbox: Path, attempt: int) -> None:
    # Argo's passes (common.SubstituteParams, then substitutePodParams): the globals over the
    # whole template, its input values included; the inputs; then the pod spec once more.
    flat = dict(r.globals)
    flat["retries"] = str(attempt)
    scope = lambda: subst.nested(flat)  # noqa: E731
    values = {k: subst.substitute(v, flat, scope, node.path, lenient=True) for k, v in values.items()}
    node.inputs = dict(values)
    flat.update({f"inputs.parameters.{k}": v for k, v in values.items()})
    body = {k: v for k, v in template.items() if k not in ("memoize", "inputs", "retryStrategy")}
    flat["pod.name"] = node.pod
    body = subst.substitute_tree(body, flat, scope, node.path)
    body["container"] = subst.substitute_tree(body["container"], flat, scope, node.path, lenient=True)
    container = body["container"]
    mounts = {"/kfp/": str(sandbox / "kfp") + "/"}
    volumes = dict(r.volumes)
    volumes.update({v["name"]: v for v in body.get("volumes", [])})
    for vm in container.get("volumeMounts", []):
        mount = vm["mountPath"].rstrip("/") + "/"
        if not mount.startswith("/kfp/"):
            mounts.setdefault(mount, str(_volume_dir(r, volumes, vm, sandbox)) + "/")
    for target in mounts.values():
        Path(target).mkdir(parents=True, exist_ok=True)
    (sandbox / "kfp" / "outputs").mkdir(parents=True, exist_ok=True)
    prefixes = re.compile("|".join(re.escape(p) for p in sorted(mounts, key=len, reverse=True)))

    def local(text: str) -> str:
        """Paths inside the pod map into this step's sandbox (one pass: no double mapping)."""
        return prefixes.sub(lambda m: mounts[m.group(0)], text)

    for art in (template.get("inputs") or {}).get("artifacts", []):
        ref = artifacts.get(art["name"])
        if ref is None:
            continue  # optional and not supplied
        _fetch(r, ref, Path(local(art["path"])))
    env = {"PATH": os.pathsep.join(["/usr/local/bin", "/usr/bin", "/bin"]),
           "HOME": str(sandbox / "home"), "TMPDIR": str(sandbox / "tmp"),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_CACHE_DIR": str(r.work / "pip-cache"),
           "PYTHONDONTWRITEBYTECODE": "1", "XDG_CACHE_HOME": str(sandbox / "home" / ".cache")}
    env.update({k: os.environ[k] for k in PASSTHROUGH if k in os.environ})
    env.update(r.extra_env)
    defined: dict[str, str] = {}
    # With the sandbox (sandbox.py) the pod paths exist for the step's process and no string is
    # rewritten; without it (no user namespaces) the template's paths are mapped as text and
    # volumes outside /kfp/ are refused: a step never writes to this machine's real mount path.
    isolated = pod_fs.available()
    if not isolated:
        outside = sorted(p for p in mounts if p != "/kfp/")
        if outside:
            raise Unsupported(f"volume mounted at {outside[0].rstrip('/')} needs Linux user namespaces "
                              "(unshare) to stay inside the run's work dir")
    to_pod = (lambda text: text) if isolated else local
    for name, value in _env_from(r, container, node):
        defined[name] = value
    for e in container.get("env", []):
        if "value" in e:
            defined[e["name"]] = to_pod(kubelet_expand(e["value"], defined))
            continue
        value = _env_value(r, e, node)
        if value is not None:
            defined[e["name"]] = value
    argv = [to_pod(kubelet_expand(x, defined)) for x in container.get("command", []) + container.get("args", [])]
    if not argv:
        raise RunError("the container has no command: the image's entrypoint is unknown locally")
    image = container.get("image", "")
    from .venvs import kfp_pin, runs_python

    if r.venvs is not None and runs_python(image, argv):
        env["PATH"] = f"{r.venvs.bin_dir(image, kfp_pin(argv))}{os.pathsep}{env['PATH']}"
    elif r.venvs is None:
        env["PATH"] = f"{r.python_bin}{os.pathsep}{env['PATH']}"
    env.update(defined)
    (sandbox / "home").mkdir(exist_ok=True)
    (sandbox / "tmp").mkdir(exist_ok=True)
    workdir = container.get("workingDir")
    cwd = Path(local(workdir)) if workdir and workdir.startswith(tuple(mounts)) else sandbox / "tmp"
    cwd.mkdir(parents=True, exist_ok=True)
    if isolated:
        inside_cwd = workdir if workdir and workdir.startswith(tuple(mounts)) else str(cwd)
        argv = pod_fs.wrap(argv, str(sandbox / "root"), {k.rstrip("/"): v.rstrip("/") for k, v in mounts.items()},
                           inside_cwd)
    r.log(f"{node.path}: running pod {node.pod}")
    with open(sandbox / "log.txt", "wb") as logf:
        try:
            proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=logf, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            raise RunError(f"cannot start {argv[0]!r}: {exc}") from None
        with r.lock:
            r.processes.add(proc)
        t0 = time.time()
        try:
            code = proc.wait()
            node.process_seconds = time.time() - t0
        finally:
            with r.lock:
                r.processes.discard(proc)
    node.message = (sandbox / "log.txt").read_text(errors="replace")[-4000:]
    node.exit_code = str(code if code >= 0 else 128 - code)
    if code != 0:
        node.phase = FAILED
        node.message = f"exit status {code if code >= 0 else 128 - code}\n{node.message}"
        return
    for p in body.get("outputs", {}).get("parameters", []):
        vf = p.get("valueFrom") or {}
        if "path" not in vf:
            raise Unsupported(f"output parameter {p['name']!r}: only valueFrom.path is supported for containers")
        file = Path(local(vf["path"]))
        if file.is_file():
            text = file.read_bytes().decode("utf-8", "surrogateescape")
            # Argo's executor (SaveParameters) drops one trailing newline from the file
            node.parameters[p["name"]] = text[:-1] if text.endswith("\n") else text
        elif "default" in vf:
            node.parameters[p["name"]] = str(vf["default"])
        else:
            raise RunError(f"output parameter {p['name']!r}: {vf['path']} does not exist")
    for a in body.get("outputs", {}).get("artifacts", []):
        source = Path(local(a["path"]))
        if not source.exists():
            if a.get("optional"):
                continue
            raise RunError(f"output artifact {a['name']!r}: {a['path']} does not exist")
        key = (a.get("s3") or {}).get("key")
        if not key:
            raise Unsupported(f"output artifact {a['name']!r}: only key-only S3 artifacts are supported locally")
        r.store.put(key, source)
        node.artifacts[a["name"]] = ArtifactRef(key=key)
    node.phase = SUCCEEDED


def _env_value(r: Any, e: dict, node: Node) -> str | None:
    """An env var from a Secret or ConfigMap key (`translate run --secret ...`), or a field path."""
    vf = e.get("valueFrom") or {}
    where = f"env {e['name']}"
    for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
        if field in vf:
            ref = vf[field]
            return r.objects.value(kind, ref.get("name", ""), ref.get("key"), bool(ref.get("optional")), where)
    path = (vf.get("fieldRef") or {}).get("fieldPath")
    known = {"metadata.name": node.pod, "metadata.namespace": r.globals.get("workflow.namespace", "default"),
             "spec.serviceAccountName": r.globals.get("workflow.serviceAccountName", "default"),
             "spec.nodeName": "localhost", "status.hostIP": "127.0.0.1", "status.podIP": "127.0.0.1"}
    if path in known:
        return known[path]
    raise Unsupported(f"{where}: {sorted(vf) or 'no value'} is not available locally")


def _env_from(r: Any, container: dict, node: Node) -> list[tuple[str, str]]:
    out = []
    for ef in container.get("envFrom", []):
        for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
            if field in ef:
                data = r.objects.value(kind, ef[field].get("name", ""), None, bool(ef[field].get("optional")), "envFrom")
                out.extend((ef.get("prefix", "") + k, v) for k, v in sorted((data or {}).items()))
    return out


def _object_volume(r: Any, volume: dict, where: Path) -> None:
    """A Secret or ConfigMap volume: one file per key (or per `items` entry), as the kubelet writes it."""
    kind, source = ("Secret", volume["secret"]) if "secret" in volume else ("ConfigMap", volume["configMap"])
    name = source.get("secretName") if kind == "Secret" else source.get("name")
    data = r.objects.value(kind, name or "", None, bool(source.get("optional")), f"volume {volume['name']!r}") or {}
    items = source.get("items") or [{"key": k, "path": k} for k in sorted(data)]
    for item in items:
        if item["key"] not in data:
            if source.get("optional"):
                continue
            raise RunError(f"volume {volume['name']!r}: {kind} {name!r} has no key {item['key']!r}")
        target = where / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data[item["key"]].encode("utf-8", "surrogateescape"))


def _volume_dir(r: Any, volumes: dict[str, dict], mount: dict, sandbox: Path) -> Path:
    """Where a volume lives: emptyDir in the step's sandbox; a claim (a named PVC, shared by the
    steps of every run as on a cluster) or a claim template (shared by the steps of this run)
    in the work dir; a Secret or ConfigMap as files in the step's sandbox (`kube.py`)."""
    name = mount["name"]
    volume = volumes.get(name)
    if volume is None and name in r.claim_templates:
        where = r.run_dir / "volumes" / name
    elif volume is not None and "emptyDir" in volume:
        where = sandbox / "volumes" / name
    elif volume is not None and ("secret" in volume or "configMap" in volume):
        where = sandbox / "volumes" / name
        if not where.exists():
            where.mkdir(parents=True)
            _object_volume(r, volume, where)
    elif volume is not None and "persistentVolumeClaim" in volume:
        claim = re.sub(r"[^A-Za-z0-9._-]+", "_", volume["persistentVolumeClaim"].get("claimName", name))
        where = r.work / "volumes" / "pvc" / claim
    else:
        kind = next((k for k in (volume or {}) if k != "name"), "undefined")
        raise Unsupported(f"volume {name!r} ({kind}) is not available locally")
    if mount.get("subPath"):
        where = where / mount["subPath"]
    where.mkdir(parents=True, exist_ok=True)
    return where


def _fetch(r: Any, ref: ArtifactRef, target: Path) -> None:
    if ref.key is not None:
        if hasattr(r.store, "ensure"):
            r.store.ensure(ref.key)
        r.store.get(ref.key, target)
        return
    ext = ref.external or {}
    target.parent.mkdir(parents=True, exist_ok=True)
    if "raw" in ext:
        target.write_text(str(ext["raw"].get("data", "")))
        return
    if "http" in ext:
        import urllib.request

        with urllib.request.urlopen(ext["http"]["url"], timeout=60) as resp, open(target, "wb") as out:
            shutil.copyfileobj(resp, out)
        return
    if "s3" in ext:
        s3 = ext["s3"]
        if not (s3.get("endpoint") and s3.get("bucket") and s3.get("key")):
            # Incomplete for Argo (S3Artifact.HasLocation): the repository's location is copied
            # over it and only the key kept (ArtifactLocation.Relocate): the run's store, by key.
            r.store.get(s3.get("key", ""), target)
            return
        _fetch_s3(r, s3, target)
        return
    raise Unsupported(f"cannot fetch external artifact {sorted(ext)} locally")


def _fetch_s3(r: Any, s3: dict, target: Path) -> None:
    """A complete S3 location: that endpoint and bucket, credentials from its Secrets."""
    from .store import S3Store

    def secret(field: str, env: str) -> str:
        ref = s3.get(field)
        if ref:
            return r.objects.value("Secret", ref.get("name", ""), ref.get("key"), False, f"artifact at {s3['endpoint']}")
        return os.environ.get(env, "")

    scheme = "http" if s3.get("insecure") else "https"
    store = S3Store(f"{scheme}://{s3['endpoint']}", s3["bucket"], secret("accessKeySecret", "AWS_ACCESS_KEY_ID"),
                    secret("secretKeySecret", "AWS_SECRET_ACCESS_KEY"), s3.get("region") or "us-east-1", create=False)
    store.get(s3["key"], target)

