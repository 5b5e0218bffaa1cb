# kfp-translate pod shim: runs inside the Argo container (stdlib only, Python 3.7+).
# Usage: python3 -c <this source> <SPEC JSON> -- <KFP command...> <args with the marker>
# Contract: docs/design.md, "The pod contract".
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys

SHIM_VERSION = 1
# Argv elements and env values the translator base64-encoded: Argo reads double braces as
# variables; the kubelet rewrites dollar-parenthesis references and double dollars in env,
# command and args.
B64_PREFIX = "__KFP_B64__:"
ABSENT = "\uffff"  # an optional input given no value (KFP's None); a noncharacter, never real data
SEP = (",", ":")
PARAM_TYPES = ("STRING", "NUMBER_INTEGER", "NUMBER_DOUBLE", "BOOLEAN", "LIST", "STRUCT",
               "TASK_FINAL_STATUS", "TASK_CONFIG")
BOOLS = {"true": True, "True": True, "TRUE": True, "t": True, "T": True, "1": True,
         "false": False, "False": False, "FALSE": False, "f": False, "F": False, "0": False}
# KFP components describe these only through metadata (log_metric ...): no file is required.
METADATA_ONLY = ("system.Metrics", "system.ClassificationMetrics",
                 "system.SlicedClassificationMetrics")

class ShimError(Exception):
    pass

def pj(v):
    # KFP numbers are protobuf doubles that reach the executor as protojson: integral numbers
    # inside lists/structs arrive as ints (the IR writes List[int] defaults as [1.0, 2.0]).
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return [pj(x) for x in v] if isinstance(v, list) else \
        {k: pj(x) for k, x in v.items()} if isinstance(v, dict) else v

def conv(t, v, what):
    """Typed value of parameter type t from text (env, file) or a JSON value (executor output)."""
    if t == "STRING":
        return v if isinstance(v, str) else json.dumps(v, separators=SEP)
    s = v.strip() if isinstance(v, str) else None
    try:
        if t == "NUMBER_INTEGER":
            n = v
            if s is not None:
                try:
                    return int(s)
                except ValueError:
                    n = float(s)
            if isinstance(n, (int, float)) and float(n).is_integer():
                return int(n)
        elif t == "NUMBER_DOUBLE":
            if isinstance(v, (str, int, float)):
                return float(v if s is None else s)
        elif t == "BOOLEAN":
            if s in BOOLS:
                return BOOLS[s]
            if isinstance(v, (bool, int)) and v in (0, 1):
                return bool(v)
        else:
            j = v if s is None else json.loads(v)
            if isinstance(j, list if t == "LIST" else dict):
                return pj(j)
    except (ValueError, OverflowError):
        pass
    raise ShimError("%s: cannot read %.200r as %s" % (what, v, t))

def flat(v):  # collections out of nested loops arrive as lists of lists, in loop order
    return [x for item in v for x in flat(item)] if isinstance(v, list) else [v]

def retype(v, depth, t, what):
    if depth == 0:
        return conv(t, v, what)
    if not isinstance(v, list):
        raise ShimError("%s: expected a list, got %.200r" % (what, v))
    return [retype(x, depth - 1, t, what) for x in v if x != ABSENT]  # skipped iterations

def canon(t, v):  # docs/design.md, "Canonical parameter encoding"
    if t == "NUMBER_DOUBLE":
        return json.dumps(float(v))
    if t == "BOOLEAN":
        return "true" if v else "false"
    return v if t == "STRING" else str(v) if t == "NUMBER_INTEGER" else json.dumps(v, separators=SEP)

def unb64(x):
    if not x.startswith(B64_PREFIX):
        return x
    try:
        return base64.b64decode(x[len(B64_PREFIX):], validate=True).decode("utf-8", "surrogateescape")
    except ValueError as e:
        raise ShimError("bad %s value: %s" % (B64_PREFIX, e))

def getenv(name):  # via bytes: independent of the image's locale
    v = os.environb.get(os.fsencode(name))
    # two layers: the env value is always base64 (Argo's b64enc); the value itself is when a
    # producing shim had to protect it from Argo's substitution (see for_argo). ABSENT is seen
    # between the layers: a user's value holding U+FFFF travels protected, never as None.
    if v is None:
        return None
    v = unb64(v.decode("utf-8", "surrogateescape"))
    return None if v == ABSENT else unb64(v)

