"""Experiments as labels: a run's experiment is its `kfp-translate.dev/experiment` label; an
experiment created before any run is a small ConfigMap carrying that label (and its description),
so `list_experiments` is the union of both."""
from __future__ import annotations

from .connection import ENGINES, Connection
from .errors import ClientError, NotFound
from .model import DESCRIPTION, EXPERIMENT, EXPERIMENT_NAME, KIND, Experiment
from .runs import PLURAL, dns_label

PREFIX = "kfpt-experiment-"


def create(conn: Connection, namespace: str, name: str, description: str | None) -> Experiment:
    """Idempotent, as kfp's create_experiment: an existing experiment of that name is returned."""
    eid = dns_label(name)
    body = {"metadata": {"name": PREFIX + eid, "labels": {KIND: "experiment", EXPERIMENT: eid},
                         "annotations": {EXPERIMENT_NAME: name, DESCRIPTION: description or ""}}}
    try:
        conn.call(f"create experiment {name}", conn.core.create_namespaced_config_map, namespace, body)
    except ClientError as exc:
        if exc.status != 409:
            raise
        return _from_configmap(conn.call("read the experiment", conn.core.read_namespaced_config_map, PREFIX + eid, namespace))
    return Experiment(eid, name, namespace, description or "")


def _from_configmap(cm: object) -> Experiment:
    meta = cm.metadata  # type: ignore[attr-defined]
    notes = meta.annotations or {}
    return Experiment(meta.labels[EXPERIMENT], notes.get(EXPERIMENT_NAME, meta.labels[EXPERIMENT]), meta.namespace,
                      notes.get(DESCRIPTION, ""))


def list_all(conn: Connection, engine: str, namespace: str) -> list[Experiment]:
    found: dict[str, Experiment] = {}
    cms = conn.call("list experiments", conn.core.list_namespaced_config_map, namespace,
                    label_selector=f"{KIND}=experiment").items
    for cm in cms:
        exp = _from_configmap(cm)
        found[exp.experiment_id] = exp
    group, version, *_ = ENGINES[engine]
    conn.require_engine(engine)
    items = conn.call("list runs", conn.custom.list_namespaced_custom_object, group, version, namespace, PLURAL[engine],
                      label_selector=EXPERIMENT)["items"]
    for obj in items:
        meta = obj["metadata"]
        eid = meta["labels"][EXPERIMENT]
        found.setdefault(eid, Experiment(eid, (meta.get("annotations") or {}).get(EXPERIMENT_NAME, eid), namespace))
    return sorted(found.values(), key=lambda e: e.experiment_id)


def get(conn: Connection, engine: str, namespace: str, experiment_id: str) -> Experiment:
    for exp in list_all(conn, engine, namespace):
        if exp.experiment_id == experiment_id:
            return exp
    raise NotFound(f"no experiment {experiment_id!r} in namespace {namespace}", element=experiment_id)


def delete(conn: Connection, namespace: str, experiment_id: str) -> None:
    """Forget the experiment (its ConfigMap); its runs keep their label."""
    try:
        conn.call("delete the experiment", conn.core.delete_namespaced_config_map, PREFIX + experiment_id, namespace)
    except NotFound:
        raise NotFound(f"no experiment {experiment_id!r} in namespace {namespace}", element=experiment_id) from None
