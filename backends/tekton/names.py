"""Tekton names: pipeline task names are DNS-1123 labels (63 characters), parameter and result
names a restricted alphabet. Names stay recognizable; a short digest keeps them distinct."""
from __future__ import annotations

import hashlib
import re

MAX_LABEL = 63
_PARAM_OK = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.-]*$")
_RESULT_OK = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def dns_label(text: str, max_len: int = MAX_LABEL) -> str:
    """A DNS-1123 label from any text: lower case, `-` for anything else, digest when cut."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-") or "task"
    if not name[0].isalpha():
        name = "t-" + name
    if len(name) > max_len or name != text:
        if len(name) > max_len:
            name = name[: max_len - 7].rstrip("-") + "-" + _digest(text)
    return name


class NameTable:
    """Unique flat pipeline task names for IR task paths (deterministic: first come, first
    named; a clash gets a digest of the path)."""

    def __init__(self) -> None:
        self.by_path: dict[str, str] = {}
        self.used: set[str] = set()

    def name(self, path: str, preferred: str) -> str:
        if path in self.by_path:
            return self.by_path[path]
        name = dns_label(preferred)
        if name in self.used:
            name = dns_label(f"{name[: MAX_LABEL - 7]}-{_digest(path)}")
        self.used.add(name)
        self.by_path[path] = name
        return name


def param_name(text: str) -> str:
    """A Tekton parameter name for a KFP input name (KFP names are identifiers or channel names)."""
    if _PARAM_OK.match(text):
        return text
    return "p-" + re.sub(r"[^a-zA-Z0-9_.-]", "_", text) + "-" + _digest(text)


def result_name(text: str) -> str:
    if _RESULT_OK.match(text):
        return text
    return "r-" + re.sub(r"[^A-Za-z0-9_.-]", "_", text).strip("-_.") + "-" + _digest(text)