# What Argo would substitute in a value it passes on: its variables and expression tags (an
# unknown tag such as a literal double-brace x is left alone, so it needs no protection).
ARGO_TAG = re.compile(re.escape("{" * 2) + r"\s*(=|(workflow|inputs|outputs|pod|tasks|steps|item|node|retries|"
                      r"lastRetry|cronworkflow)\b)")

def for_argo(text):
    # Argo rewrites its own double-brace tags in values passed between templates, trims one newline
    # from parameter files: such values travel base64, and every file ends with a newline.
    if ARGO_TAG.search(text) or text.startswith(B64_PREFIX) or ABSENT in text:
        text = B64_PREFIX + base64.b64encode(text.encode("utf-8", "surrogateescape")).decode()
    return text + "\n"

def read_text(path):
    with open(path, "rb") as f:  # binary: no newline translation
        return f.read().decode("utf-8", "surrogateescape")

def write_text(path, text):
    mkparent(path)
    with open(path, "wb") as f:
        f.write(text.encode("utf-8", "surrogateescape"))

def mkparent(path):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)

def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

def digest(path):
    # File: sha256 of its bytes. Directory: sha256 of "kfpt-dir\0" then, for every entry in
    # sorted relative-path order, "<kind>\0<relpath>\0<sha256 hex | link target | ''>\0" with
    # kind f (file or symlink to a file), d (directory), l (any other symlink).
    if not os.path.isdir(path):
        return "sha256:" + file_sha(path)
    entries = []
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            full = os.path.join(root, n)
            rel = os.path.relpath(full, path).replace(os.sep, "/")
            entries.append((rel, "f", file_sha(full)) if os.path.isfile(full) else
                           (rel, "l", os.readlink(full)) if os.path.islink(full) else (rel, "d", ""))
    h = hashlib.sha256(b"kfpt-dir\0")
    for rel, kind, x in sorted(entries):
        h.update(("%s\0%s\0%s\0" % (kind, rel, x)).encode("utf-8", "surrogateescape"))
    return "sha256:" + h.hexdigest()

def json_env(env, default, kind, what):
    raw = getenv(env) if env else None
    try:
        v = json.loads(raw) if raw and raw.strip() else default
    except ValueError as e:
        v = e
    if not isinstance(v, kind):
        raise ShimError("%s: metadata in $%s is not a JSON %s: %s" % (what, env, kind.__name__, v))
    return v

def artifact(name, a, uri, metadata):
    t = dict((k, a[k]) for k in ("schemaTitle", "schemaVersion") if a.get(k))
    return {"name": name, "uri": uri, "type": t, "metadata": metadata}

def listed_artifacts(name, a, what, path):
    if a.get("itemsEnv"):  # dsl.Collected: <path>/<key below prefix>
        prefix = (getenv(a["prefixEnv"]) or "").rstrip("/") + "/"
        items = [json.loads(i) if isinstance(i, str) and i.startswith("{") else i  # Argo keeps all
                 for i in flat(json_env(a["itemsEnv"], [], list, what)) if i != ABSENT]  # Argo leaves every item text when one is not JSON
        if any(not isinstance(i, dict) or not str(i.get("key", "")).startswith(prefix) for i in items):
            raise ShimError("%s: items %.200r are not objects under %s" % (what, items, prefix))
        return [artifact(name, a, os.path.join(path, i["key"][len(prefix):]),
                         i.get("metadata") if isinstance(i.get("metadata"), dict) else {})
                for i in items]
    # items in <path>/0, <path>/1, ...; metadata: a JSON list
    items = sorted((n for n in (os.listdir(path) if os.path.isdir(path) else []) if n.isdigit()), key=int)
    mds = json_env(a.get("metadataEnv"), [{}] * len(items), list, what)
    if len(mds) != len(items):
        raise ShimError("%s: %d items in %s but %d metadata entries" % (what, len(items), path, len(mds)))
    return [artifact(name, a, os.path.join(path, n), md if isinstance(md, dict) else {})
            for n, md in zip(items, mds)]

