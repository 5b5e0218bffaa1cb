"""Which root filesystem and extras an image name stands for on this node (e2e/cluster/images.yaml)."""
import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

IMAGES_FILE = Path(__file__).resolve().parent.parent / "images.yaml"


class ImageError(Exception):
    """An image the table cannot map, or a bad table."""


@dataclass(frozen=True)
class Image:
    name: str
    root: str                 # "host", "empty" or the absolute path of a root folder
    host_folders: tuple       # the top-level host folders a "host" root is made of
    binds: tuple = ()         # ((host path, container path), ...)
    env: dict = field(default_factory=dict)
    entrypoint: tuple = ()
    cmd: tuple = ()
    python: bool = False


class ImageTable:
    def __init__(self, path: Path = IMAGES_FILE, cache_bin: Path = None):
        self.path = Path(path)
        self.cache_bin = Path(cache_bin) if cache_bin else default_cache() / "bin"
        self._load()

    def _load(self):
        self._mtime = self.path.stat().st_mtime
        try:
            with open(self.path) as f:
                data = yaml.safe_load(f) or {}
        except yaml.YAMLError as exc:
            raise ImageError(f"{self.path}: not valid YAML: {exc}") from None
        path = self.path
        self.host_folders = tuple(data.get("hostFolders") or ())
        self.entries = data.get("images") or []
        for i, entry in enumerate(self.entries):
            if "match" not in entry or "root" not in entry:
                raise ImageError(f"{path}: images[{i}] needs `match` and `root`")

    def resolve(self, image: str) -> Image:
        if self.path.stat().st_mtime != self._mtime:
            self._load()  # an image added while the cluster runs counts from the next container
        for entry in self.entries:
            if fnmatch.fnmatchcase(image, entry["match"]):
                return self._image(image, entry)
        raise ImageError(f"{self.path}: no entry matches image {image!r}")

    def _image(self, image: str, entry: dict) -> Image:
        root = entry["root"]
        if root not in ("host", "empty") and not os.path.isabs(root):
            raise ImageError(f"{self.path}: root of {entry['match']!r} must be `host`, `empty` or an absolute path")
        binds = []
        for bind in entry.get("binds") or ():
            source = cache_binary(bind["cache"], self.cache_bin)
            if not source.exists():
                raise ImageError(f"image {image!r} needs {source} (built by e2e/cluster/build.py)")
            binds.append((str(source), bind["path"]))
        return Image(name=image, root=root, host_folders=self.host_folders, binds=tuple(binds),
                     env={k: str(v) for k, v in (entry.get("env") or {}).items()},
                     entrypoint=tuple(entry.get("entrypoint") or ()),
                     cmd=tuple(entry.get("cmd") or ()), python=bool(entry.get("python")))


def cache_binary(name: str, cache_bin: Path) -> Path:
    """A program of e2e/cluster/build.py by its name (the cache keeps it under a versioned name)."""
    from e2e.cluster import build
    program = next((p for p in build.PROGRAMS if p.name == name), None)
    return build.target_path(program) if program else cache_bin / name


def default_cache() -> Path:
    from e2e.cluster import build
    return build.cache_dir()
