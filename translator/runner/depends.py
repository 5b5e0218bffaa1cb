"""Argo's DAG `depends` logic (workflow/common/ancestry.go, controller/dag.go), for the runner.

A bare task name `A` means `(A.Succeeded || A.Skipped || A.Daemoned)`, plus `A.Errored` /
`A.Failed` when task A has `continueOn.error` / `continueOn.failed`. `A.AnySucceeded` and
`A.AllFailed` look at the iterations of a looped task (false for a task that is not looped).
Operators are `&&`, `||`, `!` and parentheses; anything else is a RunError, not a guess.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed")
_TOKEN = re.compile(r"\s*(?:(?P<ref>[a-zA-Z0-9][-a-zA-Z0-9]*?\.[A-Z][a-zA-Z]+)|(?P<name>[a-zA-Z0-9][-a-zA-Z0-9]*)"
                    r"|(?P<op>&&|\|\||!|\(|\)))")


class DependsError(Exception):
    pass


@dataclass(frozen=True)
class TaskResults:
    """What `depends` can ask about one finished dependency (Argo's TaskResults)."""

    phase: str  # Succeeded | Failed | Error | Skipped | Omitted
    any_succeeded: bool = False
    all_failed: bool = False

    def get(self, result: str) -> bool:
        return {
            "Succeeded": self.phase == "Succeeded", "Failed": self.phase == "Failed",
            "Errored": self.phase == "Error", "Skipped": self.phase == "Skipped",
            "Omitted": self.phase == "Omitted", "Daemoned": False,
            "AnySucceeded": self.any_succeeded, "AllFailed": self.all_failed,
        }[result]


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise DependsError(f"depends {text!r}: unexpected text at {pos}: {text[pos:pos + 10]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def dependencies(text: str) -> list[str]:
    """The task names a `depends` expression mentions, in order of first mention."""
    names: dict[str, None] = {}  # ordered and O(1): a fan-in names thousands of tasks
    for kind, value in _tokens(text or ""):
        if kind in ("ref", "name"):
            task, _, result = value.partition(".")
            if result and result not in RESULTS:
                raise DependsError(f"depends {text!r}: task result '{result}' for task '{task}' is invalid")
            names.setdefault(task)
    return list(names)


def evaluate(text: str, results: dict[str, TaskResults], continue_on: Callable[[str], dict]) -> bool:
    """Whether a task with this `depends` runs, given its finished dependencies' results."""
    toks = _tokens(text)
    pos = 0

    def peek() -> str | None:
        return toks[pos][1] if pos < len(toks) and toks[pos][0] == "op" else None

    def bare(task: str) -> bool:
        r = results[task]
        ok = r.get("Succeeded") or r.get("Skipped") or r.get("Daemoned")
        c = continue_on(task) or {}
        return ok or (bool(c.get("error")) and r.get("Errored")) or (bool(c.get("failed")) and r.get("Failed"))

    def primary() -> bool:
        nonlocal pos
        if pos >= len(toks):
            raise DependsError(f"depends {text!r}: unexpected end")
        kind, value = toks[pos]
        pos += 1
        if kind == "op" and value == "!":
            return not primary()
        if kind == "op" and value == "(":
            v = disjunction()
            if peek() != ")":
                raise DependsError(f"depends {text!r}: missing ')'")
            pos += 1
            return v
        if kind == "ref":
            task, _, result = value.partition(".")
            return results[task].get(result)
        if kind == "name":
            return bare(value)
        raise DependsError(f"depends {text!r}: unexpected {value!r}")

    def conjunction() -> bool:
        nonlocal pos
        v = primary()
        while peek() == "&&":
            pos += 1
            v = primary() and v  # evaluate both sides: errors surface as they would in expr-lang
        return v

    def disjunction() -> bool:
        nonlocal pos
        v = conjunction()
        while peek() == "||":
            pos += 1
            v = conjunction() or v
        return v

    value = disjunction()
    if pos != len(toks):
        raise DependsError(f"depends {text!r}: unexpected {toks[pos][1]!r}")
    return value
