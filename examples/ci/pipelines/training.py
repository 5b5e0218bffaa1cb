"""The pipeline the CI example ships: a small training run with typed outputs (a stand-in for the
seed's ml_training_pipeline; examples/ml_training_pipeline.py is the full one)."""
from kfp import dsl


@dsl.component(base_image="python:3.11-slim")
def make_data(rows: int, data: dsl.Output[dsl.Dataset]):
    import random

    rng = random.Random(7)
    with open(data.path, "w") as f:
        for _ in range(rows):
            x = rng.random()
            f.write(f"{x},{int(x > 0.5)}\n")
    data.metadata["rows"] = rows


@dsl.component(base_image="python:3.11-slim")
def train(data: dsl.Input[dsl.Dataset], threshold: float) -> float:
    rows = [line.split(",") for line in open(data.path).read().splitlines()]
    correct = sum(int(float(x) > threshold) == int(y) for x, y in rows)
    accuracy = correct / len(rows)
    print(f"accuracy: {accuracy:.4f}")
    return accuracy


@dsl.pipeline(name="ci-training", description="Trained on every push by examples/ci/ml-pipeline.yml")
def ci_training(rows: int = 200, threshold: float = 0.5) -> float:
    data = make_data(rows=rows)
    return train(data=data.outputs["data"], threshold=threshold).output
