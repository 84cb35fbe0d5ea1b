"""Local files as the CLI and the bake use them: what a path is, bounded reads, and writes that replace only
a regular file.

The transports never read local paths (a remote caller must not make the sidecar open files); this is
for the in-process front ends (``mien animate``, ``mien bake``).
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import BinaryIO

from .errors import InvalidArgument

__all__ = ["file_kind", "read_limited", "replace_file", "safe_text", "stat_or_none"]


def safe_text(text: str) -> str:
    """``text`` safe to print or encode as UTF-8: file names may hold bytes that are not UTF-8 (lone surrogates in
    Python's str), shown escaped (``\\udcff``) instead of failing the output."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def stat_or_none(path: Path) -> os.stat_result | None:
    """``os.stat`` (symlinks followed), or None when nothing is there (or a parent is not a folder)."""
    try:
        return path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None


def file_kind(st: os.stat_result) -> str:
    """What a path is, for messages: ``a regular file``, ``a folder``, ``a character device``, ..."""
    mode = st.st_mode
    for test, name in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def read_limited(handle: BinaryIO, limit: int, label: str, field: str = "audio") -> bytes:
    """At most ``limit`` bytes (limits.max_message_bytes: what a request to the sidecar may carry); a longer
    input is refused without reading it whole (a device or a pipe may never end)."""
    data = handle.read(limit + 1)
    if len(data) > limit:
        raise InvalidArgument(f"{label} is larger than {limit} bytes, the largest input accepted (config "
                              "limits.max_message_bytes, as for a request to the sidecar)", field=field)
    return data


def replace_file(path: Path, data: bytes, *, what: str = "output") -> None:
    """Write ``data`` to ``path``, which must be a regular file or nothing.

    Through a hidden temporary file in the same folder and a rename, so a reader never sees a partial
    file; the temporary file is removed on any failure (an exception or Ctrl-C mid-write included). A
    symlink is followed: the file it names is replaced and the link kept, as a shell's ``>`` would. The
    replaced file keeps its permissions; a new one gets the umask's.
    """
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.parent / f".mien-{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            st = stat_or_none(path)
            if st is not None:
                if not stat.S_ISREG(st.st_mode):  # it changed since the caller's checks
                    raise InvalidArgument(f"{what} {path} is {file_kind(st)}; only a regular file (or nothing) "
                                          "is ever replaced", field=what)
                os.chmod(tmp, stat.S_IMODE(st.st_mode))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
