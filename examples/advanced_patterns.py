"""The seed article's other patterns: a GPU fine-tuning component, a PVC volume mount (the
article's v1 `add_pvolumes`), per-task caching and resource settings.

`add_pvolumes({"/mnt/data": dsl.PipelineVolume(pvc="data-pvc")})` is KFP v1; in KFP v2 the same
intent is `kubernetes.mount_pvc(task, pvc_name="data-pvc", mount_path="/mnt/data")`, which
kfp-translate turns into a PVC volume on the task's template.
"""
from kfp import dsl, kubernetes
from kfp.dsl import Dataset, Input, Model, Output


@dsl.component(
    base_image="pytorch/pytorch:2.1.0-cuda12.1-cudnn8-runtime",
    packages_to_install=["transformers==4.37.0", "datasets==2.16.0"],
)
def finetune_llm(
    model_name: str,
    train_dataset: Input[Dataset],
    output_model: Output[Model],
    epochs: int = 3,
    batch_size: int = 8,
):
    """LLM fine-tuning (GPU required)"""
    from transformers import AutoModelForSequenceClassification, Trainer  # noqa: F401

    # ... training code
    pass


@dsl.component(base_image="python:3.11-slim")
def process_large_data(output_data: Output[Dataset]):
    """Process large datasets"""
    import os

    files = sorted(os.listdir("/mnt/data")) if os.path.isdir("/mnt/data") else []
    with open(output_data.path, "w") as fh:
        fh.write("\n".join(files))


@dsl.pipeline(name="advanced-patterns")
def advanced_patterns(model_name: str = "distilbert-base-uncased"):
    process_task = process_large_data()
    process_task.set_caching_options(False)  # always re-execute
    kubernetes.mount_pvc(process_task, pvc_name="data-pvc", mount_path="/mnt/data")

    tune = finetune_llm(model_name=model_name, train_dataset=process_task.outputs["output_data"])
    tune.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(1)
    tune.set_cpu_request("4").set_memory_request("16Gi").set_memory_limit("32Gi")
    tune.set_env_variable("HF_HOME", "/tmp/hf")
    tune.set_retry(num_retries=2, backoff_duration="30s", backoff_factor=2.0, backoff_max_duration="10m")
    kubernetes.add_toleration(tune, key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")
