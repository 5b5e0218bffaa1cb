"""The image table maps every image the cluster's controllers are configured with, with the
programs they run where those images keep them."""
import os
from pathlib import Path

import pytest

from e2e.cluster import up
from e2e.cluster.node.images import ImageError, ImageTable


def test_engine_images_get_their_programs():
    table = ImageTable()
    argo = table.resolve(up.ARGO_EXECUTOR_IMAGE)
    assert [dst for _, dst in argo.binds] == ["/usr/local/bin/argoexec"] and argo.entrypoint == ("argoexec",)
    for name, image in up.TEKTON_IMAGES.items():
        resolved = table.resolve(image)
        [(source, target)] = resolved.binds
        assert target == f"/ko-app/{name}" and Path(source).name.startswith(f"tekton-{name}")
        assert resolved.entrypoint == (f"/ko-app/{name}",)
    assert table.resolve(up.TEKTON_SHELL_IMAGE).cmd == ("/bin/sh",)
    aws = table.resolve("amazon/aws-cli:2.15.0")
    assert [dst for _, dst in aws.binds] == ["/opt/aws-cli"] and aws.entrypoint == ("/opt/aws-cli/bin/aws",)


@pytest.mark.parametrize("image", ["python:3.11", "python:3.11-slim", "ubuntu:22.04", "alpine", "busybox"])
def test_other_images_are_the_host_files(image):
    resolved = ImageTable().resolve(image)
    assert resolved.root == "host" and resolved.python and not resolved.binds


def test_a_table_without_a_match_is_an_error(tmp_path):
    path = tmp_path / "images.yaml"
    path.write_text("hostFolders: [usr]\nimages:\n  - {match: 'python:*', root: host}\n")
    with pytest.raises(ImageError, match="no entry matches image 'ubuntu'"):
        ImageTable(path).resolve("ubuntu")
    path.write_text("images:\n  - {match: 'x', root: relative/path}\n")
    with pytest.raises(ImageError, match="must be `host`, `empty` or an absolute path"):
        ImageTable(path).resolve("x")


def test_the_table_is_read_again_when_it_changes(tmp_path):
    path = tmp_path / "images.yaml"
    path.write_text("images:\n  - {match: 'a', root: host}\n")
    table = ImageTable(path)
    assert table.resolve("a").root == "host"
    path.write_text("images:\n  - {match: 'a', root: empty}\n  - {match: 'b', root: /srv/root}\n")
    os.utime(path, (1, 1))
    assert table.resolve("a").root == "empty" and table.resolve("b").root == "/srv/root"
