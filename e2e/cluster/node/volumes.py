"""The pod's volumes as folders under <pod folder>/volumes/<name> (hostPath and PVCs point at
their own folders). ConfigMap, Secret, downward-API and projected volumes are written as the
kubelet's atomic writer does (files are links into `..data`, swapped in one rename), so that
containers never read a half-written file when downward-API files are rewritten."""
import os
import shutil
import time
from pathlib import Path

from .podenv import ConfigError, Sources, field_value, resource_value

DEFAULT_MODE = 0o644
TOKEN_SECONDS = 3607


class VolumeError(ConfigError):
    """A volume that cannot be built (the pod stays Pending, as with the kubelet)."""


class PodVolumes:
    """Builds a pod's volumes and keeps its downward-API and token files current."""

    def __init__(self, kube, pod: dict, folder: Path, allocatable: dict):
        self.kube, self.pod, self.folder, self.allocatable = kube, pod, folder, allocatable
        self.paths: dict = {}          # volume name -> host path
        self.read_only: set = set()    # volumes the kubelet always mounts read-only
        self._written: dict = {}       # volume name -> {relative path: (bytes, mode)} last written
        self._static: dict = {}        # volume name -> projected ConfigMap/Secret files
        self._token_expiry = float("inf")

    def build(self):
        """Create every volume; raises VolumeError when one cannot be made yet."""
        sources = Sources(self.kube, self.pod["metadata"]["namespace"])
        for volume in self.pod["spec"].get("volumes") or ():
            self.paths[volume["name"]] = self._build_one(volume, sources)

    def token_due(self) -> bool:
        return time.time() > self._token_expiry

    def refresh(self, pod: dict):
        """The pod changed (labels, annotations) or time passed: rewrite files that depend on it."""
        self.pod = pod
        renew = time.time() > self._token_expiry
        if renew:
            self._token_expiry = float("inf")
        for volume in pod["spec"].get("volumes") or ():
            if "downwardAPI" in volume or "projected" in volume:
                files = self._file_set(volume, None, renew_token=renew)
                if files is not None:
                    self._write(volume["name"], files)

    def _build_one(self, volume: dict, sources: Sources) -> str:
        name = volume["name"]
        if "hostPath" in volume:
            return self._host_path(volume["hostPath"])
        if "persistentVolumeClaim" in volume:
            return self._claim(volume["persistentVolumeClaim"]["claimName"])
        if "emptyDir" in volume:
            path = self.folder / "volumes" / name
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o777)
            return str(path)
        files = self._file_set(volume, sources, renew_token=True)
        self.read_only.add(name)  # configMap, secret, downwardAPI and projected volumes
        if files is None:
            raise VolumeError(f"volume {name!r}: unsupported volume type {sorted(set(volume) - {'name'})}")
        self._write(name, files)
        return str(self.folder / "volumes" / name)

    def _host_path(self, source: dict) -> str:
        path, kind = source["path"], source.get("type", "")
        if kind == "DirectoryOrCreate":
            os.makedirs(path, mode=0o755, exist_ok=True)
        elif kind == "FileOrCreate" and not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "a").close()
        elif kind in ("Directory", "File", "Socket", "CharDevice", "BlockDevice") and not os.path.exists(path):
            raise VolumeError(f"hostPath type check failed: {path} does not exist")
        return path

    def _claim(self, claim: str) -> str:
        ns = self.pod["metadata"]["namespace"]
        pvc = self.kube.get_or_none(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/{claim}")
        if pvc is None:
            raise VolumeError(f'persistentvolumeclaim "{claim}" not found')
        pv_name = pvc["spec"].get("volumeName")
        if not pv_name or pvc.get("status", {}).get("phase") != "Bound":
            raise VolumeError(f'persistentvolumeclaim "{claim}" is not bound')
        pv = self.kube.get(f"/api/v1/persistentvolumes/{pv_name}")
        host_path = (pv["spec"].get("hostPath") or pv["spec"].get("local") or {}).get("path")
        if not host_path:
            raise VolumeError(f"persistentvolume {pv_name!r} is neither hostPath nor local")
        os.makedirs(host_path, exist_ok=True)
        return host_path

    # -- file-backed volumes ---------------------------------------------------------------
    def _file_set(self, volume: dict, sources, renew_token: bool):
        """{relative path: (bytes, mode)} for configMap/secret/downwardAPI/projected, else None.
        With sources None (a refresh), ConfigMap/Secret content is taken from the last write."""
        name = volume["name"]
        previous = self._written.get(name, {})
        if "configMap" in volume or "secret" in volume:
            if sources is None:
                return None
            return self._keyed(volume, sources)
        if "downwardAPI" in volume:
            source = volume["downwardAPI"]
            return self._downward(source.get("items") or (), source.get("defaultMode", DEFAULT_MODE))
        if "projected" in volume:
            projected = volume["projected"]
            mode = projected.get("defaultMode", DEFAULT_MODE)
            files = {}
            for item in projected.get("sources") or ():
                if "downwardAPI" in item:
                    files.update(self._downward(item["downwardAPI"].get("items") or (), mode))
                elif "serviceAccountToken" in item:
                    token = item["serviceAccountToken"]
                    path = token["path"]
                    if renew_token or path not in previous:
                        files[path] = (self._token(token).encode(), mode)
                    else:
                        files[path] = previous[path]
                elif "configMap" in item or "secret" in item:
                    if sources is not None:  # on a refresh they keep their first content
                        self._static.setdefault(name, {}).update(self._keyed(item, sources, mode))
                else:
                    raise VolumeError(f"volume {name!r}: unsupported projection {sorted(item)}")
            return {**self._static.get(name, {}), **files}
        return None

    def _keyed(self, item: dict, sources: Sources, default_mode=None) -> dict:
        kind = "configMap" if "configMap" in item else "secret"
        ref = item[kind]
        mode = ref.get("defaultMode", default_mode if default_mode is not None else DEFAULT_MODE)
        optional = ref.get("optional", False)
        name = ref.get("name") or ref.get("secretName")
        data = sources.configmap(name, optional) if kind == "configMap" else sources.secret(name, optional)
        if data is None:
            return {}
        items = ref.get("items")
        if not items:
            return {key: (value, mode) for key, value in data.items()}
        files = {}
        for entry in items:
            if entry["key"] not in data:
                if optional:
                    continue
                raise VolumeError(f"configmap/secret {name!r} has no key {entry['key']!r}")
            files[entry["path"]] = (data[entry["key"]], entry.get("mode", mode))
        return files

    def _downward(self, items, mode) -> dict:
        files = {}
        for item in items:
            if "fieldRef" in item:
                value = field_value(self.pod, item["fieldRef"]["fieldPath"])
            else:
                ref = item["resourceFieldRef"]
                container = next(c for c in self.pod["spec"]["containers"]
                                 if c["name"] == ref.get("containerName"))
                value = resource_value(self.pod, ref, container, self.allocatable)
            files[item["path"]] = (value.encode(), item.get("mode", mode))
        return files

    def _token(self, source: dict) -> str:
        """A service-account token bound to the pod, from the TokenRequest API."""
        meta = self.pod["metadata"]
        account = self.pod["spec"].get("serviceAccountName") or "default"
        seconds = int(source.get("expirationSeconds") or TOKEN_SECONDS)
        spec = {"expirationSeconds": seconds,
                "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": meta["name"], "uid": meta["uid"]}}
        if source.get("audience"):
            spec["audiences"] = [source["audience"]]
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        result = self.kube.post(f"/api/v1/namespaces/{meta['namespace']}/serviceaccounts/{account}/token", body)
        self._token_expiry = min(self._token_expiry, time.time() + 0.8 * seconds)  # as the kubelet renews
        return result["status"]["token"]

    def _write(self, name: str, files: dict):
        if self._written.get(name) == files:
            return
        atomic_write(self.folder / "volumes" / name, files)
        self._written[name] = files


def atomic_write(target: Path, files: dict):
    """Write {relative path: (bytes, mode)} into target as the kubelet's AtomicWriter does:
    a fresh `..<time>` folder, the `..data` link swapped to it in one rename, and each top-level
    name a link through `..data`."""
    target.mkdir(parents=True, exist_ok=True)
    stamp = f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.time_ns() % 10**9}"
    payload = target / stamp
    payload.mkdir(mode=0o755)
    for rel, (data, mode) in files.items():
        path = payload / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(mode)
    old = os.readlink(target / "..data") if (target / "..data").is_symlink() else None
    tmp = target / "..data_tmp"
    if tmp.is_symlink():
        tmp.unlink()
    os.symlink(stamp, tmp)
    os.rename(tmp, target / "..data")
    wanted = {rel.split("/")[0] for rel in files}
    for top in wanted:
        link = target / top
        if not link.is_symlink():
            os.symlink(f"..data/{top}", link)
    for entry in os.listdir(target):
        if not entry.startswith("..") and entry not in wanted and (target / entry).is_symlink():
            (target / entry).unlink()
    if old and old != stamp:
        shutil.rmtree(target / old, ignore_errors=True)
