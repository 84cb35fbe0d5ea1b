"""Authenticated save blobs (``ExportState`` / ``ImportState``): HMAC-SHA256 with a key kept by the install.

A game stores an NPC's exported state in its save file and gives it back later; the save file is in
the player's hands, so an imported blob is untrusted input. Every exported blob is sealed with an
HMAC-SHA256 tag (RFC 2104) under a secret key of this install, and :func:`open_blob` refuses anything
whose tag does not verify *before* its payload is parsed. A blob sealed by another install (another
key) is refused unless the configuration opts in (``state.accept_foreign_blobs``); then, as for every
accepted blob, every field is still range- and consistency-checked (:func:`.state.check_state`), so a
forged blob can never make a later call fail.

Layout (big-endian)::

    offset  size  field
    0       8     magic  b"MIENEMO1"
    8       2     version (uint16) = 2  (version 1 = the unauthenticated, SHA-256-checksummed blob that
                  the SQLite store keeps and that earlier releases exported; accepted only as foreign)
    10      8     key id: the first 8 bytes of SHA-256(b"mien.emotion_state.key-id\\0" + key)
    18      4     payload length n (uint32)
    22      n     payload: the UTF-8 JSON object of :func:`.state.encode_state`
    22+n    32    HMAC-SHA256(key, bytes [0, 22+n))

The key id names the install that sealed a blob (so the error can say "another install" rather than
"tampered"); it reveals nothing about the key.

**The key**: ``state.blob_key_path``, or by default ``<db_path>.key`` beside the state database,
created on first use with 32 bytes from ``os.urandom`` and permissions 0600 (``O_CREAT | O_EXCL``, so
two sidecars starting together agree on one key). An existing key file that other users can read or
write is refused (``chmod 600`` it). With ``db_path: ":memory:"`` and no key path, the key lives only
in the process: its blobs import into the same running sidecar only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import FailedPrecondition, InvalidArgument
from .state import BLOB_MAGIC, MAX_BLOB_BYTES, NpcState, decode_payload, decode_state, encode_payload

__all__ = ["KEY_BYTES", "KEY_FILE_HEADER", "SAVE_VERSION", "SaveKey", "open_blob", "seal"]

SAVE_VERSION = 2
KEY_BYTES = 32
KEY_FILE_HEADER = "mien-emotion-state-key 1"
_HEADER = struct.Struct(">8sH8sI")
_TAG = 32
_KEY_ID_DOMAIN = b"mien.emotion_state.key-id\0"
_V1 = struct.Struct(">8sHI")


def _bad(message: str) -> InvalidArgument:
    return InvalidArgument(f"state blob: {message}", field="state")


@dataclass(frozen=True)
class SaveKey:
    """The install's secret for sealing and opening save blobs."""

    secret: bytes
    path: str | None = None
    """The key file, or None for a key that lives only in this process."""

    def __repr__(self) -> str:  # never print the secret
        return f"SaveKey(path={self.path!r}, id={self.key_id.hex()})"

    @property
    def key_id(self) -> bytes:
        """8 bytes naming the key (SHA-256 of a domain tag and the key): not secret, not reversible."""
        return hashlib.sha256(_KEY_ID_DOMAIN + self.secret).digest()[:8]

    @classmethod
    def ephemeral(cls) -> SaveKey:
        """A random key for this process only (``db_path: ":memory:"`` without a key path)."""
        return cls(os.urandom(KEY_BYTES), None)

    @classmethod
    def load_or_create(cls, path: str | Path) -> SaveKey:
        """Read the key file, or create it (0600, random) if it does not exist."""
        p = Path(path)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            return cls._read(p)
        except OSError as exc:
            raise FailedPrecondition(f"state.blob_key_path: cannot create {p}: {exc.strerror}",
                                     field="blob_key_path") from None
        secret = os.urandom(KEY_BYTES)
        try:
            os.write(fd, f"{KEY_FILE_HEADER}\n{secret.hex()}\n".encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return cls(secret, str(p))

    @classmethod
    def _read(cls, p: Path) -> SaveKey:
        def fail(problem: str) -> FailedPrecondition:
            return FailedPrecondition(f"state.blob_key_path: {p}: {problem}", field="blob_key_path")

        try:
            info = p.lstat()
            if stat.S_ISLNK(info.st_mode):
                info = p.stat()
            if not stat.S_ISREG(info.st_mode):
                raise fail("not a regular file")
            if info.st_mode & 0o077:
                raise fail(f"permissions {stat.S_IMODE(info.st_mode):04o} let other users read or change the "
                           "key; accepted: 0600 (chmod 600 it)")
            if info.st_size > 1024:
                raise fail(f"{info.st_size} bytes is not a key file (expected {KEY_FILE_HEADER!r} and a hex key)")
            text = p.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
        lines = text.split()
        if len(lines) != 3 or " ".join(lines[:2]) != KEY_FILE_HEADER:
            raise fail(f"not a key file (expected a first line {KEY_FILE_HEADER!r} and a hex key)")
        try:
            secret = bytes.fromhex(lines[2])
        except ValueError:
            raise fail("the key is not hexadecimal") from None
        if len(secret) < 16:
            raise fail(f"the key has {len(secret)} bytes; accepted: at least 16")
        return cls(secret, str(p))


def seal(state: NpcState, key: SaveKey) -> bytes:
    """The authenticated blob of ``state`` (version 2)."""
    data = encode_payload(state)
    head = _HEADER.pack(BLOB_MAGIC, SAVE_VERSION, key.key_id, len(data))
    return head + data + hmac.new(key.secret, head + data, hashlib.sha256).digest()


def open_blob(blob: object, key: SaveKey, *, accept_foreign: bool = False) -> NpcState:
    """The state in ``blob``, authenticated and structurally validated; ``InvalidArgument`` otherwise.

    A version-2 blob sealed with ``key`` is authenticated (constant-time tag check) before its payload
    is parsed. A blob of another install, or an unauthenticated version-1 blob, is refused unless
    ``accept_foreign``. (The engine then checks the state's consistency: :func:`.state.check_state`.)
    """
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise _bad(f"expected bytes, got {type(blob).__name__}")
    data = bytes(blob)
    if len(data) > MAX_BLOB_BYTES:
        raise _bad(f"{len(data)} bytes is larger than the {MAX_BLOB_BYTES}-byte limit")
    if len(data) < _V1.size:
        raise _bad(f"truncated ({len(data)} bytes; a valid blob has at least {_HEADER.size + _TAG})")
    magic, version = struct.unpack_from(">8sH", data)
    if magic != BLOB_MAGIC:
        raise _bad(f"not a Mien emotion-state blob (magic {magic[:8]!r}, expected {BLOB_MAGIC!r})")
    if version == 1:
        if not accept_foreign:
            raise _bad("an unauthenticated blob (version 1, from an earlier release or copied from a state "
                       "database) is refused; export it again, or set state.accept_foreign_blobs to import it")
        return decode_state(data)
    if version != SAVE_VERSION:
        raise _bad(f"version {version} is not supported; accepted: {SAVE_VERSION} (and 1 when "
                   "state.accept_foreign_blobs is set)")
    if len(data) < _HEADER.size + _TAG:
        raise _bad(f"truncated ({len(data)} bytes; a valid blob has at least {_HEADER.size + _TAG})")
    _, _, key_id, length = _HEADER.unpack_from(data)
    end = _HEADER.size + length
    if len(data) != end + _TAG:
        raise _bad(f"length {len(data)} bytes does not match the header ({end + _TAG}); truncated or padded")
    if key_id != key.key_id:
        if not accept_foreign:
            raise _bad(f"sealed by another install (key id {key_id.hex()}, this install's is "
                       f"{key.key_id.hex()}); set state.accept_foreign_blobs to import blobs of other installs")
    elif not hmac.compare_digest(hmac.new(key.secret, data[:end], hashlib.sha256).digest(), data[end:]):
        raise _bad("checksum mismatch: its HMAC does not verify, so it was changed after it was exported "
                   "(tampered or corrupted)")
    return decode_payload(data[_HEADER.size:end])
