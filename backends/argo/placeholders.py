"""Resolve KFP container placeholders to Argo variables and the pod contract's paths.

`{{$.inputs.parameters['x']}}` becomes `{{inputs.parameters.x}}`; artifact paths and URIs become
the fixed local paths of docs/design.md; Concat and IfPresent (JSON strings in the IR) are
resolved here, at translate time, because whether an input is present is known per task.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Callable

from translator import graph as g
from translator.errors import TranslateError
from translator.runtime.podshim import B64_PREFIX  # the pod contract owns the transport prefix

from .names import param_name
from .values import ABSENT

INPUTS_DIR = "/kfp/inputs"
OUTPUTS_DIR = "/kfp/outputs"
SHIM_DIR = f"{OUTPUTS_DIR}/.kfp"
LBRACE_ENV = "KFPT_LBRACE"  # an env var holding "{", see Resolver.param_ref

_PLACEHOLDER = re.compile(r"\{\{\$(?:\.[^{}]*)?\}\}")
_INPUT_PARAM = re.compile(r"""^\{\{\$\.inputs\.parameters\[['"]([^'"]+)['"]\]\}\}$""")
_INPUT_ART = re.compile(r"""^\{\{\$\.inputs\.artifacts\[['"]([^'"]+)['"]\]\.(path|uri|metadata)\}\}$""")
_INPUT_ART_LIST = re.compile(r"""^\{\{\$\.inputs\.artifacts\[['"]([^'"]+)['"]\]\}\}$""")
_OUTPUT_ART = re.compile(r"""^\{\{\$\.outputs\.artifacts\[['"]([^'"]+)['"]\]\.(path|uri|metadata)\}\}$""")
_OUTPUT_PARAM = re.compile(r"""^\{\{\$\.outputs\.parameters\[['"]([^'"]+)['"]\]\.output_file\}\}$""")

# Run-level placeholders KFP substitutes for every task, and their Argo equivalents.
RUN_PLACEHOLDERS = {
    "{{$.pipeline_job_name}}": "{{workflow.name}}",
    "{{$.pipeline_job_resource_name}}": "{{workflow.name}}",
    "{{$.pipeline_job_uuid}}": "{{workflow.uid}}",
    "{{$.pipeline_job_create_time_utc}}": "{{workflow.creationTimestamp}}",
    "{{$.pipeline_job_schedule_time_utc}}": "{{workflow.creationTimestamp}}",
    "{{$.workspace_path}}": "/kfp-workspace",  # kfp.dsl.constants.WORKSPACE_MOUNT_PATH
}


def input_path(name: str) -> str:
    return f"{INPUTS_DIR}/{name}"


def output_path(name: str) -> str:
    return f"{OUTPUTS_DIR}/{name}"


def metadata_param(artifact: str) -> str:
    return param_name(f"{artifact}-metadata")


def digest_param(artifact: str) -> str:
    return param_name(f"{artifact}-digest")


def item_param(artifact: str) -> str:
    """`{"key": <object key>, "metadata": {...}}` of one collected artifact."""
    return param_name(f"{artifact}-item")


def items_param(artifact: str) -> str:
    """A collection: the JSON list (nested per loop level) of its items' `-item` objects."""
    return param_name(f"{artifact}-items")


def prefix_param(artifact: str) -> str:
    return param_name(f"{artifact}-prefix")


