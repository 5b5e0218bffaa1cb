"""Stable, collision-free Argo names for KFP names.

Argo templates and DAG tasks must match `^[a-zA-Z0-9][-a-zA-Z0-9]*$` (at most 128 characters,
and a task named in `depends` may not start with a digit); parameters and artifacts
`^[-a-zA-Z0-9_]+$`. KFP names may hold `_`, `.`, capitals, spaces or be long. The mapping keeps
what a human recognizes, lower-cases, and adds a short digest only where it must (truncation or
a collision), so the same input always gives the same names.
"""
from __future__ import annotations

import hashlib
import re

_NOT_NAME = re.compile(r"[^a-z0-9-]+")
_NOT_PARAM = re.compile(r"[^-a-zA-Z0-9_]+")
MAX_TEMPLATE = 128
MAX_WORKFLOW = 63


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def dns_name(text: str, max_len: int = MAX_TEMPLATE) -> str:
    """A name matching Argo's template/task pattern, starting with a letter."""
    name = re.sub("-{2,}", "-", _NOT_NAME.sub("-", text.lower())).strip("-")
    if not name:
        name = f"t-{_digest(text)}"
    elif not name[0].isalpha():
        name = f"t-{name}"
    if len(name) > max_len:
        name = f"{name[: max_len - 9].rstrip('-')}-{_digest(text)}"
    return name


class NameTable:
    """Hands out unique names within one scope; the first claimant of a name keeps it."""

    def __init__(self, max_len: int = MAX_TEMPLATE):
        self.max_len = max_len
        self._by_key: dict[str, str] = {}
        self._used: set[str] = set()

    def claim(self, key: str, wanted: str | None = None) -> str:
        if key in self._by_key:
            return self._by_key[key]
        base = dns_name(wanted if wanted is not None else key, self.max_len)
        name = base
        if name in self._used:
            suffix = f"-{_digest(key)}"
            name = f"{base[: self.max_len - len(suffix)]}{suffix}"
            n = 2
            while name in self._used:
                name = f"{base[: self.max_len - len(suffix) - 4]}{suffix}-{n}"
                n += 1
        self._used.add(name)
        self._by_key[key] = name
        return name


def param_name(text: str) -> str:
    """A parameter/artifact name: KFP names almost always fit already and are kept as they are."""
    if text and not _NOT_PARAM.search(text):
        return text
    return f"{_NOT_PARAM.sub('_', text).strip('_') or 'p'}-{_digest(text)}"
