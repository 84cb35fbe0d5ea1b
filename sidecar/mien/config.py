"""Sidecar configuration: YAML (safe_load) -> frozen dataclasses, validated here and only here.

Every section is a frozen dataclass; the stage sections are the stages' own config classes.
:func:`load_config` rejects unknown keys (suggesting close matches), wrong types and values
out of range, naming the file and the dotted key. Units are in the names (_s, _ms, _hz, _fps).

Example ``mien.yaml``::

    server:
      host: 127.0.0.1
      port: 50051
      http_port: 8080
    limits:
      max_audio_s: 300
    animation:
      default_fps: 60
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import math
import reprlib
import stat
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .articulation import ArticulationConfig
from .blinks import BlinkConfig
from .emotion_state.engine import ABLATIONS, MODELS, EmotionStateConfig
from .emotion_state.store import SYNCHRONOUS_MODES
from .errors import InvalidArgument
from .expression import ExpressionConfig
from .gaze import GazeConfig
from .head import HeadConfig
from .livelinkface import parse_target
from .phonemes import RECOGNIZE_CHUNK_S, PhonemeConfig

__all__ = [
    "short_repr",
    "ServerConfig",
    "LimitsConfig",
    "AnimationConfig",
    "LiveLinkConfig",
    "NeuralConfig",
    "Config",
    "load_config",
    "config_from_dict",
    "with_settings",
]


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    """Interface to bind. Anything but loopback requires auth_token or TLS."""
    port: int = 50051
    """gRPC port (0 = pick a free one)."""
    http_port: int = 8080
    """HTTP/JSON + WebSocket gateway port (0 = pick a free one, -1 = no gateway)."""
    workers: int = 8
    """Threads serving requests."""
    auth_token: str = ""
    """If set, every request must carry `authorization: Bearer <token>`."""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    shutdown_grace_s: float = 10.0
    """On SIGTERM: in-flight requests get this long to finish."""
    trusted_proxies: str = ""
    """Comma-separated addresses of proxies (e.g. the nginx of docs/scaling.md) whose `x-mien-client` header names
    the real client for the per-client limit; from any other peer the header is ignored."""
    log_level: str = "INFO"


@dataclass(frozen=True)
class LimitsConfig:
    """Bounds on every request and stream, checked before the work starts; each refusal names its limit.

    The defaults keep the sidecar's peak memory within 600 MB under the largest request they allow and 1.2 GB
    under 8 at once (bench/bench_limits.py)."""

    max_audio_s: float = 300.0
    """Longest line, idle track and stream (seconds of audio)."""
    max_message_bytes: int = 32 * 1024 * 1024
    """Largest request message (gRPC) and HTTP body: 300 s of 48 kHz mono 16-bit PCM fits."""
    max_text_chars: int = 5000
    """Longest transcript (characters)."""
    max_word_chars: int = 100
    """Longest word of a transcript (characters of one token: a run of letters, or a number)."""
    max_words: int = 2000
    """Most words (tokens) in a transcript."""
    max_output_values: int = 4_000_000
    """Most curve values (frames x channels of the rig) of one track or one whole stream: 300 s at 60 fps on
    the 174-channel metahuman rig (3.1 M) fits; 300 s at 240 fps does not."""
    max_emotion_keyframes: int = 1000
    """Most emotion keyframes of one line, and of one stream (all its chunks together)."""
    max_chunk_s: float = 10.0
    """Longest streamed audio chunk (seconds)."""
    max_stream_message_bytes: int = 4 * 1024 * 1024
    """Largest message of a stream (gRPC message; a WebSocket frame may be 4/3 of it plus 64 KiB, its JSON and
    base64): a 10 s chunk of 48 kHz stereo float PCM fits."""
    max_concurrent_per_client: int = 64
    """Requests and streams in flight per client (its TLS identity, else its address) before RESOURCE_EXHAUSTED."""
    stream_stall_timeout_s: float = 5.0
    """A stream with no message for this long ends with DEADLINE_EXCEEDED (after the frames of its audio)."""
    stream_audioless_timeout_s: float = 10.0
    """A stream whose messages carry no audio samples for this long ends with DEADLINE_EXCEEDED (empty chunks do
    not keep a stream open)."""
    max_stream_s: float = 900.0
    """Longest life of a stream (wall-clock seconds from its header); then it ends with DEADLINE_EXCEEDED."""
    max_stream_lag_s: float = 0.0
    """A stream whose audio falls this far behind real time (counting only the time the sidecar waited for the
    client) ends with DEADLINE_EXCEEDED; 0 = no real-time rule (the default). Enable it (e.g. 2 x the stall
    timeout) on replicas sized within their capacity (docs/scaling.md): a process past capacity receives
    messages late itself, and would then cut honest real-time clients (measured: 64 streams on 2 shared cores)."""
    max_streams: int = 128
    """Open streams (gRPC and WebSocket together) before RESOURCE_EXHAUSTED."""
    http_header_timeout_s: float = 10.0
    """An HTTP connection that has not sent a whole request head (request line and headers, or a WebSocket
    handshake) within this many seconds of opening, or of its previous response, is closed: half-sent requests
    and idle keep-alive connections hold no socket."""
    http_body_timeout_s: float = 60.0
    """An HTTP request body must arrive whole within this many seconds of its head, else 408 (and the connection
    closes)."""
    max_concurrent_lines: int = 4
    """Offline lines (AnimateLine, idle tracks) computed at once in one sidecar process; more wait their turn
    (mien.budget)."""
    max_concurrent_line_audio_s: float = 450.0
    """Seconds of audio of the lines computed at once, together (a line's peak memory grows with its audio: one
    line of max_audio_s and others up to 150 s fit, and the sidecar stays within 1.2 GB under eight of the
    largest requests, bench/bench_limits.py); a line alone is always admitted."""
    max_queued_lines: int = 8
    """Lines that may wait for their turn (each holds its request's memory); one more is RESOURCE_EXHAUSTED."""
    line_queue_timeout_s: float = 120.0
    """How long a line waits for its turn before RESOURCE_EXHAUSTED."""
    max_line_cpu_s: float = 120.0
    """CPU seconds one line may take (its computing thread); past it, DEADLINE_EXCEEDED. A line whose caller has
    gone stops at once."""


@dataclass(frozen=True)
class AnimationConfig:
    default_fps: float = 60.0
    min_fps: float = 1.0
    max_fps: float = 240.0
    default_rig: str = "arkit52"


@dataclass(frozen=True)
class NeuralConfig:
    model: str = ""
    """Path of an .onnx model (with its .onnx.json beside it); "" = the bundled model."""
    threads: int = 1
    """onnxruntime intra-op threads per session."""


@dataclass(frozen=True)
class LiveLinkConfig:
    """Sending streams as Live Link Face UDP packets (mien.livelinkface). Off unless a target is set."""

    target: str = ""
    """``HOST:PORT`` every stream also sends to ("" = only streams that ask, in their header)."""
    allow_remote: bool = False
    """Allow targets that are not loopback addresses (face data leaving the machine)."""
    subject: str = "Mien"
    """Default Live Link subject name."""


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    animation: AnimationConfig = field(default_factory=AnimationConfig)
    phonemes: PhonemeConfig = field(default_factory=PhonemeConfig)
    articulation: ArticulationConfig = field(default_factory=ArticulationConfig)
    expression: ExpressionConfig = field(default_factory=ExpressionConfig)
    blinks: BlinkConfig = field(default_factory=BlinkConfig)
    gaze: GazeConfig = field(default_factory=GazeConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    live_link: LiveLinkConfig = field(default_factory=LiveLinkConfig)
    neural: NeuralConfig = field(default_factory=NeuralConfig)
    state: EmotionStateConfig = field(default_factory=EmotionStateConfig)


# Accepted ranges, by dotted key (inclusive). Keys not listed only have their type checked.
_RANGES: dict[str, tuple[float, float]] = {
    "server.port": (0, 65535),
    "server.http_port": (-1, 65535),
    "server.workers": (1, 256),
    "server.shutdown_grace_s": (0, 600),
    "limits.max_audio_s": (1, 3600),
    "limits.max_message_bytes": (1024, 2**31 - 1),
    "limits.max_text_chars": (1, 1_000_000),
    "limits.max_chunk_s": (0.01, 60),
    "limits.max_concurrent_per_client": (1, 10_000),
    "limits.stream_stall_timeout_s": (0.1, 600),
    "limits.max_streams": (1, 10_000),
    "limits.max_stream_lag_s": (0.0, 3600.0),
    "limits.max_word_chars": (1, 1000),
    "limits.max_words": (1, 1_000_000),
    "limits.max_output_values": (1000, 2**31 - 1),
    "limits.max_emotion_keyframes": (1, 1_000_000),
    "limits.max_stream_message_bytes": (1024, 2**31 - 1),
    "limits.stream_audioless_timeout_s": (0.1, 3600),
    "limits.max_stream_s": (1, 86_400),
    "limits.http_header_timeout_s": (0.1, 600),
    "limits.http_body_timeout_s": (0.1, 3600),
    "limits.max_concurrent_lines": (1, 1024),
    "limits.max_concurrent_line_audio_s": (1, 1_000_000),
    "limits.max_queued_lines": (0, 100_000),
    "limits.line_queue_timeout_s": (0, 3600),
    "limits.max_line_cpu_s": (0.1, 86_400),
    "animation.default_fps": (1, 240),
    "animation.min_fps": (1, 240),
    "animation.max_fps": (1, 240),
    "phonemes.aligners": (1, 16),
    "phonemes.recognizers": (1, 16),
    "phonemes.extra_recognizers": (0, 16),
    "phonemes.parallel_recognition_max_s": (0, 86_400),
    "phonemes.split_min_s": (1, 3600),
    "phonemes.chunk_s": (2, 600),
    "phonemes.recognizer_max_hmms_per_frame": (100, 100_000),
    "phonemes.recognize_chunk_s": (2, float(RECOGNIZE_CHUNK_S)),
    "phonemes.screen_line_gap_per_frame": (0, 1000),
    "phonemes.screen_word_gap_per_frame": (0, 1000),
    "phonemes.screen_word_excess_per_frame": (0, 1000),
    "phonemes.mismatch_margin_per_frame": (-1000, 1000),
    "phonemes.word_mismatch_margin_per_frame": (-1000, 1000),
    "phonemes.word_min_frames": (1, 1000),
    "phonemes.align_beam": (0, 1),
    "phonemes.vad_floor_db": (-120, 0),
    "phonemes.vad_absolute_floor_dbfs": (-140, 0),
    "articulation.lead_ms": (0, 100),
    "articulation.anticipation_ms": (5, 500),
    "articulation.carryover_ms": (5, 500),
    "articulation.loudness_gain_per_db": (0, 0.2),
    "expression.onset_ms": (0, 5000),
    "expression.start_level": (0, 1),
    "expression.attack_ms": (1, 5000),
    "expression.release_ms": (1, 5000),
    "expression.offset_level": (0, 1),
    "expression.emphasis_brow": (0, 1),
    "expression.micro_amplitude": (0, 0.3),
    "blinks.speaking_rate_per_min": (1, 60),
    "blinks.listening_rate_per_min": (1, 60),
    "blinks.arousal_gain": (0, 1),
    "blinks.boundary_snap_probability": (0, 1),
    "blinks.partial_probability": (0, 1),
    "blinks.min_interval_s": (0.1, 5),
    "gaze.speaking_fixation_s": (0.25, 10),
    "gaze.listening_fixation_s": (0.25, 10),
    "gaze.speaking_aversion": (0, 1),
    "gaze.listening_aversion": (0, 1),
    "gaze.max_yaw_deg": (0, 25),
    "gaze.max_pitch_deg": (0, 20),
    "gaze.lid_follow": (0, 1),
    "head.nod_deg": (0, 15),
    "head.nod_duration_s": (0.1, 2),
    "head.sway_deg": (0, 10),
    "head.sway_time_s": (0.1, 10),
    "head.pitch_per_semitone_deg": (0, 2),
    "head.pitch_per_db_deg": (0, 0.5),
    "head.phrase_tilt_deg": (0, 10),
    "head.arousal_gain": (0, 1),
    "head.posture_per_dominance_deg": (-10, 10),
    "head.posture_per_valence_deg": (-10, 10),
    "head.settle_s": (0.02, 2),
    "head.breathing_deg": (0, 0.5),
    "head.listening_nod_interval_s": (1, 60),
    "head.listening_nod_deg": (0, 10),
    "head.listening_sway_deg": (0, 5),
    "neural.threads": (1, 64),
    "state.mood_half_life_s": (0.1, 1e7),
    "state.emotion_half_life_s": (0.01, 1e7),
    "state.mood_gain": (0.001, 1),
    "state.max_text_chars": (1, 1_000_000),
    "state.max_npc_id_chars": (1, 4096),
    "state.encoder_threads": (1, 64),
    "state.encoder_cache_size": (0, 1_000_000),
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "server.log_level": ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"),
    "state.sqlite_synchronous": SYNCHRONOUS_MODES,
    "state.model": MODELS,
    "state.ablation": ABLATIONS,
}


class _ShortRepr(reprlib.Repr):
    """reprlib's bounded repr, also for subclasses of list and dict (which reprlib would repr() whole)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxtuple, self.maxdict = 2, 4, 4, 4
        self.maxstring, self.maxother, self.maxlong = 60, 60, 40

    def repr1(self, x: Any, level: int) -> str:
        if isinstance(x, dict):
            return self.repr_dict(x, level)
        if isinstance(x, list):
            return self.repr_list(x, level)
        if isinstance(x, tuple):
            return self.repr_tuple(x, level)
        return super().repr1(x, level)


def short_repr(value: Any) -> str:
    """A short repr for error messages, bounded whatever the value: a YAML alias bomb shares its nodes, so it is
    small in memory but exponential when printed whole."""
    return _ShortRepr().repr(value)



def _fail(source: str, key: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f"{source}: {key}: {problem}", field=key)


def _convert(value: Any, hint: Any, key: str, source: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key, source)  # type: ignore[arg-type]
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise _fail(source, key, f"expected a list of {len(args)} numbers, got {short_repr(value)}")
        return tuple(_convert(v, a, f"{key}[{i}]", source) for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if hint is bool:
        if not isinstance(value, bool):
            raise _fail(source, key, f"expected true or false, got {short_repr(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(source, key, f"expected an integer, got {short_repr(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise _fail(source, key, f"expected a number, got {short_repr(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _fail(source, key, f"expected a string, got {short_repr(value)}")
        return value
    if isinstance(hint, types.UnionType):
        return value
    raise _fail(source, key, f"unsupported setting type {hint!r}")


def _build(cls: type, data: Any, prefix: str, source: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _fail(source, prefix or "(top level)", f"expected a mapping of settings, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if k not in names:
            close = difflib.get_close_matches(str(k), names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise _fail(source, key, f"unknown setting{hint}; accepted: {', '.join(names)}")
        value = _convert(v, hints[k], key, source)
        if key in _RANGES:
            lo, hi = _RANGES[key]
            if not lo <= value <= hi:
                raise _fail(source, key, f"{short_repr(value)} is out of range; accepted: {lo:g} to {hi:g}")
        if key in _CHOICES and value not in _CHOICES[key]:
            raise _fail(source, key, f"{short_repr(value)} is not one of {', '.join(_CHOICES[key])}")
        kwargs[k] = value
    return cls(**kwargs)


def _cross_checks(config: Config, source: str) -> None:
    a = config.animation
    if not a.min_fps <= a.default_fps <= a.max_fps:
        raise _fail(source, "animation.default_fps", f"{a.default_fps:g} must lie within min_fps..max_fps "
                    f"({a.min_fps:g}..{a.max_fps:g})")
    lo, hi = config.articulation.loudness_gain_range
    if not 0 < lo <= 1 <= hi <= 3:
        raise _fail(source, "articulation.loudness_gain_range", f"[{lo}, {hi}] must satisfy 0 < low <= 1 <= high <= 3")
    st = config.state
    if not st.db_path:
        raise _fail(source, "state.db_path", "must be a file path, or ':memory:' (states lost on restart)")
    for key in ("personas_path", "appraisals_path", "head_path", "blob_key_path"):
        value = getattr(st, key)
        if value is not None and (not isinstance(value, str) or not value):
            raise _fail(source, f"state.{key}", f"expected a file path (or omit it), got {short_repr(value)}")
    if st.emotion_half_life_s >= st.mood_half_life_s:
        raise _fail(source, "state.emotion_half_life_s", f"{st.emotion_half_life_s:g} must be shorter than "
                    f"state.mood_half_life_s ({st.mood_half_life_s:g})")
    ll = config.live_link
    if ll.target:
        try:
            parse_target(ll.target, allow_remote=ll.allow_remote, field="live_link.target")
        except InvalidArgument as error:
            raise _fail(source, "live_link.target", str(error).split(": ", 1)[-1]) from None
    if not ll.subject.strip() or len(ll.subject) > 256:
        raise _fail(source, "live_link.subject", "must be 1 to 256 characters")
    s = config.server
    for item in filter(None, (part.strip().strip("[]") for part in s.trusted_proxies.split(","))):
        try:
            ipaddress.ip_address(item)
        except ValueError:
            raise _fail(source, "server.trusted_proxies", f"{short_repr(item)} is not an IP address; accepted: "
                        "comma-separated IPv4/IPv6 addresses, e.g. '127.0.0.1, ::1'") from None
    if bool(s.tls_cert_file) != bool(s.tls_key_file):
        raise _fail(source, "server.tls_cert_file", "set both tls_cert_file and tls_key_file, or neither")


def config_from_dict(data: Any, source: str = "config") -> Config:
    """Validate a parsed mapping into a :class:`Config`."""
    config = _build(Config, data, "", source)
    _cross_checks(config, source)
    return typing.cast(Config, config)


def with_settings(config: Config, settings: dict[str, Any], source: str) -> Config:
    """``config`` with dotted settings replaced (e.g. ``{"server.port": 8000}`` from a command line), each
    validated exactly as in a config file (type, range, choices, cross-checks); errors name ``source``."""
    hints = typing.get_type_hints(Config)
    sections: dict[str, dict[str, Any]] = {}
    for key, value in settings.items():
        section, _, name = key.partition(".")
        if section not in hints or not name:
            raise _fail(source, key, f"unknown setting; accepted sections: {', '.join(hints)}")
        sections.setdefault(section, {})[name] = value
    changes = {}
    for section, values in sections.items():
        checked = _build(hints[section], values, section, source)
        changes[section] = dataclasses.replace(getattr(config, section), **{k: getattr(checked, k) for k in values})
    out = dataclasses.replace(config, **changes)
    _cross_checks(out, source)
    return out


_MAX_CONFIG_BYTES = 1024 * 1024
"""A config is a short YAML file; a bigger one (or a device that never ends) is refused unread."""


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's multi-line message as one line: the problem and where."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else problem


def load_config(path: str | Path | None = None) -> Config:
    """Load ``path`` (YAML) or return the defaults when ``path`` is None."""
    if path is None:
        return config_from_dict({}, "defaults")
    p = Path(path)
    try:
        if not stat.S_ISREG(p.stat().st_mode):  # a pipe or a device would block or never end
            raise InvalidArgument(f"cannot read config file {p}: it is not a regular file", field="config")
        with p.open("rb") as handle:
            raw = handle.read(_MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise InvalidArgument(f"cannot read config file {p}: {exc.strerror}", field="config") from None
    if len(raw) > _MAX_CONFIG_BYTES:
        raise InvalidArgument(f"config file {p} is larger than {_MAX_CONFIG_BYTES // 1024} KiB; a config is a "
                              "short YAML file (see sidecar/mien/config.py)", field="config")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(f"config file {p} is not UTF-8 text (byte {exc.start}); save it as UTF-8",
                              field="config") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"{p}: not valid YAML: {_yaml_problem(exc)}", field="config") from None
    return config_from_dict(data, str(p))