@dataclass
class Resolver:
    """What a placeholder may refer to in one task's template, and how to say it in Argo."""

    params: set[str]  # input parameters the template declares
    artifacts: set[str]  # input artifacts the template declares
    output_params: set[str]
    output_artifacts: set[str]
    element: str
    task_name: str = ""
    listed: frozenset = frozenset()  # input artifacts that are collections
    collected: dict = field(default_factory=dict)  # dsl.Collected inputs: name -> (list depth, leaf KFP type)

    @staticmethod
    def param_ref(name: str) -> str:
        """A run-time value in command/args/env, arriving as the user's bytes: our base64 form
        (values Argo would rewrite travel so) decoded; `$` doubled so the kubelet's `$(VAR)`
        expansion gives back the value itself; and each `{{` written `{` + `$(KFPT_LBRACE)`
        (an env var holding `{`), because Argo scans the pod spec once more after inserting the
        value (substitutePodParams) and would rewrite its tags; the kubelet joins it back."""
        ref = "inputs.parameters[%s]" % json.dumps(name)
        prefix = json.dumps(B64_PREFIX)
        value = "(sprig.hasPrefix(%s, %s) ? sprig.b64dec(sprig.trimPrefix(%s, %s)) : %s)" % (prefix, ref, prefix, ref, ref)
        return '{{=sprig.replace("{{", "{$(%s)", sprig.replace("$", "$$", %s))}}' % (LBRACE_ENV, value)

    @staticmethod
    def collected_ref(name: str, depth: int, leaf: str) -> str:
        """A dsl.Collected input in command/args/env: the JSON list KFP gives, typed per element.
        Argo's loop aggregation hands over a list of *strings* ("10") unless every value is a
        JSON object or array (then parsed); skipped iterations are ABSENT. The expression retypes
        each leaf at its translate-time KFP type, then protects the text as param_ref does."""
        listed = "toJson(%s)" % _collected_level('inputs.parameters[%s]' % json.dumps(name), depth, leaf)
        return '{{=sprig.replace("{{", "{$(%s)", sprig.replace("$", "$$", %s))}}' % (LBRACE_ENV, listed)

    def _one(self, text: str) -> str:
        if text in RUN_PLACEHOLDERS:
            return RUN_PLACEHOLDERS[text]
        if text == "{{$.pipeline_task_name}}":
            return self.task_name
        if text == "{{$.pipeline_task_uuid}}":
            return "{{pod.name}}"
        m = _INPUT_PARAM.match(text)
        if m:
            name = m.group(1)
            if name not in self.params:
                return ""  # an absent optional input renders as empty, as in KFP
            if name in self.collected:
                return self.collected_ref(param_name(name), *self.collected[name])
            return self.param_ref(param_name(name))
        m = _INPUT_ART.match(text)
        if m:
            name, attr = m.groups()
            if name not in self.artifacts:
                raise TranslateError(f"placeholder {text} names an artifact input that is not bound", element=self.element)
            if attr == "metadata":
                return self.param_ref(metadata_param(name))
            return input_path(name)
        m = _INPUT_ART_LIST.match(text)
        if m:
            return self.artifact_list(m.group(1), text)
        m = _OUTPUT_ART.match(text)
        if m:
            if m.group(2) == "metadata":
                return "{}"  # an output artifact's metadata is empty when the task starts
            if m.group(1) not in self.output_artifacts:
                raise TranslateError(f"placeholder {text} names an undeclared output artifact", element=self.element)
            return output_path(m.group(1))
        m = _OUTPUT_PARAM.match(text)
        if m:
            if m.group(1) not in self.output_params:
                raise TranslateError(f"placeholder {text} names an undeclared output parameter", element=self.element)
            return output_path(m.group(1))
        raise TranslateError(f"unsupported placeholder {text}", element=self.element)

    def accessor(self, text: str) -> str:
        """An expression reading the input that a lone `{{$.inputs.parameters['x']}}` names."""
        found = _INPUT_PARAM.match(text)
        if not found or found.group(1) not in self.params:
            raise TranslateError(f"expected a bound input placeholder, got {text}", element=self.element)
        return "inputs.parameters['%s']" % param_name(found.group(1))  # single quotes: used in JSON text

    def artifact_list(self, name: str, text: str) -> str:
        """`{{$.inputs.artifacts['x']}}`: the artifacts as a JSON list of {name, uri, metadata}
        (uri is the local path, as for every artifact here), built by Argo at run time."""
        if name not in self.artifacts:
            raise TranslateError(f"placeholder {text} names an artifact input that is not bound", element=self.element)
        q = json.dumps
        if name in self.listed:
            items = 'fromJSON(inputs.parameters[%s])' % q(items_param(name))
            uri = '%s + sprig.trimPrefix(inputs.parameters[%s] + "/", #.key)' % (q(input_path(name) + "/"), q(prefix_param(name)))
            body = 'map(%s, { {"metadata": #.metadata, "name": %s, "uri": %s } })' % (items, q(name), uri)
        else:
            body = '[{"metadata": fromJSON(inputs.parameters[%s]), "name": %s, "uri": %s }]' % (
                q(metadata_param(name)), q(name), q(input_path(name)))
        return '{{=sprig.replace("$", "$$", toJson(%s))}}' % body

    def plain(self, text: str) -> str:
        """Resolve placeholders to plain Argo variables, for fields the kubelet does not expand
        (resource quantities in a pod spec patch)."""
        def one(match: re.Match[str]) -> str:
            found = _INPUT_PARAM.match(match.group(0))
            if found and found.group(1) in self.params:
                return "{{inputs.parameters.%s}}" % param_name(found.group(1))
            return self._one(match.group(0))

        out, last = [], 0
        for match in _PLACEHOLDER.finditer(text):
            self._literal(text[last : match.start()])  # a stray '{{' is refused, as in string()
            out.append(text[last : match.start()])
            out.append(one(match))
            last = match.end()
        self._literal(text[last:])
        out.append(text[last:])
        return "".join(out)

    def _literal(self, text: str, escape: bool = True) -> str:
        if "{{" in text:
            raise TranslateError(f"literal '{{{{' in a container command, argument or setting is not supported "
                                 f"(Argo reads it as its own template syntax): {text[:60]!r}", element=self.element)
        return text.replace("$", "$$") if escape else text

    def string(self, text: str, escape: bool = True) -> str:
        """Resolve every placeholder embedded in one string; literal text is kubelet-escaped
        unless `escape` is false (a container component's command and args: KFP hands them to
        the kubelet as written, which expands `$(VAR)` there)."""
        out, last = [], 0
        for match in _PLACEHOLDER.finditer(text):
            out.append(self._literal(text[last : match.start()], escape))
            out.append(self._one(match.group(0)))
            last = match.end()
        out.append(self._literal(text[last:], escape))
        return "".join(out)

    def argv(self, parts: tuple[str, ...], keep: Callable[[str], bool] = lambda s: False, escape: bool = True) -> list[str]:
        """Resolve a command or args list; Concat/IfPresent may expand to zero or more items."""
        out: list[str] = []
        for part in parts:
            if keep(part):
                out.append(part)
                continue
            out.extend(self._expand(part, escape))
        return out

    def _expand(self, node: object, escape: bool = True) -> list[str]:
        if isinstance(node, str):
            structured = _structured(node)
            return [self.string(node, escape)] if structured is None else self._expand(structured, escape)
        if isinstance(node, list):
            return [x for item in node for x in self._expand(item, escape)]
        if isinstance(node, dict) and "Concat" in node:
            return ["".join("".join(self._expand(item, escape)) for item in node["Concat"])]
        if isinstance(node, dict) and "IfPresent" in node:
            spec = node["IfPresent"]
            name = spec.get("InputName")
            present = name in self.params or name in self.artifacts
            branch = spec.get("Then") if present else spec.get("Else")
            return self._expand(branch or [], escape)
        raise TranslateError(f"unsupported structured placeholder {json.dumps(node)[:80]}", element=self.element)


