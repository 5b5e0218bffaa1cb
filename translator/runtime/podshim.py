# kfp-translate pod shim: runs inside the Argo container (stdlib only, Python 3.7+).
# Usage: python3 -c <this source> <SPEC JSON> -- <KFP command...> <args with the marker>
# Contract: docs/design.md, "The pod contract".
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys

SHIM_VERSION = 1
SEP = (",", ":")
JSON_OBJECT_TYPES = ("STRUCT", "TASK_FINAL_STATUS", "TASK_CONFIG")
PARAM_TYPES = ("STRING", "NUMBER_INTEGER", "NUMBER_DOUBLE", "BOOLEAN", "LIST") + JSON_OBJECT_TYPES
BOOLS = {"true": True, "True": True, "TRUE": True, "t": True, "T": True, "1": True,
         "false": False, "False": False, "FALSE": False, "f": False, "F": False, "0": False}
# Artifacts KFP components only describe through metadata (log_metric, ...): no file required.
METADATA_ONLY = ("system.Metrics", "system.ClassificationMetrics",
                 "system.SlicedClassificationMetrics")


class ShimError(Exception):
    pass


def pj(v):
    # Numbers travel through KFP as protobuf doubles and reach the executor as protojson:
    # integral numbers inside lists/structs arrive as ints (the IR writes [1.0, 2.0]).
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, list):
        return [pj(x) for x in v]
    if isinstance(v, dict):
        return {k: pj(x) for k, x in v.items()}
    return v


def conv(t, v, what):
    """Typed value of parameter type t from text (env/file) or a JSON value (executor output)."""
    shown = repr(v) if len(repr(v)) <= 200 else repr(v)[:200] + "..."

    def bad(why=""):
        return ShimError("%s: cannot read %s as %s%s" % (what, shown, t, why))
    if t == "STRING":
        return v if isinstance(v, str) else json.dumps(v, separators=SEP)
    try:
        if t == "NUMBER_INTEGER":
            if isinstance(v, str):
                try:
                    return int(v.strip())
                except ValueError:
                    v = float(v.strip())
            if isinstance(v, float) and not v.is_integer():
                raise bad(" (not an integer)")
            if isinstance(v, (int, float)):
                return int(v)
        elif t == "NUMBER_DOUBLE":
            if isinstance(v, (str, int, float)):
                return float(v.strip() if isinstance(v, str) else v)
        elif t == "BOOLEAN":
            if isinstance(v, str) and v.strip() in BOOLS:
                return BOOLS[v.strip()]
            if isinstance(v, (bool, int)) and v in (0, 1):
                return bool(v)
        else:
            if isinstance(v, str):
                v = json.loads(v)
            if isinstance(v, list if t == "LIST" else dict):
                return pj(v)
    except (ValueError, OverflowError):
        pass
    raise bad()


def canon(t, v):
    if t == "STRING":
        return v
    if t == "NUMBER_INTEGER":
        return str(v)
    if t == "NUMBER_DOUBLE":
        return json.dumps(float(v))
    if t == "BOOLEAN":
        return "true" if v else "false"
    return json.dumps(v, separators=SEP)


def getenv(name):
    if getattr(os, "environb", None) is not None:
        v = os.environb.get(os.fsencode(name))
        return None if v is None else v.decode("utf-8", "surrogateescape")
    return os.environ.get(name)


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "surrogateescape")


def write_text(path, text):
    mkparent(path)
    with open(path, "wb") as f:
        f.write(text.encode("utf-8", "surrogateescape"))


def mkparent(path):
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def digest(path):
    # File: sha256 of its bytes. Directory: sha256 over "kfpt-dir\0" then, for every entry in
    # sorted relative-path order, "<kind>\0<relpath>\0<file sha256 | link target | ''>\0",
    # kind f (file, or symlink to a file), d (directory), l (other symlink).
    if not os.path.isdir(path):
        return "sha256:" + file_sha(path)
    entries = []
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            full = os.path.join(root, n)
            rel = os.path.relpath(full, path).replace(os.sep, "/")
            if os.path.isfile(full):
                entries.append((rel, "f", file_sha(full)))
            elif os.path.islink(full):
                entries.append((rel, "l", os.readlink(full)))
            else:
                entries.append((rel, "d", ""))
    h = hashlib.sha256(b"kfpt-dir\0")
    for rel, kind, x in sorted(entries):
        h.update(("%s\0%s\0%s\0" % (kind, rel, x)).encode("utf-8", "surrogateescape"))
    return "sha256:" + h.hexdigest()


def json_env(env, default, kind, what):
    raw = getenv(env) if env else None
    if raw is None or not raw.strip():
        return default
    try:
        v = json.loads(raw)
    except ValueError as e:
        raise ShimError("%s: metadata in $%s is not JSON: %s" % (what, env, e))
    if not isinstance(v, kind):
        raise ShimError("%s: metadata in $%s is not a JSON %s" % (what, env, kind.__name__))
    return v


def artifact(name, a, uri, metadata):
    t = {"schemaTitle": a.get("schemaTitle", "system.Artifact")}
    if a.get("schemaVersion"):
        t["schemaVersion"] = a["schemaVersion"]
    return {"name": name, "uri": uri, "type": t, "metadata": metadata}


