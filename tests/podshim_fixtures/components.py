"""Real KFP lightweight components run through the pod shim by tests/test_podshim.py.

KFP copies each function's source into the container command, so every body imports what it
uses. Components report what they received (values and Python types) so the tests can check
that inputs arrive typed and unchanged.
"""
from typing import Dict, List, NamedTuple, Optional

from kfp import dsl
from kfp.dsl import (Artifact, ClassificationMetrics, Dataset, Input, Metrics, Model, Output,
                     OutputPath)

IMAGE = "python:3.11"  # irrelevant here (no container runtime); fixed to avoid SDK warnings


@dsl.component(base_image=IMAGE)
def echo_types(s: str, i: int, f: float, b: bool, l: list, d: dict) -> NamedTuple(
        "Outputs", [("s", str), ("i", int), ("f", float), ("b", bool), ("l", list), ("d", dict),
                    ("seen", str)]):
    import json
    seen = json.dumps({"s": type(s).__name__, "i": type(i).__name__, "f": type(f).__name__,
                       "b": type(b).__name__, "l": type(l).__name__, "d": type(d).__name__})
    return (s, i, f, b, l, d, seen)


@dsl.component(base_image=IMAGE)
def defaults(o: Optional[str] = None, n: int = 5, x: float = 0.5, flag: bool = True,
             tags: List[str] = ["a", "b"], ints: List[int] = [1, 2],
             cfg: Optional[Dict[str, int]] = None, maybe_n: Optional[int] = None) -> str:
    import json
    got = {"o": o, "n": n, "x": x, "flag": flag, "tags": tags, "ints": ints, "cfg": cfg,
           "maybe_n": maybe_n}
    return json.dumps({k: [v, type(v).__name__] for k, v in got.items()}, sort_keys=True)