def _unb64(x: str) -> str:
    prefix = json.dumps(B64_PREFIX)
    return "(sprig.hasPrefix(%s, %s) ? sprig.b64dec(sprig.trimPrefix(%s, %s)) : %s)" % (prefix, x, prefix, x, x)


def _collected_leaf(x: str, leaf: str) -> str:
    """One collected value as KFP types it: Argo gives a string (our shim's canonical text,
    base64-protected when Argo would rewrite it) or, for JSON objects/arrays, the parsed value."""
    text = "trim(%s)" % _unb64(x)
    if leaf == g.INTEGER:
        return "asInt(%s)" % text
    if leaf == g.DOUBLE:
        return "asFloat(%s)" % text
    if leaf == g.BOOLEAN:  # the pod shim's spellings (podshim.BOOLS); anything else fails the pod
        truths = json.dumps(["true", "True", "TRUE", "t", "T", "1"])
        falsehoods = json.dumps(["false", "False", "FALSE", "f", "F", "0"])
        return '(%s in %s ? true : %s in %s ? false : asInt("not a boolean: " + %s))' % (
            text, truths, text, falsehoods, text)
    if leaf == g.STRING:
        return '(type(%s) == "string" ? %s : toJson(%s))' % (x, _unb64(x), x)
    return '(type(%s) == "string" ? fromJSON(%s) : %s)' % (x, _unb64(x), x)


def _collected_level(x: str, depth: int, leaf: str) -> str:
    """`depth` levels of lists (a string of JSON when Argo could not parse every value at
    that level), skipped iterations dropped, leaves retyped."""
    items = '(type(%s) == "string" ? fromJSON(%s) : %s)' % (x, x, x)
    kept = "filter(%s, { # != %s })" % (items, json.dumps(ABSENT, ensure_ascii=False))
    inner = _collected_leaf("#", leaf) if depth == 1 else _collected_level("#", depth - 1, leaf)
    return "map(%s, { %s })" % (kept, inner)


def _structured(part: str) -> object | None:
    """Concat/IfPresent placeholders arrive as JSON strings like '{"Concat": [...]}'."""
    if not part.startswith('{"Concat"') and not part.startswith('{"IfPresent"'):
        return None
    try:
        return json.loads(part)
    except json.JSONDecodeError:
        return None