def build_executor_input(spec):
    ins, outs = spec.get("inputs", {}), spec["outputs"]
    values, in_arts = {}, {}
    for name, p in ins.get("parameters", {}).items():
        raw = getenv(p["env"])
        if raw is not None:
            values[name] = conv(p["type"], raw, "input parameter %r ($%s)" % (name, p["env"]))
    for name, a in ins.get("artifacts", {}).items():
        what = "input artifact %r" % name
        path = a["path"]
        if a.get("isList"):
            items = sorted((n for n in (os.listdir(path) if os.path.isdir(path) else [])
                            if n.isdigit()), key=int)
            mds = json_env(a.get("metadataEnv"), [{}] * len(items), list, what)
            if len(mds) != len(items):
                raise ShimError("%s: %d items in %s but %d metadata entries"
                                % (what, len(items), path, len(mds)))
            in_arts[name] = {"artifacts": [
                artifact(name, a, os.path.join(path, n), md if isinstance(md, dict) else {})
                for n, md in zip(items, mds)]}
        elif os.path.lexists(path):  # absent (e.g. optional, not supplied): not in ExecutorInput
            in_arts[name] = {"artifacts": [
                artifact(name, a, path, json_env(a.get("metadataEnv"), {}, dict, what))]}
    return {"inputs": {"parameterValues": values, "artifacts": in_arts},
            "outputs": {"parameters": {n: {"outputFile": p["outputFile"]}
                                       for n, p in outs.get("parameters", {}).items()},
                        "artifacts": {n: {"artifacts": [artifact(n, a, a["path"], {})]}
                                      for n, a in outs.get("artifacts", {}).items()},
                        "outputFile": outs["executorOutput"]}}


def relocate(a, produced, task_root):
    # KFP uploads from the executor output's custom_path / uri when the component moved the
    # artifact (pythonic artifacts: `Dataset(uri=dsl.get_uri())`): bring it to the Argo path.
    src = produced.get("custom_path") or produced.get("customPath") or produced.get("uri") or ""
    dst = a["path"]
    if not src.startswith("/") or os.path.normpath(src) == os.path.normpath(dst) \
            or os.path.lexists(dst) or not os.path.exists(src):
        return
    mkparent(dst)
    if os.path.normpath(src).startswith(os.path.normpath(task_root) + os.sep):
        shutil.move(src, dst)
    elif os.path.isdir(src):
        shutil.copytree(src, dst, symlinks=True)
    else:
        shutil.copy2(src, dst)


def collect_outputs(spec):
    outs = spec["outputs"]
    eo_path = outs["executorOutput"]
    eo = {}
    if os.path.exists(eo_path):
        try:
            eo = json.loads(read_text(eo_path))
        except ValueError as e:
            raise ShimError("executor output %s is not JSON: %s" % (eo_path, e))
    pvals = eo.get("parameterValues") or {}
    errors = []
    for name, p in outs.get("parameters", {}).items():
        what = "output parameter %r" % name
        try:
            if pvals.get(name) is not None:
                v = conv(p["type"], pvals[name], what)
            elif os.path.isfile(p["outputFile"]):
                v = conv(p["type"], read_text(p["outputFile"]), what)
            else:
                raise ShimError("%s was not produced (no value in %s and no file %s)"
                                % (what, eo_path, p["outputFile"]))
            write_text(p["argoPath"], canon(p["type"], v))
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
        write_text(a["metadataPath"], json.dumps(md if isinstance(md, dict) else {}, separators=SEP))
        write_text(a["digestPath"], digest(a["path"]))
    if errors:
        raise ShimError("; ".join(errors))


def run(argv):
    if len(argv) < 4 or argv[2] != "--":
        raise ShimError("usage: python3 -c SHIM '<SPEC JSON>' -- COMMAND [ARGS...]")
    try:
        spec = json.loads(argv[1])
        marker, outs = spec["marker"], spec["outputs"]
        for p in list(spec.get("inputs", {}).get("parameters", {}).values()) + \
                list(outs.get("parameters", {}).values()):
            if p["type"] not in PARAM_TYPES:
                raise ShimError("invalid SPEC: unsupported parameter type %r" % p["type"])
        ei = json.dumps(build_executor_input(spec))  # ASCII-only: safe in argv under any locale
        paths = [outs["executorOutput"]] + \
            [p[k] for p in outs.get("parameters", {}).values() for k in ("outputFile", "argoPath")] + \
            [a[k] for a in outs.get("artifacts", {}).values()
             for k in ("path", "metadataPath", "digestPath")]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ShimError("invalid SPEC: %s: %s" % (type(e).__name__, e))
    for path in paths:
        mkparent(path)
    cmd = [ei if x == marker else x for x in argv[3:]]
    try:  # own process group, so a signal reaches the sh wrappers and the python under them
        child = subprocess.Popen(cmd, start_new_session=True)
    except OSError as e:
        raise ShimError("cannot start %r: %s" % (cmd[0], e))

    def forward(signum, _frame):
        try:
            os.killpg(child.pid, signum)
        except OSError:
            pass
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, forward)
    rc = child.wait()
    if rc != 0:
        return 128 - rc if rc < 0 else rc
    collect_outputs(spec)
    return 0


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
