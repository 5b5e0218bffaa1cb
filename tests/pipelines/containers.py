"""Container components: placeholders, Concat, IfPresent, output files and artifacts; importers."""
from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Output


@dsl.container_component
def write_files(text: str, times: int, out_text: Output[Dataset], count: dsl.OutputPath(int),
                suffix: str = ""):
    return dsl.ContainerSpec(
        image="busybox:1.36",
        command=["sh", "-c", 'printf "%s%s" "$0" "$3" > "$1"; echo -n "$2" > "$4"'],
        args=[text, out_text.path, times, suffix, count],
    )


@dsl.container_component
def concat_and_ifpresent(label: str, data: Input[Dataset], out: Output[Artifact], extra: str = None):
    return dsl.ContainerSpec(
        image="busybox:1.36",
        command=["sh", "-c", 'printf "%s|%s|%s" "$0" "$1" "$(cat "$2")" > "$3"'],
        args=[
            dsl.ConcatPlaceholder(["<", label, ">"]),
            dsl.IfPresentPlaceholder(input_name="extra", then=[extra], else_=["no-extra"]),
            data.path,
            out.path,
        ],
    )


@dsl.component(base_image="python:3.11-slim")
def read_back(data: Input[Artifact]) -> str:
    return open(data.path).read()


@dsl.pipeline(name="container-flow")
def container_flow(text: str = "hi", times: int = 2):
    w = write_files(text=text, times=times)
    c = concat_and_ifpresent(label=text, data=w.outputs["out_text"])
    read_back(data=c.outputs["out"])
    c2 = concat_and_ifpresent(label="x", data=w.outputs["out_text"], extra="given")
    read_back(data=c2.outputs["out"])


@dsl.component(base_image="python:3.11-slim")
def read_imported(data: Input[Dataset]) -> str:
    return open(data.path).read() + "|" + str(data.metadata.get("source"))


def importer_pipeline(uri: str):
    @dsl.pipeline(name="import-it")
    def import_it():
        imp = dsl.importer(artifact_uri=uri, artifact_class=Dataset, metadata={"source": "web"})
        read_imported(data=imp.output)

    return import_it


def dynamic_importer_pipeline():
    @dsl.pipeline(name="import-at-run-time")
    def import_at_run_time(uri: str):
        imp = dsl.importer(artifact_uri=uri, artifact_class=Dataset, metadata={"source": "param"})
        read_imported(data=imp.output)

    return import_at_run_time
