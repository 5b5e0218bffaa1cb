"""Read a pipeline from IR YAML/JSON, a Python file with a `@dsl.pipeline`, or a kfp object.

All failures become a one-line `TranslateError` naming the file and the element.
"""
from __future__ import annotations

import contextlib
import errno
import importlib.util
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import yaml

from . import ir, limits
from .checks import check_platform_shape
from .errors import TranslateError

try:  # the C loader is several times faster on large pipelines
    _YamlLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _YamlLoader = yaml.SafeLoader


@dataclass(frozen=True)
class LoadedPipeline:
    spec: ir.PipelineSpec
    platform: dict[str, Any]
    source: str


def _element_for(loc: tuple[Any, ...]) -> str:
    """Turn a pydantic error location into the pipeline element a user recognizes."""
    loc = tuple(str(x) for x in loc)
    if len(loc) >= 2 and loc[0] == "components":
        rest = loc[2:]
        if len(rest) >= 3 and rest[0] == "dag" and rest[1] == "tasks":
            return f"component '{loc[1]}' task '{rest[2]}' field '{'.'.join(rest[3:]) or rest[2]}'"
        return f"component '{loc[1]}' field '{'.'.join(rest)}'"
    if len(loc) >= 3 and loc[0] == "root" and loc[1] == "dag" and loc[2] == "tasks" and len(loc) > 3:
        return f"task '{loc[3]}' field '{'.'.join(loc[4:])}'"
    if len(loc) >= 3 and loc[0] == "deploymentSpec" and loc[1] == "executors":
        return f"executor '{loc[2]}' field '{'.'.join(loc[3:])}'"
    return f"field '{'.'.join(loc)}'" if loc else "document"


def parse_documents(docs: list[Any], source: str) -> LoadedPipeline:
    docs = [d for d in docs if d is not None]
    if not docs:
        raise TranslateError("the file holds no pipeline (it is empty)", file=source)
    if not isinstance(docs[0], dict):
        raise TranslateError("the file is not a KFP pipeline (expected a mapping with pipelineInfo and root)", file=source)
    if len(docs) > 2:
        raise TranslateError(f"expected one or two YAML documents (pipeline, platform spec), found {len(docs)}", file=source)
    platform: dict[str, Any] = {}
    if len(docs) == 2:
        if not isinstance(docs[1], dict) or "platforms" not in docs[1]:
            raise TranslateError("the second document is not a platform spec (no 'platforms' key)", file=source)
        platform = docs[1]
        check_platform_shape(platform, source)
    first = docs[0]
    if "pipelineSpec" in first and "pipelineInfo" not in first:  # a PipelineJob wrapper
        first = first["pipelineSpec"]
    if "pipelineInfo" not in first:
        raise TranslateError("the file is not a KFP pipeline: no 'pipelineInfo'", file=source)
    if "platform_spec" in first:
        raise TranslateError("unsupported wrapper 'platform_spec'", file=source)
    try:
        spec = ir.PipelineSpec.model_validate(first)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        kind = err.get("type")
        if kind == "extra_forbidden":
            what = f"unknown or unsupported IR field '{err['loc'][-1]}'"
        elif kind == "missing":
            what = f"required field '{err['loc'][-1]}' is missing"
        else:
            what = err.get("msg", "invalid value")
        raise TranslateError(what, file=source, element=_element_for(tuple(err["loc"]))) from None
    if not spec.pipelineInfo.name:
        raise TranslateError("the pipeline has no name", file=source, element="pipelineInfo")
    return LoadedPipeline(spec, platform, source)


_IR_KEYS = re.compile(r"^(components|deploymentSpec|pipelineInfo|root|schemaVersion|sdkVersion|defaultPipelineRoot|"
                      r"pipelineSpec|platforms)\s*:", re.M)


def strip_kfp_header(text: str) -> str:
    """Drop the comment header `kfp.compiler` writes: it carries no data, and a default holding a
    newline breaks it (the rest of the value lands outside the comment, as if it were YAML)."""
    if not text.startswith("# PIPELINE DEFINITION"):
        return text
    body = _IR_KEYS.search(text)
    return text[body.start():] if body else text


def parse_text(text: str, source: str, json_only: bool = False) -> LoadedPipeline:
    """Parse IR given as YAML or JSON text (one or two documents)."""
    limits.check_input_size(len(text.encode("utf-8", "surrogatepass")), source)
    try:
        if json_only:
            docs = [json.loads(text)]
        else:
            docs = list(yaml.load_all(strip_kfp_header(text), Loader=_YamlLoader))
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        if "exceeded max depth" in str(getattr(exc, "problem", "")):
            raise TranslateError(f"the document nests too deep{where}", file=source) from None
        raise TranslateError(f"the file is not valid YAML/JSON{where}", file=source) from None
    except RecursionError:
        raise TranslateError(f"the document nests deeper than {limits.MAX_DEPTH} levels", file=source) from None
    except ValueError as exc:  # JSON numbers too long to convert, and the like
        raise TranslateError(f"the file is not valid YAML/JSON: {exc}", file=source) from None
    limits.check_shape(docs, source)
    return parse_documents(docs, source)


def _read_bytes(path: Path) -> bytes:
    with path.open("rb") as fh:
        data = fh.read(limits.MAX_INPUT_BYTES + 1)
    limits.check_input_size(len(data) if len(data) <= limits.MAX_INPUT_BYTES else path.stat().st_size, str(path))
    return data


def load_ir_file(path: Path) -> LoadedPipeline:
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(limits.MAX_INPUT_BYTES + 1)
            limits.check_input_size(len(data), "-")
        else:
            data = _read_bytes(path)
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise TranslateError("the file is not text (expected KFP IR YAML or JSON)", file=str(path)) from None
    except OSError as exc:
        raise TranslateError(f"cannot read the file: {exc.strerror}", file=str(path)) from None
    return parse_text(text, str(path), json_only=path.suffix == ".json")