def build_executor_input(spec):
    ins, outs = spec.get("inputs", {}), spec["outputs"]
    values, arts = {}, {}
    for name, p in ins.get("parameters", {}).items():
        raw = getenv(p["env"])  # unset or ABSENT: absent, the function's default applies
        if raw is not None:
            what = "input parameter %r ($%s)" % (name, p["env"])
            values[name] = conv(p["type"], raw, what)
            if p.get("collected"):  # dsl.Collected: Argo hands over the leaves as strings
                values[name] = retype(values[name], p["collected"][0], p["collected"][1], what)
    for name, a in ins.get("artifacts", {}).items():
        what, path = "input artifact %r" % name, a["path"]
        if a.get("isList"):  # dsl.Collected or a list input: the "collections" part
            arts[name] = {"artifacts": listed_artifacts(name, a, what, path)}
        elif os.path.lexists(path):  # not downloaded (optional, not supplied): absent
            arts[name] = {"artifacts": [
                artifact(name, a, path, json_env(a.get("metadataEnv"), {}, dict, what))]}
    out_params = dict((n, {"outputFile": p["outputFile"]})
                      for n, p in outs.get("parameters", {}).items())
    out_arts = dict((n, {"artifacts": [artifact(n, a, a["path"], {})]})
                    for n, a in outs.get("artifacts", {}).items())
    return dict(inputs=dict(parameterValues=values, artifacts=arts), outputs=dict(
        parameters=out_params, artifacts=out_arts, outputFile=outs["executorOutput"]))

def relocate(a, produced, task_root):
    # KFP uploads from the executor output's custom_path or uri when the component moved the
    # artifact (pythonic artifacts: Dataset(uri=dsl.get_uri())): bring it to the Argo path.
    src = produced.get("custom_path") or produced.get("customPath") or produced.get("uri") or ""
    src, dst = os.path.normpath(src or "."), os.path.normpath(a["path"])
    if not os.path.isabs(src) or src == dst or os.path.lexists(dst) or not os.path.exists(src):
        return
    mkparent(dst)
    if src.startswith(os.path.normpath(task_root) + os.sep):
        shutil.move(src, dst)
    else:
        (shutil.copytree if os.path.isdir(src) else shutil.copy2)(src, dst)

def collect_outputs(outs):
    eo_path, eo, errors = outs["executorOutput"], {}, []
    if os.path.exists(eo_path):
        try:
            eo = json.loads(read_text(eo_path))
        except ValueError as e:
            raise ShimError("executor output %s is not JSON: %s" % (eo_path, e))
    pvals = eo.get("parameterValues") or {}
    for name, p in outs.get("parameters", {}).items():
        what = "output parameter %r" % name
        try:  # like KFP's launcher: the executor output wins over the output file
            if pvals.get(name) is not None:
                v = conv(p["type"], pvals[name], what)
            elif os.path.isfile(p["outputFile"]):
                v = conv(p["type"], read_text(p["outputFile"]), what)
            else:
                raise ShimError("%s was not produced (no value in %s and no file %s)"
                                % (what, eo_path, p["outputFile"]))
            write_text(p["argoPath"], for_argo(canon(p["type"], v)))
        except ShimError as e:
            errors.append(str(e))
    for name, a in outs.get("artifacts", {}).items():
        produced = ((eo.get("artifacts") or {}).get(name) or {}).get("artifacts") or [{}]
        produced = produced[0] if isinstance(produced[0], dict) else {}
        relocate(a, produced, os.path.dirname(eo_path))
        if not os.path.exists(a["path"]):
            if a.get("schemaTitle") not in METADATA_ONLY:
                errors.append("output artifact %r was not produced: %s does not exist"
                              % (name, a["path"]))
                continue
            write_text(a["path"], "")
        md = produced.get("metadata")
        write_text(a["metadataPath"], for_argo(json.dumps(md if isinstance(md, dict) else {}, separators=SEP)))
        write_text(a["digestPath"], for_argo(digest(a["path"])))
        if a.get("itemPath"):  # collected out of a loop: the "collections" part
            write_item(a, md)
    if errors:
        raise ShimError("; ".join(errors))

