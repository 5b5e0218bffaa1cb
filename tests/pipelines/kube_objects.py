"""A pipeline reading a Secret (as env) and a ConfigMap (as files), after a step that needs neither."""
from kfp import dsl, kubernetes
from kfp.dsl import Dataset, Output

IMAGE = "python:3.11-slim"


@dsl.component(base_image=IMAGE)
def first(out: Output[Dataset]) -> str:
    out.metadata["rows"] = 2
    with open(out.path, "w") as f:
        f.write("a\nb\n")
    return "{{workflow.name}} stays"


@dsl.component(base_image=IMAGE)
def uses_objects(before: str) -> str:
    import os

    with open("/etc/settings/mode") as f:
        mode = f.read()
    return f"{before}|{os.environ['DB_PASSWORD']}|{mode}"


@dsl.pipeline(name="kube-objects")
def kube_objects():
    a = first().set_caching_options(False)
    task = uses_objects(before=a.outputs["Output"]).set_caching_options(False)
    kubernetes.use_secret_as_env(task, secret_name="db-creds", secret_key_to_env={"password": "DB_PASSWORD"})
    kubernetes.use_config_map_as_volume(task, config_map_name="settings", mount_path="/etc/settings")
