"""A run that is stopped while a step runs: the step's process must end, the exit handler run."""
from kfp import dsl

IMAGE = "python:3.11-slim"


@dsl.component(base_image=IMAGE)
def sleeper(pid_file: str):
    import os
    import time

    with open(pid_file + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(pid_file + ".tmp", pid_file)
    time.sleep(600)


@dsl.component(base_image=IMAGE)
def later() -> str:
    return "should not run"


@dsl.component(base_image=IMAGE)
def cleanup(status: dsl.PipelineTaskFinalStatus) -> str:
    return status.state


@dsl.pipeline(name="stoppable")
def stoppable(pid_file: str):
    final = cleanup().set_caching_options(False)
    with dsl.ExitHandler(final):
        slept = sleeper(pid_file=pid_file).set_caching_options(False)
        later().after(slept).set_caching_options(False)
