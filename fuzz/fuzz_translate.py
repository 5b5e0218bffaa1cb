"""Coverage-guided fuzzing (atheris/libFuzzer) of the loader and the Argo translation.

    make fuzz FUZZ_SECONDS=600          # or: python fuzz/fuzz_translate.py [libFuzzer flags]

Inputs are pipeline files (YAML/JSON text), seeded with the KFP corpus and our own IR files.
A custom mutator edits the parsed document (drops keys, swaps in values and names found
elsewhere in it, odd scalars) half of the time and libFuzzer's byte mutations the other half,
so inputs reach the translation instead of stopping at the YAML parser. A finding is any
exception other than a TranslateError, and any InternalValidationError ("please report this
bug"): keep the input under tests/fuzz_regressions/ once it is fixed.
"""
from __future__ import annotations

import os
import random
import shutil
import sys
from pathlib import Path

import atheris
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

with atheris.instrument_imports(include=["translator", "backends"]):
    import backends.argo  # noqa: F401
    import translator
    from translator import loader
    from translator.cli import dump_yaml
    from translator.errors import InternalValidationError, TranslateError

WORK = REPO / ".cache" / "fuzz"
ODD = [None, "", 0, -1, 1, 2**63, 1.5, float("inf"), True, False, [], {}, "{{x}}", "}}", "a\nb", "\uffff",
       "$(x)", "'\"", "x" * 300, "-", ".", "0", "NUMBER_INTEGER", "STRING", "LIST", "STRUCT", "BOOLEAN",
       "system.Artifact", "ALL_UPSTREAM_TASKS_COMPLETED", "parseJson(string_value)[\"a\"]"]


def _paths(node, prefix=()):
    yield prefix, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _strings(doc) -> list:
    found = set()
    for path, node in _paths(doc):
        if path and isinstance(path[-1], str):
            found.add(path[-1])
        if isinstance(node, str) and len(node) < 80:
            found.add(node)
    return sorted(found)


def _mutate_doc(doc, rng: random.Random) -> None:
    paths = [p for p, _ in _paths(doc) if p]
    if not paths:
        return
    names = _strings(doc)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(paths)
        parent = doc
        try:
            for step in path[:-1]:
                parent = parent[step]
        except (KeyError, IndexError, TypeError):
            continue
        key = path[-1]
        choice = rng.randrange(6)
        try:
            if choice == 0:  # drop
                del parent[key]
            elif choice == 1:  # an odd scalar or container
                parent[key] = rng.choice(ODD)
            elif choice == 2:  # a name found elsewhere (cross references: tasks, outputs, components)
                parent[key] = rng.choice(names) if names else "x"
            elif choice == 3 and isinstance(parent, dict):  # copy under another name
                parent[rng.choice(names) if names else "copy"] = parent[key]
            elif choice == 4:  # a subtree found elsewhere
                other = rng.choice(paths)
                node = doc
                for step in other:
                    node = node[step]
                parent[key] = node
            elif choice == 5 and isinstance(parent[key], list):  # append a name to a list
                parent[key].append(rng.choice(names) if names else "x")
        except (KeyError, IndexError, TypeError, RecursionError):
            continue
        paths = [p for p, _ in _paths(doc) if p] or [()]
        if paths == [()]:
            return


def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    if rng.random() < 0.5:
        return atheris.Mutate(data, max_size)
    try:
        docs = [d for d in yaml.load_all(data.decode("utf-8"), Loader=yaml.CSafeLoader) if d is not None]
        if not docs or not isinstance(docs[0], dict):
            raise ValueError
        _mutate_doc(docs[rng.randrange(len(docs))], rng)
        out = yaml.dump_all(docs, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True).encode()
    except Exception:  # noqa: BLE001 - anything unparsable falls back to byte mutations
        return atheris.Mutate(data, max_size)
    return out if len(out) <= max_size else atheris.Mutate(data, max_size)


KEEP_GOING = os.environ.get("FUZZ_KEEP_GOING") == "1"
"""Record each distinct finding (by where it was raised) under .cache/fuzz/findings and go on,
instead of stopping at the first (long background runs); CI's short run stops and fails."""
_SEEN: set[str] = set()


def _record(data: bytes, exc: BaseException) -> None:
    import hashlib
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    signature = f"{type(exc).__name__}:{frames[-1].filename}:{frames[-1].lineno}" if frames else type(exc).__name__
    if isinstance(exc, InternalValidationError):
        signature += ":" + str(exc).split("(", 1)[-1][:40]
    key = hashlib.sha256(signature.encode()).hexdigest()[:12]
    if key in _SEEN:
        return
    _SEEN.add(key)
    out = WORK / "findings"
    (out / f"finding-{key}.yaml").write_bytes(data)
    (out / f"finding-{key}.txt").write_text(signature + "\n" + "".join(traceback.format_exception(exc)))
    print(f"FINDING {key}: {signature}", file=sys.stderr, flush=True)


def one_input(data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    try:
        manifests = translator.translate(loader.parse_text(text, "<fuzz>"), backend="argo")
        dump_yaml(manifests)
    except InternalValidationError as exc:
        if not KEEP_GOING:
            raise
        _record(data, exc)
    except TranslateError:
        return
    except Exception as exc:  # noqa: BLE001 - every other exception is a finding
        if not KEEP_GOING:
            raise
        _record(data, exc)


def seed_corpus(target: Path) -> None:
    """Fill the working corpus once: the KFP corpus (if present) and our own IR files."""
    if target.is_dir() and any(target.iterdir()):
        return
    target.mkdir(parents=True, exist_ok=True)
    kfp = Path(os.environ.get("KFP_CORPUS", REPO.parent / "shared" / "kfp-corpus"))
    sources = sorted((kfp / "ir").rglob("*.yaml")) + sorted((REPO / "tests" / "compat").rglob("*.yaml"))
    sources += sorted((REPO / "tests" / "fuzz_regressions").glob("*.yaml"))
    for i, src in enumerate(sources):
        shutil.copyfile(src, target / f"seed-{i:04d}-{src.name}")


def main() -> None:
    corpus = WORK / "corpus"
    findings = WORK / "findings"
    seed_corpus(corpus)
    findings.mkdir(parents=True, exist_ok=True)
    _SEEN.update(p.stem.removeprefix("finding-") for p in findings.glob("finding-*.txt"))
    argv = [sys.argv[0], *sys.argv[1:], f"-artifact_prefix={findings}/", "-rss_limit_mb=3072", "-timeout=30",
            "-max_len=262144", str(corpus)]
    atheris.Setup(argv, one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
