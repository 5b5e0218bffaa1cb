"""dsl.Collected: parameter lists (typed leaves) and artifact collections (items keyed per pod
under a template prefix, gathered by Argo's loop aggregation).

Mixed into dag._Scope; `self` is that scope.
"""
from __future__ import annotations

from hera.workflows import models as m

from translator import graph as g
from translator.errors import TranslateError

from . import placeholders as ph
from .names import param_name

from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    """A value collected out of loops (dsl.Collected): `depth` levels of lists of `leaf` values.

    Argo aggregates a looped task's output into a JSON list of *strings* unless every value is
    a JSON object or array, so the ints of a List[int] arrive as "1"; the consumer's pod shim
    retypes the leaves, which it can only do when told their KFP type.
    """

    depth: int
    leaf: str


class CollectionMixin:
    def shape(self, binding: g.Binding) -> Shape | None:
        """The collected shape of a parameter binding, or None for a plain value."""
        if isinstance(binding, g.FromInput):
            return self.shapes.get(binding.name)
        if not isinstance(binding, g.FromTask) or binding.task not in self.task_names:
            return None
        task = self._task(binding.task)
        impl = task.component.impl
        if isinstance(impl, g.ContainerImpl):
            out = task.component.interface.output_param(binding.output)
            inner = Shape(0, out.type) if out else None
        elif isinstance(impl, g.DagImpl):
            source = next((o for o in impl.outputs if o.name == binding.output and not o.is_artifact), None)
            if source is None:
                return None
            child = type(self)(self.emitter, impl, self.element, self.child_shapes(task), names_only=True)
            inner = child.shape(source.sources[0])
        else:
            return None
        if task.iterator is not None:
            return Shape(inner.depth + 1, inner.leaf) if inner else None
        return inner

    def child_shapes(self, task: g.Task) -> dict[str, Shape]:
        """Shapes of the collected values a DAG task passes to its DAG template."""
        shapes = {}
        for name, binding in task.params:
            found = self.shape(binding)
            if found is not None and found.depth > 0:
                shapes[name] = found
        it = task.iterator
        if it is not None and not it.is_artifact and isinstance(it.items, g.FromInput):
            source = dict(task.params).get(it.items.name)
            found = self.shape(source) if source is not None else None
            if found is not None and found.depth > 1:
                shapes[it.item_input] = Shape(found.depth - 1, found.leaf)
        return shapes

    def is_collection(self, binding: g.Binding) -> bool:
        """Is this artifact binding a dsl.Collected list (out of a loop, possibly re-exported)?"""
        if isinstance(binding, g.FromInput):
            return binding.name in self.listed
        if not isinstance(binding, g.FromTask) or binding.task not in self.task_names:
            return False
        task = self._task(binding.task)
        impl = task.component.impl
        if not isinstance(impl, g.DagImpl):
            return False
        if task.iterator is not None:
            return True
        source = next((o for o in impl.outputs if o.name == binding.output and o.is_artifact), None)
        if source is None:
            return False
        child = type(self)(self.emitter, impl, self.element, names_only=True, listed=self.child_listed(task))
        return child.is_collection(source.sources[0])

    def child_listed(self, task: g.Task) -> frozenset:
        return frozenset(name for name, b in task.artifacts if self.is_collection(b))

    def child_keyed(self, task: g.Task) -> frozenset:
        """Outputs of a DAG task whose objects must report their keys."""
        impl = task.component.impl
        assert isinstance(impl, g.DagImpl)
        if task.iterator is not None:  # everything a loop body makes is collected
            return frozenset(o.name for o in impl.outputs if o.is_artifact)
        return frozenset(self.keyed_outputs(task))

    def keyed_outputs(self, task: g.Task) -> tuple[str, ...]:
        """Outputs of a task that feed a keyed (collected) output of this DAG."""
        wanted = set()
        for out in self.dag.outputs:
            if out.is_artifact and out.name in self.keyed:
                wanted.update(src.output for src in out.sources if src.task == task.name)
        return tuple(sorted(wanted))

    def prefix(self, task_name: str, output: str, element: str) -> str:
        found = self.emitter.prefixes.get((self.task_templates.get(task_name, ""), output))
        if found is None:
            raise TranslateError(f"cannot locate the collection '{output}' of task '{task_name}'", element=element)
        return found

    def collection_args(self, name: str, binding: g.Binding, with_digest: bool, element: str) -> tuple[m.Artifact, list[m.Parameter]]:
        """A collection: one input artifact holding the whole prefix, plus the items' keys."""
        aname = param_name(name)
        if isinstance(binding, g.FromInput):
            art = m.Artifact(name=aname, from_="{{inputs.artifacts.%s}}" % param_name(binding.name))
            ref = "{{inputs.parameters.%s}}"
            source = binding.name
            prefix = ref % ph.prefix_param(source)
            keys = ref % ph.items_param(source)
        else:
            assert isinstance(binding, g.FromTask)
            producer = self._producer(binding.task, element)
            prefix = self.prefix(binding.task, binding.output, element)
            art = m.Artifact(name=aname, s3=m.S3Artifact(key=prefix), archive=m.ArchiveStrategy(none=m.NoneStrategy()))
            ref = "{{tasks.%s.outputs.parameters.%%s}}" % producer
            source = binding.output
            keys = ref % ph.item_param(source)
        params = [
            m.Parameter(name=ph.metadata_param(name), value=ref % ph.metadata_param(source)),
            m.Parameter(name=ph.items_param(name), value=keys),
            m.Parameter(name=ph.prefix_param(name), value=prefix),
        ]
        if with_digest:
            params.append(m.Parameter(name=ph.digest_param(name), value=ref % ph.digest_param(source)))
        return art, params

