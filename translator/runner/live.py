"""What `translate run` shows while it runs: a line per step as it finishes (phase, time, cached,
retries), a progress line kept at the bottom of a terminal, and each step's log on request.
On a pipe (CI logs) there is no progress line, only the finished steps, so output stays readable.
"""
from __future__ import annotations

import re
import sys
import threading
import time
from typing import IO

from .engine import Node

_MARK = {"Succeeded": "ok", "Failed": "FAILED", "Error": "ERROR", "Skipped": "skipped", "Omitted": "omitted"}


def label(node: Node, root: str = "") -> str:
    """`for-loop-2[1]/print-text` for `<workflow>/for-loop-2(1:...)/print-text`."""
    path = node.path.split("/", 1)[1] if "/" in node.path else node.path
    return re.sub(r"\((\d+):[^/]*\)", r"[\1]", path) or node.path


class LiveView:
    def __init__(self, stream: IO[str] | None = None, logs: bool = False, tty: bool | None = None):
        self.out = stream or sys.stderr
        self.logs = logs
        self.tty = self.out.isatty() if tty is None else tty
        self.lock = threading.Lock()
        self.running: dict[int, Node] = {}
        self.done = self.failed = self.cached = 0
        self.root = ""
        self.t0 = time.time()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def start(self, workflow_name: str) -> None:
        self.root = workflow_name
        self.t0 = time.time()
        self._write(f"running {workflow_name}\n")
        if self.tty:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        if self._ticker:
            self._ticker.join(timeout=2)
        with self.lock:
            if self.tty:
                self.out.write("\r\x1b[K")
            self.out.flush()

    def on_event(self, event: str, node: Node) -> None:
        if node.kind in ("DAG", "TaskGroup"):
            return
        with self.lock:
            if event in ("start", "running"):
                if node.pod:
                    self.running[id(node)] = node
                return
            self.running.pop(id(node), None)
            self.done += 1
            self.failed += node.phase in ("Failed", "Error")
            self.cached += node.cached
            took = f"{node.finished - node.started:6.1f}s" if node.pod and node.finished else "       "
            extra = " (cached)" if node.cached else f" (retry {node.attempt})" if node.attempt else ""
            lines = [f"  {_MARK.get(node.phase, node.phase):8} {took}  {label(node, self.root)}{extra}"]
            if node.phase in ("Failed", "Error") and node.message and not (self.logs and node.log):
                lines += ["      " + x for x in node.message.strip().splitlines()[-8:]]
            if self.logs and node.log:
                try:
                    text = open(node.log, encoding="utf-8", errors="replace").read()
                except OSError:
                    text = ""
                name = label(node, self.root)
                lines += [f"      {name} | {x}" for x in text.rstrip("\n").splitlines()]
            self._write("\n".join(lines) + "\n", locked=True)

    def _status(self) -> str:
        names = ", ".join(f"{label(n, self.root)} {time.time() - n.started:.0f}s" for n in list(self.running.values())[:4])
        more = f" +{len(self.running) - 4}" if len(self.running) > 4 else ""
        return (f"[{time.time() - self.t0:5.0f}s] {self.done} done ({self.cached} cached, {self.failed} failed), "
                f"{len(self.running)} running{': ' + names + more if names else ''}")

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self.lock:
                self.out.write("\r\x1b[K" + self._status()[:200])
                self.out.flush()

    def _write(self, text: str, locked: bool = False) -> None:
        if not locked:
            with self.lock:
                return self._write(text, locked=True)
        if self.tty:
            self.out.write("\r\x1b[K")
        self.out.write(text)
        if self.tty:
            self.out.write(self._status()[:200])
        self.out.flush()