def sorted_keys(node: Any) -> Any:
    """Mappings with their keys in sorted order, at every depth.

    The protobuf maps `kfp.compiler` fills (struct defaults, a list of dicts) come out in an
    order that depends on the hash seed; sorting makes the output byte-identical across runs.
    """
    if isinstance(node, dict):
        return {k: sorted_keys(node[k]) for k in sorted(node)}
    if isinstance(node, list):
        return [sorted_keys(v) for v in node]
    return node


def compile_object(obj: Any, source: str) -> LoadedPipeline:
    """Compile a kfp pipeline object in-process, taking the IR as the compiler would write it.

    The dicts come straight from the protos (what `kfp.compiler` serializes), not from the
    YAML file: kfp's YAML header comment breaks when a default value holds a newline.
    """
    from google.protobuf import json_format
    from kfp.compiler import pipeline_spec_builder as builder

    try:
        spec_proto = builder.modify_pipeline_spec_with_override(obj.pipeline_spec, None, None, None)
        spec = sorted_keys(json_format.MessageToDict(spec_proto))
        platform = sorted_keys(json_format.MessageToDict(obj.platform_spec)) if len(obj.platform_spec.platforms) else {}
    except Exception as exc:  # the SDK raises many types; all are user errors here
        raise TranslateError(f"kfp could not compile the pipeline: {exc}", file=source) from None
    return parse_documents([spec, platform] if platform else [spec], source)


@contextlib.contextmanager
def _stdout_to_stderr():
    """What the pipeline file prints while imported goes to stderr, never into a manifest on
    stdout: Python-level writes and, where stdout is a real file descriptor, a child's too."""
    fd = None
    try:
        sys.stdout.flush()
        fd = os.dup(1)
        sys.stderr.flush()
        os.dup2(2, 1)
    except (OSError, ValueError, AttributeError):
        fd = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if fd is not None:
            try:
                sys.stderr.flush()
            finally:
                os.dup2(fd, 1)
                os.close(fd)


def load_python(spec: str) -> LoadedPipeline:
    path_text, _, func = spec.partition(":") if spec.count(":") == 1 and not os.path.exists(spec) else (spec, "", "")
    path = Path(path_text)
    if not path.is_file():
        raise TranslateError("no such file", file=path_text)
    module_name = f"_kfp_translate_user_{abs(hash(str(path.resolve())))}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise TranslateError("cannot import the file as Python", file=path_text)
    module = importlib.util.module_from_spec(module_spec)
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        with _stdout_to_stderr():
            module_spec.loader.exec_module(module)
    except SystemExit as exc:
        raise TranslateError(f"importing the file called sys.exit({exc.code!r})", file=path_text) from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - whatever the user's module raises is bad input
        raise TranslateError(f"importing the file failed: {type(exc).__name__}: {exc}", file=path_text) from None
    finally:
        sys.path.pop(0)
    from kfp.dsl import graph_component

    found = {n: o for n, o in vars(module).items() if isinstance(o, graph_component.GraphComponent)}
    if func:
        if func not in found:
            raise TranslateError(f"no @dsl.pipeline function named '{func}' (found: {', '.join(sorted(found)) or 'none'})", file=path_text)
        obj = found[func]
    else:
        if not found:
            raise TranslateError("no @dsl.pipeline function in the file", file=path_text)
        if len(found) > 1:
            raise TranslateError(
                f"several pipelines in the file ({', '.join(sorted(found))}): name one as FILE.py:FUNCTION", file=path_text
            )
        obj = next(iter(found.values()))
    return compile_object(obj, path_text)


def _looks_like_ir_text(text: str) -> bool:
    return "\n" in text or text.lstrip().startswith(("{", "#")) or bool(_IR_KEYS.match(text.lstrip()))


def load(source: Any) -> LoadedPipeline:
    """Load from a path (`.yaml`, `.yml`, `.json`, `.py`, `file.py:func`, `-` for stdin), IR as a
    dict or as YAML/JSON text, or a kfp pipeline object."""
    if isinstance(source, LoadedPipeline):
        return source
    if isinstance(source, dict):
        limits.check_shape([source], "<dict>")
        return parse_documents([source], "<dict>")
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError:
            raise TranslateError("the bytes are not UTF-8 text (expected KFP IR YAML or JSON)", file="<bytes>") from None
        return parse_text(source, "<text>")
    if isinstance(source, str) and _looks_like_ir_text(source):
        return parse_text(source, "<text>")
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if isinstance(text, bytes):
            text = os.fsdecode(text)
        if text == "-":
            return load_ir_file(Path("-"))
        if not text:
            raise TranslateError("no pipeline given (an empty file name)")
        try:
            exists = os.path.exists(text)
        except ValueError:  # a NUL character
            raise TranslateError("not a file name (it holds a NUL character)", file=repr(text[:60])) from None
        base = text.rsplit(":", 1)[0] if text.count(":") == 1 and not exists else text
        if base.endswith(".py"):
            return load_python(text)
        path = Path(text)
        try:
            path.stat()
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                raise TranslateError("neither a file name (too long) nor pipeline IR text", file=text[:60] + "...") from None
            raise TranslateError("no such file", file=text) from None
        if path.is_dir():
            raise TranslateError("is a folder, not a pipeline file", file=text)
        return load_ir_file(path)
    from kfp.dsl import graph_component

    if isinstance(source, graph_component.GraphComponent):
        return compile_object(source, getattr(source, "name", "<pipeline>"))
    raise TranslateError(f"cannot load a pipeline from a {type(source).__name__}")
