"""The e2e cluster's node agent: the kubelet's job for a single-machine cluster (see README.md)."""
