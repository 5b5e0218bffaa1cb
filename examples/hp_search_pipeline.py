"""The seed article's hyperparameter search (ParallelFor over a list of dicts), made to compile.

Changes from the article: its snippet uses `load_task` without creating it; here the data comes
from the training pipeline's own `load_data`/`preprocess_data`. kfp 2.17 types every field of a
dict loop item like the dict's first value, so one dict cannot carry both the int tree settings
and the float learning rate past the SDK's type check (and a nested loop over learning rates
that reads the outer item's fields does not compile in kfp 2.17 either): the dicts carry the
int settings, the learning rate is a pipeline parameter. At most two trainings run at a time.
"""
from kfp import dsl

from ml_training_pipeline import load_data, preprocess_data, train_model

HP_CONFIGS = [
    {"n_estimators": 100, "max_depth": 4},
    {"n_estimators": 200, "max_depth": 6},
    {"n_estimators": 300, "max_depth": 8},
]


@dsl.pipeline(name="Hyperparameter Search")
def hp_search_pipeline(dataset_url: str = "https://example.com/data.csv", learning_rate: float = 0.1):
    load_task = load_data(dataset_url=dataset_url)
    split = preprocess_data(input_dataset=load_task.outputs["output_dataset"])
    with dsl.ParallelFor(HP_CONFIGS, parallelism=2) as config:
        train_model(
            train_dataset=split.outputs["train_dataset"],
            n_estimators=config.n_estimators,
            max_depth=config.max_depth,
            learning_rate=learning_rate,
        )