def write_item(a, md):  # an artifact collected out of a loop: where it is stored, and its metadata
    item = dict(key=getenv(a["keyEnv"]) or "", metadata=md if isinstance(md, dict) else {})
    write_text(a["itemPath"], for_argo(json.dumps(item, separators=SEP)))

def killpg(pgid, signum):
    try:
        os.killpg(pgid, signum)
    except OSError:
        pass

def run(argv):
    if len(argv) < 4 or argv[2] != "--":
        raise ShimError("usage: python3 -c SHIM '<SPEC JSON>' -- COMMAND [ARGS...]")
    try:
        spec = json.loads(argv[1])
        marker, outs = spec["marker"], spec["outputs"]
        shim_dir = os.path.dirname(os.path.dirname(outs["executorOutput"]))
        for p in list(spec.get("inputs", {}).get("parameters", {}).values()) + \
                list(outs.get("parameters", {}).values()):
            if p["type"] not in PARAM_TYPES:
                raise ShimError("invalid SPEC: unsupported parameter type %r" % p["type"])
        ei = json.dumps(build_executor_input(spec))  # ASCII only: safe in argv under any locale
        for path in [outs["executorOutput"]] + \
                [p[k] for p in outs.get("parameters", {}).values() for k in ("outputFile", "argoPath")] \
                + [a[k] for a in outs.get("artifacts", {}).values()
                   for k in ("path", "metadataPath", "digestPath")]:
            mkparent(path)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ShimError("invalid SPEC: %s: %s" % (type(e).__name__, e))
    cmd = [ei if x == marker else unb64(x) for x in argv[3:]]
    env = old_kfp_paths_env(shim_dir) if KFP_COMPAT else None
    try:  # own process group: a signal reaches the sh wrappers and the python under them
        child = subprocess.Popen(cmd, start_new_session=True, env=env)
    except OSError as e:
        raise ShimError("cannot start %r: %s" % (cmd[0], e))
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda signum, _: killpg(child.pid, signum))
    rc = child.wait()
    for s in (signal.SIGTERM, signal.SIGINT):  # from now on a signal stops the shim itself
        signal.signal(s, signal.SIG_DFL)
    if rc != 0:
        return 128 - rc if rc < 0 else rc  # killed by signal N: 128 + N, as a shell reports
    collect_outputs(outs)
    return 0

# kfp releases before 2.5 give an artifact a local path only for gs://, minio:// and s3:// URIs
# (KFP's launcher mounts those under /gcs, /minio, /s3); here the URI is the local path itself.
# A sitecustomize on the executor's PYTHONPATH makes such a URI its own path, as kfp >= 2.5 does.
KFP_COMPAT = """import sys
_NAMES = ("kfp.dsl.types.artifact_types", "kfp.components.types.artifact_types")
def _patch(mod):
    cls = getattr(mod, "Artifact", None)
    if cls is None or getattr(cls, "_kfpt_local", False):
        return
    orig = cls._get_path
    def _get_path(self):
        path = orig(self)
        return self.uri if path is None and str(self.uri or "").startswith("/") else path
    cls._get_path, cls._kfpt_local = _get_path, True
class _Finder(object):
    def find_spec(self, name, path=None, target=None):
        if name not in _NAMES:
            return None
        import importlib.machinery
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module
        def exec_module(module):
            run(module)
            _patch(module)
        spec.loader.exec_module = exec_module
        return spec
sys.meta_path.insert(0, _Finder())
"""

def old_kfp_paths_env(shim_dir):
    d = os.path.join(shim_dir, "kfp-compat")
    if not os.path.isdir(d):
        os.makedirs(d)
    with open(os.path.join(d, "sitecustomize.py"), "w") as fh:
        fh.write(KFP_COMPAT)
    env = dict(os.environ)
    env["PYTHONPATH"] = d + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env

def main():
    try:
        code = run(sys.argv)
    except (ShimError, OSError) as e:  # expected failures: one line, no traceback
        sys.stderr.write("kfp-podshim: error: %s\n" % str(e).replace("\n", "\\n"))
        code = 1
    sys.stderr.flush()
    sys.exit(code)

if __name__ == "__main__":
    main()