@dsl.component(base_image=IMAGE)
def write_outputs(text: str, n: int, p_text: OutputPath(str), p_int: OutputPath(int),
                  p_float: OutputPath(float), p_bool: OutputPath(bool), p_list: OutputPath(list),
                  p_dict: OutputPath(dict)):
    import json
    with open(p_text, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    with open(p_int, "w") as f:
        f.write(" %d\n" % n)  # KFP's launcher trims whitespace around numbers
    with open(p_float, "w") as f:
        f.write(str(n / 4))
    with open(p_bool, "w") as f:
        f.write(str(n > 0))  # "True"/"False", as str(bool) writes it
    with open(p_list, "w") as f:
        json.dump([text, n], f, indent=2)
    with open(p_dict, "w") as f:
        json.dump({"text": text, "n": n}, f, indent=2)


@dsl.component(base_image=IMAGE)
def ret_int(x: int) -> int:
    return x * 2


@dsl.component(base_image=IMAGE)
def ret_float(x: float) -> float:
    return x / 2


@dsl.component(base_image=IMAGE)
def ret_float_from_int(x: int) -> float:
    return x  # KFP accepts an int for a float output


@dsl.component(base_image=IMAGE)
def ret_bool(x: int) -> bool:
    return x % 2 == 0


@dsl.component(base_image=IMAGE)
def ret_list(x: int) -> List[int]:
    return list(range(x))


@dsl.component(base_image=IMAGE)
def ret_dict(x: int) -> Dict[str, int]:
    return {"x": x, "sq": x * x}


@dsl.component(base_image=IMAGE)
def ret_str(x: str) -> str:
    return x[::-1]


@dsl.component(base_image=IMAGE)
def echo_str(s: str, l: list, d: dict, out_file: OutputPath(str)) -> NamedTuple(
        "Echo", [("s", str), ("l", list), ("d", dict), ("n", int), ("codepoints", list)]):
    with open(out_file, "w", encoding="utf-8", newline="") as f:
        f.write(s)
    return (s, l, d, len(s), [ord(c) for c in s])


@dsl.component(base_image=IMAGE)
def produce(text: str, ds: Output[Dataset], model: Output[Model], art: Output[Artifact],
            folder: Output[Artifact]):
    import os
    with open(ds.path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    ds.metadata["rows"] = len(text.splitlines())
    ds.metadata["note"] = text
    with open(model.path, "wb") as f:
        f.write(text.encode("utf-8") * 3)
    model.framework = "sklearn"
    model.metadata["accuracy"] = 0.875
    with open(art.path, "wb") as f:
        f.write(bytes(range(256)))
    os.makedirs(os.path.join(folder.path, "sub", "empty"))
    with open(os.path.join(folder.path, "a.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(folder.path, "sub", "b.bin"), "wb") as f:
        f.write(b"\x00\x01" + text.encode("utf-8"))
    folder.metadata["files"] = 2


@dsl.component(base_image=IMAGE)
def consume(ds: Input[Dataset], model: Input[Model], art: Input[Artifact],
            folder: Input[Artifact]) -> NamedTuple("Report", [("report", str)]):
    import hashlib
    import json
    import os
    tree = {}
    for root, dirs, files in os.walk(folder.path):
        for n in dirs + files:
            p = os.path.join(root, n)
            rel = os.path.relpath(p, folder.path)
            tree[rel] = None if os.path.isdir(p) else open(p, "rb").read().hex()
    with open(ds.path, encoding="utf-8", newline="") as f:
        ds_text = f.read()
    report = {
        "classes": [type(a).__name__ for a in (ds, model, art, folder)],
        "uri_is_path": [a.uri == a.path for a in (ds, model, art, folder)],
        "ds_text": ds_text, "ds_metadata": ds.metadata,
        "model_sha": hashlib.sha256(open(model.path, "rb").read()).hexdigest(),
        "model_framework": model.framework, "model_metadata": model.metadata,
        "art_hex": open(art.path, "rb").read().hex(), "folder_tree": tree,
        "folder_metadata": folder.metadata,
    }
    return (json.dumps(report, sort_keys=True),)


@dsl.component(base_image=IMAGE)
def metrics(acc: float, labels: List[str], matrix: List[List[int]], m: Output[Metrics],
            cm: Output[ClassificationMetrics]):
    m.log_metric("accuracy", acc)
    m.log_metric("count", len(labels))
    cm.log_confusion_matrix(labels, matrix)
    cm.log_roc_curve([0.0, 0.5, 1.0], [0.0, 0.8, 1.0], [1.0, 0.5, 0.0])


@dsl.component(base_image=IMAGE)
def gather(items: Input[List[Dataset]]) -> str:
    import json
    return json.dumps([{"text": open(a.path, encoding="utf-8").read(), "metadata": a.metadata,
                        "class": type(a).__name__, "uri_is_path": a.uri == a.path}
                       for a in items])


@dsl.component(base_image=IMAGE)
def pythonic(text: str) -> Dataset:
    ds = Dataset(uri=dsl.get_uri())
    with open(ds.path, "w", encoding="utf-8") as f:
        f.write(text)
    ds.metadata["len"] = len(text)
    return ds


@dsl.component(base_image=IMAGE)
def boom(msg: str, out: Output[Dataset]) -> int:
    with open(out.path, "w") as f:
        f.write("partial")
    raise ValueError(msg)


@dsl.component(base_image=IMAGE)
def exit_with(code: int):
    import sys
    sys.exit(code)


@dsl.component(base_image=IMAGE)
def forgets_artifact(ds: Output[Dataset], m: Output[Metrics]):
    m.log_metric("x", 1.0)  # a metrics-only artifact is fine; the Dataset is never written


@dsl.component(base_image=IMAGE)
def forgets_param(p: OutputPath(str)):
    pass


@dsl.component(base_image=IMAGE)
def sleeper(pid_file: str):
    import os
    import time
    with open(pid_file + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(pid_file + ".tmp", pid_file)
    time.sleep(300)


@dsl.component(base_image=IMAGE)
def custom_path_writer(where: str, text: str, model: Output[Model]):
    model.set_path(where)  # KFP uploads from a custom path; the shim copies it into place
    with open(model.path, "w", encoding="utf-8") as f:
        f.write(text)
    model.metadata["where"] = where


@dsl.component(base_image=IMAGE)
def braces(x: str) -> NamedTuple("B", [("fmt", str), ("jinja", str)]):
    # Source text with double braces: the translator base64-guards such argv elements.
    return (f"{{{x}}}", "{{ " + x + " }}")
