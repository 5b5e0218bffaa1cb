"""Provisioning for PersistentVolumeClaims: a hostPath PersistentVolume per pending claim, bound
to it through claimRef (the controller-manager's PV controller completes the binding), removed
with its folder once the claim is gone and the volume is Released."""
import logging
import threading
from pathlib import Path

from kubernetes.client.rest import ApiException

from .fsutil import safe_rmtree

log = logging.getLogger("node.pvc")
MANAGED = "kfp-translate.e2e/provisioned-by"
AGENT = "kfpt-node"


def volume_for(claim: dict, volumes_dir: Path) -> dict:
    meta, spec = claim["metadata"], claim["spec"]
    name = f"pvc-{meta['uid']}"
    size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    pv_spec = {
        "capacity": {"storage": size},
        "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
        "persistentVolumeReclaimPolicy": "Retain",
        "hostPath": {"path": str(volumes_dir / name), "type": "DirectoryOrCreate"},
        "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": meta["namespace"],
                     "name": meta["name"], "uid": meta["uid"]},
        "volumeMode": spec.get("volumeMode", "Filesystem"),
    }
    if spec.get("storageClassName") is not None:
        pv_spec["storageClassName"] = spec["storageClassName"]
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {MANAGED: AGENT}}, "spec": pv_spec}


class Provisioner:
    def __init__(self, kube, volumes_dir: Path, stopping: threading.Event):
        self.kube, self.volumes_dir, self.stopping = kube, volumes_dir, stopping

    def run(self):
        threading.Thread(target=self.kube.watch, name="watch-pvs", daemon=True,
                         args=("/api/v1/persistentvolumes", self._on_pv, self.stopping),
                         kwargs={"on_list": lambda items: [self._on_pv("ADDED", v) for v in items]}).start()
        self.kube.watch("/api/v1/persistentvolumeclaims", self._on_claim, self.stopping,
                        on_list=lambda items: [self._on_claim("ADDED", c) for c in items])

    def _on_claim(self, kind: str, claim: dict):
        if kind == "DELETED" or claim["spec"].get("volumeName") or claim["metadata"].get("deletionTimestamp"):
            return
        if (claim.get("status") or {}).get("phase", "Pending") != "Pending":
            return
        pv = volume_for(claim, self.volumes_dir)
        (self.volumes_dir / pv["metadata"]["name"]).mkdir(parents=True, exist_ok=True)
        try:
            self.kube.post("/api/v1/persistentvolumes", pv)
            log.info("provisioned %s for claim %s/%s", pv["metadata"]["name"],
                     claim["metadata"]["namespace"], claim["metadata"]["name"])
        except ApiException as exc:
            if exc.status != 409:
                log.warning("provisioning for %s: %s", claim["metadata"]["name"], exc.reason)

    def _on_pv(self, kind: str, pv: dict):
        if (pv["metadata"].get("annotations") or {}).get(MANAGED) != AGENT:
            return
        folder = self.volumes_dir / pv["metadata"]["name"]
        if kind == "DELETED":
            safe_rmtree(folder)
            return
        if (pv.get("status") or {}).get("phase") == "Released":
            self.kube.delete(f"/api/v1/persistentvolumes/{pv['metadata']['name']}")
            safe_rmtree(folder)
            log.info("removed released volume %s", pv["metadata"]["name"])
