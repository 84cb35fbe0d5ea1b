#!/usr/bin/env python3
"""Validate glTF files with the Khronos validator through ``gltf-transform validate``.

Usage::

    python scripts/validate_gltf.py [--strict] FILE.glb [FILE.glb ...]

Prints one summary line per file (errors / warnings / infos / hints) and every error and
warning. Exit status: 0 when no file has an error (with ``--strict``: no error and no
warning), 1 when one does, 2 when the CLI is missing or cannot run.

Installing the CLI (Node.js >= 20 and npm; the version is pinned so results are reproducible)::

    npm install -g @gltf-transform/cli@4.5.1
    # or without touching the global prefix:
    npm install --prefix "$HOME/.cache/mien-node" @gltf-transform/cli@4.5.1
    export GLTF_TRANSFORM="$HOME/.cache/mien-node/node_modules/.bin/gltf-transform"

The CLI is found through ``$GLTF_TRANSFORM`` (the executable's path) or else ``gltf-transform``
on ``PATH``. ``tests/test_gltf.py`` runs this script on every ``.glb`` the tests write; set
``MIEN_REQUIRE_GLTF_VALIDATOR=1`` (as CI does) to make a missing CLI a failure instead of a skip.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["GLTF_TRANSFORM_VERSION", "Issue", "Result", "find_cli", "main", "validate_file"]

GLTF_TRANSFORM_VERSION = "4.5.1"
"""The pinned ``@gltf-transform/cli`` version (install command in the module docstring)."""

SEVERITIES = ("error", "warning", "info", "hint")
INSTALL_HINT = (
    f"install it with: npm install -g @gltf-transform/cli@{GLTF_TRANSFORM_VERSION} "
    "(or set GLTF_TRANSFORM to the gltf-transform executable)"
)


@dataclass(frozen=True)
class Issue:
    """One validator message."""

    code: str
    message: str
    severity: str
    pointer: str


@dataclass
class Result:
    """The validator's verdict on one file."""

    path: str
    issues: list[Issue] = field(default_factory=list)
    failure: str = ""
    """Set when the CLI itself failed (file unreadable, crash) rather than reporting issues."""

    def count(self, severity: str) -> int:
        return sum(1 for issue in self.issues if issue.severity == severity)

    def ok(self, strict: bool) -> bool:
        if self.failure or self.count("error"):
            return False
        return not (strict and self.count("warning"))


def find_cli() -> str | None:
    """The gltf-transform executable: ``$GLTF_TRANSFORM`` or ``gltf-transform`` on PATH."""
    configured = os.environ.get("GLTF_TRANSFORM", "").strip()
    if configured:
        return configured if (os.path.isfile(configured) or shutil.which(configured)) else None
    return shutil.which("gltf-transform")


def validate_file(cli: str, path: str, timeout_s: float = 300.0) -> Result:
    """Run ``gltf-transform validate --format csv`` on one file and parse its report."""
    result = Result(path=path)
    try:
        proc = subprocess.run(
            [cli, "validate", "--format", "csv", path],
            capture_output=True, text=True, timeout=timeout_s, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        result.failure = f"could not run {cli}: {exc}"
        return result
    rows = list(csv.reader(io.StringIO(proc.stdout)))
    header = ["code", "message", "severity", "pointer"]
    start = next((i for i, row in enumerate(rows) if row == header), None)
    if start is not None:
        for row in rows[start + 1:]:
            if len(row) < 4:
                continue
            code, message, severity, pointer = row[:4]
            try:
                level = SEVERITIES[int(severity)]
            except (ValueError, IndexError):
                level = severity
            result.issues.append(Issue(code=code, message=message, severity=level, pointer=pointer))
    if proc.returncode != 0 and not result.count("error"):
        # The CLI exits non-zero on validation errors; anything else is a failure of its own.
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        result.failure = f"gltf-transform exited {proc.returncode}: {detail[-1] if detail else 'no output'}"
    if start is None and not result.failure:
        result.failure = "gltf-transform printed no CSV report"
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("files", nargs="+", help=".glb / .gltf files to validate")
    parser.add_argument("--strict", action="store_true", help="fail on warnings too")
    args = parser.parse_args(argv)
    cli = find_cli()
    if cli is None:
        print(f"validate_gltf: gltf-transform not found; {INSTALL_HINT}", file=sys.stderr)
        return 2
    status = 0
    for path in args.files:
        res = validate_file(cli, path)
        counts = ", ".join(f"{res.count(s)} {s}s" for s in SEVERITIES)
        verdict = "OK" if res.ok(args.strict) else "FAIL"
        print(f"{verdict} {path}: {counts}" + (f"; {res.failure}" if res.failure else ""))
        for issue in res.issues:
            if issue.severity in ("error", "warning"):
                print(f"  {issue.severity}: {issue.code} at {issue.pointer}: {issue.message}")
        if res.failure and not res.issues and "could not run" in res.failure:
            status = max(status, 2)
        elif not res.ok(args.strict):
            status = max(status, 1)
    return status


if __name__ == "__main__":
    sys.exit(main())
