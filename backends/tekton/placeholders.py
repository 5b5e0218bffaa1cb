"""KFP container placeholders → Tekton variables and the pod contract's paths.

Concat/IfPresent are expanded by the shared structured-placeholder walk (the Argo resolver's
`argv`/`_expand`); only what a single placeholder becomes differs: `$(params.x)` for an input,
the same local paths as on Argo for artifacts and output files (docs/design.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from backends.argo import placeholders as argo_ph
from translator.errors import TranslateError

from .flatten import RUN_PLACEHOLDERS, TEKTON_VAR  # noqa: F401  (TEKTON_VAR: literals that spell a Tekton variable)
from .names import param_name
from .steps import INPUTS_DIR, OUTPUTS_DIR



def metadata_param(artifact: str) -> str:
    return param_name(f"{artifact}-metadata")


def location_param(artifact: str) -> str:
    return param_name(f"{artifact}-location")


@dataclass
class Resolver(argo_ph.Resolver):
    """One task's placeholders in Tekton terms (literal text kubelet-escaped)."""

    # inputs whose whole placeholder a step before the component writes (a step result reference)
    prepared: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def param_ref(name: str) -> str:
        return f"$(params.{name})"

    def _one(self, text: str) -> str:
        if text in RUN_PLACEHOLDERS:
            return RUN_PLACEHOLDERS[text]
        if text == "{{$.pipeline_task_name}}":
            return self.task_name
        if text.startswith("{{$.pipeline_job_") :
            raise TranslateError(f"placeholder {text} has no Tekton equivalent", element=self.element)
        found = argo_ph._INPUT_PARAM.match(text) or argo_ph._INPUT_ART_LIST.match(text)
        if found and found.group(1) in self.prepared:
            return self.prepared[found.group(1)]
        found = argo_ph._INPUT_PARAM.match(text)
        if found:
            return self.param_ref(param_name(found.group(1))) if found.group(1) in self.params else ""
        found = argo_ph._INPUT_ART.match(text)
        if found:
            name, attr = found.groups()
            if name not in self.artifacts:
                raise TranslateError(f"placeholder {text} names an artifact input that is not bound", element=self.element)
            return self.param_ref(metadata_param(name)) if attr == "metadata" else f"{INPUTS_DIR}/{name}"
        if argo_ph._INPUT_ART_LIST.match(text):
            raise TranslateError(f"placeholder {text} (a whole artifact list) is not supported on Tekton yet",
                                 element=self.element)
        found = argo_ph._OUTPUT_ART.match(text) or argo_ph._OUTPUT_PARAM.match(text)
        if found:
            if found.group(0).endswith(".metadata}}"):
                return "{}"
            if found.group(1) not in self.output_artifacts | self.output_params:
                raise TranslateError(f"placeholder {text} names an undeclared output", element=self.element)
            return f"{OUTPUTS_DIR}/{found.group(1)}"
        raise TranslateError(f"unsupported placeholder {text}", element=self.element)

    def literal(self, text: str) -> str:
        if TEKTON_VAR.search(text):
            raise TranslateError(f"literal text {text[:60]!r} spells a Tekton variable, which Tekton would "
                                 "substitute", element=self.element)
        return text.replace("$", "$$")

    def string(self, text: str, escape: bool = True) -> str:
        """Resolve one string. `escape` is the Argo resolver's switch for container commands; on
        Tekton literal text is always escaped, since `$(...)` there is Tekton's own syntax."""
        out, last = [], 0
        for match in argo_ph._PLACEHOLDER.finditer(text):
            out.append(self.literal(text[last: match.start()]))
            out.append(self._one(match.group(0)))
            last = match.end()
        out.append(self.literal(text[last:]))
        return "".join(out)
