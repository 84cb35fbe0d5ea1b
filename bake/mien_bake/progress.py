"""Progress reporting on stderr: a plain progress bar for people, one JSON object per line for tools.

``--progress json`` events (each a single line of JSON on stderr, keys sorted)::

    {"event": "problem", "source": ..., "line": 12, "key": "lines[3].emotion", "message": ..., "fix": ...,
     "line_ids": [...], "fatal": false}
    {"event": "start", "manifest": ..., "out_dir": ..., "total": 200, "to_bake": 12, "jobs": 2}
    {"event": "line", "id": "guard_001", "character": "guard", "status": "done|skipped|failed|cancelled",
     "error": null, "done": 13, "total": 200}
    {"event": "character", "id": "guard", "status": "done|skipped|failed", "file": "characters/guard.glb",
     "error": null}
    {"event": "log", "level": "warning", "message": ...}
    {"event": "summary", "exit_code": 0, "counts": {...}, "report": "OUT/bake_report.json", "seconds": 3.1}

``done`` counts the lines finished so far in any status; ``total`` is every line the manifest
declares (invalid ones are reported as ``failed`` first).
"""

from __future__ import annotations

import json
import time
from typing import Any, TextIO

from mien.files import safe_text

__all__ = ["BarProgress", "JsonProgress", "NullProgress", "PlainProgress", "Progress", "make_progress"]

_BAR_WIDTH = 30
_REDRAW_S = 0.1
_MAX_ERROR_CHARS = 300


class Progress:
    """The interface (and the silent implementation); every method is called from the bake's main thread."""

    def problem(self, problem: dict[str, Any]) -> None:
        """A manifest problem (found before anything is baked)."""

    def start(self, *, manifest: str, out_dir: str, total: int, to_bake: int, jobs: int) -> None:
        """Planning is done: ``to_bake`` of ``total`` lines will be baked."""

    def line(self, *, line_id: str, character: str, status: str, error: str | None, done: int, total: int) -> None:
        """A line finished (or was skipped, or failed validation)."""

    def character(self, *, character_id: str, status: str, file: str, error: str | None) -> None:
        """A per-character .glb was written, kept or failed."""

    def log(self, level: str, message: str) -> None:
        """A note for the user (cache rebuilt, stale outputs, ...)."""

    def summary(self, *, exit_code: int, counts: dict[str, int], report: str, seconds: float, text: str) -> None:
        """The bake is over; ``text`` is the human summary (also printed on stdout by the CLI)."""


NullProgress = Progress


class JsonProgress(Progress):
    """One JSON object per line on ``stream`` (for editor integrations)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def _emit(self, event: str, **fields: Any) -> None:
        self.stream.write(safe_text(json.dumps({"event": event, **fields}, sort_keys=True, ensure_ascii=False)) + "\n")
        self.stream.flush()

    def problem(self, problem: dict[str, Any]) -> None:
        self._emit("problem", **problem)

    def start(self, *, manifest: str, out_dir: str, total: int, to_bake: int, jobs: int) -> None:
        self._emit("start", manifest=manifest, out_dir=out_dir, total=total, to_bake=to_bake, jobs=jobs)

    def line(self, *, line_id: str, character: str, status: str, error: str | None, done: int, total: int) -> None:
        self._emit("line", id=line_id, character=character, status=status, error=error, done=done, total=total)

    def character(self, *, character_id: str, status: str, file: str, error: str | None) -> None:
        self._emit("character", id=character_id, status=status, file=file, error=error)

    def log(self, level: str, message: str) -> None:
        self._emit("log", level=level, message=message)

    def summary(self, *, exit_code: int, counts: dict[str, int], report: str, seconds: float, text: str) -> None:
        self._emit("summary", exit_code=exit_code, counts=counts, report=report, seconds=round(seconds, 3))


class PlainProgress(Progress):
    """No bar (stderr is not a terminal): only problems, failures and notes, one per line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def _say(self, text: str) -> None:
        self.stream.write(safe_text(text) + "\n")
        self.stream.flush()

    def problem(self, problem: dict[str, Any]) -> None:
        where = f"{problem['source']}:{problem['line']}" if problem.get("line") else problem["source"]
        self._say(f"error: {where}: {problem['key']}: {problem['message']}. Fix: {problem['fix']}")

    def line(self, *, line_id: str, character: str, status: str, error: str | None, done: int, total: int) -> None:
        if status == "failed" and error:
            self._say(f"failed: line {line_id}: {_short(error)}")

    def character(self, *, character_id: str, status: str, file: str, error: str | None) -> None:
        if status == "failed" and error:
            self._say(f"failed: character file {file}: {_short(error)}")

    def log(self, level: str, message: str) -> None:
        self._say(f"{level}: {message}")


class BarProgress(PlainProgress):
    """A one-line bar redrawn in place (stderr is a terminal); messages are printed above it."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.total = 0
        self.done = 0
        self.counts = {"done": 0, "skipped": 0, "failed": 0, "cancelled": 0}
        self.started = time.monotonic()
        self.baking_started = self.started
        self.to_bake = 0
        self.last_draw = 0.0
        self.drawn = False

    def _say(self, text: str) -> None:
        self._clear()
        super()._say(text)
        self._draw(force=True)

    def _clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[2K")
            self.drawn = False

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.total or (not force and now - self.last_draw < _REDRAW_S):
            return
        self.last_draw = now
        filled = int(_BAR_WIDTH * self.done / self.total)
        baked = self.counts["done"] + self.counts["failed"]
        eta = ""
        if 0 < baked < self.to_bake:
            left = (now - self.baking_started) / baked * (self.to_bake - baked)
            eta = f"  ~{left:.0f} s left"
        text = (f"\r[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {self.done}/{self.total} lines  "
                f"{self.counts['done']} baked, {self.counts['skipped']} unchanged, {self.counts['failed']} failed{eta}")
        self.stream.write("\r\x1b[2K" + safe_text(text.lstrip("\r")))
        self.stream.flush()
        self.drawn = True

    def start(self, *, manifest: str, out_dir: str, total: int, to_bake: int, jobs: int) -> None:
        self.total, self.to_bake = total, to_bake
        self.baking_started = time.monotonic()
        self._draw(force=True)

    def line(self, *, line_id: str, character: str, status: str, error: str | None, done: int, total: int) -> None:
        self.done, self.total = done, total
        self.counts[status] = self.counts.get(status, 0) + 1
        super().line(line_id=line_id, character=character, status=status, error=error, done=done, total=total)
        self._draw(force=done == total)

    def summary(self, *, exit_code: int, counts: dict[str, int], report: str, seconds: float, text: str) -> None:
        self._clear()
        self.stream.flush()


def _short(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else text
    return first if len(first) <= _MAX_ERROR_CHARS else first[: _MAX_ERROR_CHARS - 3] + "..."


def make_progress(kind: str, stream: TextIO) -> Progress:
    """``auto`` (a bar on a terminal, else plain messages), ``bar``, ``json`` or ``none``."""
    if kind == "json":
        return JsonProgress(stream)
    if kind == "none":
        return Progress()
    if kind == "bar" or (kind == "auto" and stream.isatty()):
        return BarProgress(stream)
    return PlainProgress(stream)
