"""The seed article's ML training pipeline, fixed to compile with kfp 2.17.

Changes from the article: `deploy_model` is defined before the pipeline uses it, and the
condition reads `eval_task.outputs["Output"]` (a task with artifact outputs has no `.output`
in kfp 2.x). Everything else is the article's code.
"""
from kfp import dsl
from kfp.dsl import ClassificationMetrics, Dataset, Input, Metrics, Model, Output

_PKGS = ["pandas==2.1.4", "scikit-learn==1.4.0"]
_TRAIN_PKGS = ["pandas==2.1.4", "scikit-learn==1.4.0", "joblib==1.3.2", "xgboost==2.0.3"]


@dsl.component(base_image="python:3.11-slim", packages_to_install=_PKGS)
def load_data(dataset_url: str, output_dataset: Output[Dataset]):
    """Data loading component"""
    import pandas as pd

    df = pd.read_csv(dataset_url)
    print(f"Loaded {len(df)} rows")
    df.to_csv(output_dataset.path, index=False)
    output_dataset.metadata["num_rows"] = len(df)
    output_dataset.metadata["num_columns"] = len(df.columns)


@dsl.component(base_image="python:3.11-slim", packages_to_install=_PKGS)
def preprocess_data(
    input_dataset: Input[Dataset],
    train_dataset: Output[Dataset],
    test_dataset: Output[Dataset],
    test_size: float = 0.2,
):
    """Data preprocessing and splitting"""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    df = pd.read_csv(input_dataset.path)
    df = df.dropna()
    df = df.drop_duplicates()
    train_df, test_df = train_test_split(df, test_size=test_size, random_state=42)
    train_df.to_csv(train_dataset.path, index=False)
    test_df.to_csv(test_dataset.path, index=False)
    train_dataset.metadata["num_rows"] = len(train_df)
    test_dataset.metadata["num_rows"] = len(test_df)


@dsl.component(base_image="python:3.11-slim", packages_to_install=_TRAIN_PKGS)
def train_model(
    train_dataset: Input[Dataset],
    model_output: Output[Model],
    metrics_output: Output[Metrics],
    n_estimators: int = 100,
    max_depth: int = 6,
    learning_rate: float = 0.1,
):
    """Model training"""
    import joblib
    import pandas as pd
    from sklearn.model_selection import cross_val_score
    from xgboost import XGBClassifier

    df = pd.read_csv(train_dataset.path)
    X = df.drop("target", axis=1)
    y = df["target"]
    model = XGBClassifier(
        n_estimators=n_estimators, max_depth=max_depth, learning_rate=learning_rate, random_state=42
    )
    model.fit(X, y)
    cv_scores = cross_val_score(model, X, y, cv=5, scoring="accuracy")
    joblib.dump(model, model_output.path)
    model_output.metadata["framework"] = "xgboost"
    model_output.metadata["n_estimators"] = n_estimators
    metrics_output.log_metric("cv_accuracy_mean", float(cv_scores.mean()))
    metrics_output.log_metric("cv_accuracy_std", float(cv_scores.std()))
    metrics_output.log_metric("n_estimators", n_estimators)


@dsl.component(base_image="python:3.11-slim", packages_to_install=_TRAIN_PKGS)
def evaluate_model(
    test_dataset: Input[Dataset],
    model_input: Input[Model],
    metrics_output: Output[ClassificationMetrics],
    eval_metrics: Output[Metrics],
) -> float:
    """Model evaluation"""
    import joblib
    import pandas as pd
    from sklearn.metrics import accuracy_score

    df = pd.read_csv(test_dataset.path)
    X = df.drop("target", axis=1)
    y = df["target"]
    model = joblib.load(model_input.path)
    y_pred = model.predict(X)
    accuracy = accuracy_score(y, y_pred)
    metrics_output.log_confusion_matrix(
        categories=["Class 0", "Class 1"],
        matrix=[
            [int(sum((y == 0) & (y_pred == 0))), int(sum((y == 0) & (y_pred == 1)))],
            [int(sum((y == 1) & (y_pred == 0))), int(sum((y == 1) & (y_pred == 1)))],
        ],
    )
    eval_metrics.log_metric("test_accuracy", accuracy)
    return accuracy


@dsl.component(base_image="python:3.11-slim")
def deploy_model(model_input: Input[Model], accuracy: float):
    """Deploy model (when conditions are met)"""
    print(f"Deploying model with accuracy: {accuracy:.4f}")
    print(f"Model path: {model_input.path}")


@dsl.pipeline(
    name="ML Training Pipeline",
    description="Data Load -> Preprocess -> Train -> Evaluate Pipeline",
)
def ml_training_pipeline(
    dataset_url: str = "https://example.com/data.csv",
    test_size: float = 0.2,
    n_estimators: int = 100,
    max_depth: int = 6,
    learning_rate: float = 0.1,
    accuracy_threshold: float = 0.85,
):
    load_task = load_data(dataset_url=dataset_url)
    preprocess_task = preprocess_data(
        input_dataset=load_task.outputs["output_dataset"], test_size=test_size
    )
    train_task = train_model(
        train_dataset=preprocess_task.outputs["train_dataset"],
        n_estimators=n_estimators,
        max_depth=max_depth,
        learning_rate=learning_rate,
    )
    train_task.set_cpu_limit("4")
    train_task.set_memory_limit("8Gi")
    eval_task = evaluate_model(
        test_dataset=preprocess_task.outputs["test_dataset"],
        model_input=train_task.outputs["model_output"],
    )
    with dsl.If(eval_task.outputs["Output"] >= accuracy_threshold):
        deploy_model(model_input=train_task.outputs["model_output"], accuracy=eval_task.outputs["Output"])
