"""dsl.ParallelFor: withItems, withParam, artifact collections, parallelism wrappers.

Mixed into dag._Scope; `self` is that scope.
"""
from __future__ import annotations

from hera.workflows import models as m

from translator import graph as g
from translator.errors import TranslateError

from . import placeholders as ph
from .names import param_name


class LoopMixin:
    def loop(self, task: g.Task, dag_task: m.DAGTask, where: str) -> m.DAGTask:
        """ParallelFor: `withItems` for a literal list, `withParam` for a list chosen at run time.

        A parallelism limit needs a DAG of its own (Argo's `parallelism` caps a template's
        children), so a limited loop becomes a wrapper template holding the looped task.
        """
        it = task.iterator
        assert it is not None
        params = list(dag_task.arguments.parameters or []) if dag_task.arguments else []
        artifacts = list(dag_task.arguments.artifacts or []) if dag_task.arguments else []
        with_items = with_param = None
        item_params = [m.Parameter(name=param_name(it.item_input), value="{{item}}")]
        item_artifacts: list[m.Artifact] = []
        if it.is_artifact:
            # Over a collection: one iteration per {key, metadata} item, the item's object as input.
            name = it.items.name if isinstance(it.items, g.FromInput) else ""
            source = task.artifact(name)
            if source is None or not self.is_collection(source):
                raise TranslateError(f"loop items come from artifact '{name}', which is not a collection", element=where)
            with_param = next(p.value for p in params if p.name == ph.items_param(name))
            item_params = [
                m.Parameter(name=ph.metadata_param(it.item_input), value="{{item.metadata}}"),
                m.Parameter(name=ph.digest_param(it.item_input), value="key:{{item.key}}"),
            ]
            item_artifacts = [m.Artifact(name=param_name(it.item_input), s3=m.S3Artifact(key="{{item.key}}"), archive=m.ArchiveStrategy(none=m.NoneStrategy()))]
        elif isinstance(it.items, g.Const):
            if not isinstance(it.items.value, list):
                raise TranslateError("loop items are not a list", element=where)
            with_items = [m.Item(x) for x in it.items.value]
        else:
            source = dict(task.params).get(it.items.name) if isinstance(it.items, g.FromInput) else None
            if source is None:
                raise TranslateError(f"loop items come from '{getattr(it.items, 'name', '?')}', which the task does not receive", element=where)
            pdef = task.component.interface.input_param(it.items.name)
            with_param = self.param_value(source, pdef.type if pdef else g.LIST, where, task)
        if it.parallelism is None:
            return dag_task.model_copy(update={
                "with_items": with_items, "with_param": with_param,
                "arguments": m.Arguments(parameters=params + item_params, artifacts=(artifacts + item_artifacts) or None),
            })
        wrapper_name = self.emitter.names.claim(f"limit:{dag_task.template}:{it.parallelism}:{where}", f"{dag_task.template}-limit")
        inner_params = [m.Parameter(name=p.name, value="{{inputs.parameters.%s}}" % p.name) for p in params]
        inner_params.extend(item_params)
        inner_artifacts = [m.Artifact(name=a.name, from_="{{inputs.artifacts.%s}}" % a.name) for a in artifacts]
        inner_artifacts.extend(item_artifacts)
        wrapper_inputs = [m.Parameter(name=p.name) for p in params]
        if with_param is not None:
            wrapper_inputs.append(m.Parameter(name="kfp-loop-items"))
            params.append(m.Parameter(name="kfp-loop-items", value=with_param))
        inner = m.DAGTask(
            name=dag_task.name,
            template=dag_task.template,
            arguments=m.Arguments(parameters=inner_params, artifacts=inner_artifacts or None),
            with_items=with_items,
            with_param="{{inputs.parameters.kfp-loop-items}}" if with_param is not None else None,
        )
        body = self.emitter.template_named(dag_task.template)
        body_outputs = [p.name for p in (body.outputs.parameters or [])] if body.outputs else []
        wrapper_outputs = [
            m.Parameter(name=p, value_from=m.ValueFrom(parameter="{{tasks.%s.outputs.parameters.%s}}" % (inner.name, p)))
            for p in body_outputs
        ]
        self.emitter.templates.append(
            m.Template(
                name=wrapper_name,
                inputs=m.Inputs(parameters=wrapper_inputs or None, artifacts=[m.Artifact(name=a.name) for a in artifacts] or None),
                outputs=m.Outputs(parameters=wrapper_outputs) if wrapper_outputs else None,
                parallelism=it.parallelism,
                dag=m.DAGTemplate(tasks=[inner]),
            )
        )
        return dag_task.model_copy(update={
            "template": wrapper_name,
            "arguments": m.Arguments(parameters=params or None, artifacts=artifacts or None) if (params or artifacts) else None,
        })

