"""Shared helpers of the engine-plugin tests: load and expand the conformance fixtures.

Each plugin keeps, in its ``conformance/`` folder, one JSON file per request it sends:

``name``            the file's stem; the plugin source names ``conformance/<name>.json`` in a comment
                    next to the code that builds that request.
``sent_by``         where in the plugin the request is built (for people).
``transport``       ``http`` or ``websocket``.
``request``         ``method``, ``path``, ``headers`` and ``body`` (http) or ``messages`` (websocket),
                    exactly as the plugin sends them, with these placeholders:

    * ``{"$file_base64": "<repo path>"}``  -> base64 of that file's bytes (e.g. a WAV for ``audio.file``)
    * ``{"$pcm_base64": "<repo path>.wav"}`` -> base64 of the WAV's 16-bit sample frames (``audio.pcm.data``)
    * ``{"$text_file": "<repo path>"}``    -> the file's text, stripped (a transcript)
    * ``${MIEN_TOKEN}`` inside a header value -> the bearer token of the gateway under test
    * websocket only: ``{"$pcm_chunks": {"wav": ..., "chunk_ms": N, "emotionKeyframes": [...]}}``
      -> one ``{"audio": {"data": ...}}`` message per ``chunk_ms`` of the WAV's samples; each keyframe
      rides on the chunk whose [start, end) holds its time (the first chunk also takes earlier ones),
      as both plugins do.

``response``        ``status`` and ``message`` (the mien.v1 response type, ``error`` or ``none``) and
                    ``parsed_fields``: every response field the plugin reads, as a dotted path
                    (``metadata.seed``, ``rigs[].name``) -> type (``string``, ``number``, ``uint64``,
                    ``string[]``, ``number[]``, ``object``). Websocket fixtures give ``messages``:
                    server message kind -> its parsed fields. ``error_code`` names the expected error;
                    ``accept_errors`` lists errors the plugin handles that a gateway may answer instead.

Paths are relative to the repository root.
"""

from __future__ import annotations

import base64
import json
import wave
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PLUGINS = REPO / "engine_plugins"
FIXTURE_DIRS = {
    "godot": PLUGINS / "godot" / "addons" / "mien" / "conformance",
    "unreal": PLUGINS / "unreal" / "Mien" / "conformance",
}
REQUIRED_FIXTURES = frozenset(
    {
        "animate_line_file",
        "animate_line_pcm",
        "animate_line_npc_auto",
        "animate_line_idle",
        "animate_line_invalid",
        "describe",
        "healthz",
        "stream_animate",
    }
)


def load_fixtures(plugin: str) -> list[dict[str, Any]]:
    """All fixtures of a plugin, each with ``_path`` added."""
    fixtures = []
    for path in sorted(FIXTURE_DIRS[plugin].glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        data["_path"] = path
        fixtures.append(data)
    return fixtures


def wav_pcm(path: Path) -> tuple[bytes, int, int]:
    """(s16le frames, sample rate, channels) of a 16-bit PCM WAV."""
    with wave.open(str(path), "rb") as reader:
        if reader.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit WAV fixtures are supported")
        return reader.readframes(reader.getnframes()), reader.getframerate(), reader.getnchannels()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def expand(value: Any, token: str = "") -> Any:
    """Replaces the placeholders of a request body or header (see the module docstring)."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "$file_base64":
                return _b64((REPO / arg).read_bytes())
            if key == "$pcm_base64":
                return _b64(wav_pcm(REPO / arg)[0])
            if key == "$text_file":
                return (REPO / arg).read_text(encoding="utf-8").strip()
        return {k: expand(v, token) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, token) for v in value]
    if isinstance(value, str):
        return value.replace("${MIEN_TOKEN}", token)
    return value


def expand_messages(messages: list[Any], token: str = "") -> list[dict[str, Any]]:
    """The client messages of a websocket fixture, with ``$pcm_chunks`` expanded."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, dict) and set(message) == {"$pcm_chunks"}:
            spec = message["$pcm_chunks"]
            pcm, rate, channels = wav_pcm(REPO / spec["wav"])
            chunk_ms = int(spec["chunk_ms"])
            frame_bytes = 2 * channels
            chunk_bytes = max(rate * chunk_ms // 1000 * frame_bytes, frame_bytes)
            keyframes = list(spec.get("emotionKeyframes", []))
            for index, offset in enumerate(range(0, len(pcm), chunk_bytes)):
                start = index * chunk_ms / 1000.0
                end = start + chunk_ms / 1000.0
                audio: dict[str, Any] = {"data": _b64(pcm[offset : offset + chunk_bytes])}
                mine = [k for k in keyframes if (k["timeS"] >= start or index == 0) and k["timeS"] < end]
                if mine:
                    audio["emotionKeyframes"] = mine
                out.append({"audio": audio})
        else:
            out.append(expand(message, token))
    return out


def check_type(value: Any, kind: str) -> bool:
    """Whether a JSON value has the fixture type ``kind``."""
    if kind.endswith("[]"):
        return isinstance(value, list) and all(check_type(v, kind[:-2]) for v in value)
    if kind == "string":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "uint64":
        return isinstance(value, str) and value.isdigit()
    if kind == "object":
        return isinstance(value, dict)
    if kind == "boolean":
        return isinstance(value, bool)
    raise ValueError(f"unknown fixture type {kind!r}")


def field_values(body: Any, path: str) -> list[Any] | None:
    """Values at a dotted path (``a.b``, ``rigs[].name``); None when a segment is missing."""
    values = [body]
    for segment in path.split("."):
        many = segment.endswith("[]")
        name = segment[:-2] if many else segment
        nxt: list[Any] = []
        for value in values:
            if not isinstance(value, dict) or name not in value:
                return None
            item = value[name]
            if many:
                if not isinstance(item, list):
                    return None
                nxt.extend(item)
            else:
                nxt.append(item)
        values = nxt
    return values


CORE = PLUGINS / "unreal" / "Mien" / "Source" / "MienCore"
CORE_TESTS = PLUGINS / "core_tests"
CORE_FLAGS = [
    "-std=c++17",
    "-O1",
    "-Wall",
    "-Wextra",
    "-Wshadow",
    "-Wconversion",
    "-Werror",
    "-fno-exceptions",
    "-fno-rtti",
]
"""Unreal builds plugin code with exceptions and RTTI off and shadowing/conversion warnings as errors."""


def build_core_program(main: str, out_dir: Path) -> Path:
    """Compiles the engine-independent plugin core plus ``core_tests/<main>`` with the system compiler."""
    import shutil
    import subprocess

    compiler = next((found for name in ("g++", "c++", "clang++") if (found := shutil.which(name))), None)
    if compiler is None:
        raise RuntimeError("no C++ compiler on PATH (apt-get install g++)")
    out = out_dir / Path(main).stem
    sources = sorted((CORE / "Private").glob("MienCore[A-Z]*.cpp"))
    args = [
        compiler,
        *CORE_FLAGS,
        "-I",
        str(CORE / "Public"),
        *map(str, sources),
        str(CORE_TESTS / main),
        "-o",
        str(out),
    ]
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-4000:])
    return out
