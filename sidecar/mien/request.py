"""What a caller asks for: the request types every transport converts into (core, no transport)."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import soundfile as sf

from .audio import PCM_ENCODINGS, Audio
from .config import AnimationConfig, LimitsConfig
from .emotion import Emotion, EmotionKeyframe
from .errors import FailedPrecondition, InvalidArgument
from .track import PhoneSegment

__all__ = [
    "CONTRACT_VERSION",
    "MODES",
    "Mode",
    "EncodedAudio",
    "PcmInput",
    "DeferredAudio",
    "declared_audio_s",
    "AutoEmotion",
    "EmotionInput",
    "AnimationOptions",
    "LineRequest",
    "EmotionSource",
    "resolve_fps",
    "check_seed",
    "check_transcript",
    "check_output_size",
    "check_keyframe_count",
    "resolve_auto",
]

CONTRACT_VERSION = "mien.v1"
_WORD = re.compile(r"[^\W_]+(?:[,.'’]+[^\W_]+)*")
"""A word as the limits count it: a run of letters and digits, with the commas, points and apostrophes inside
it ("1,000,000", "don't"): never shorter than a word the aligner sees."""
MODES = ("auto", "aligned", "recognized", "neural")
Mode = Literal["auto", "aligned", "recognized", "neural"]

@dataclass(frozen=True)
class EncodedAudio:
    """An audio file's bytes (WAV, FLAC, OGG, MP3, AIFF)."""

    data: bytes


@dataclass(frozen=True)
class PcmInput:
    """Headerless PCM samples."""

    data: bytes
    sample_rate_hz: int
    encoding: str = "pcm_s16le"
    channels: int = 1


@dataclass(frozen=True)
class DeferredAudio:
    """Audio read out of its carrier (a transport's request message) only when the line's turn comes.

    A line that waits for its turn (mien.budget) then holds its audio once, in the message, not also as a copy;
    and the copy :meth:`read` makes is dropped as soon as it is decoded, not kept for the whole line. A 300 s
    line of 48 kHz PCM is 28.8 MB. ``declared_s`` (:func:`declared_audio_s` of what ``read`` returns) is what
    the admission weighs."""

    read: Callable[[], EncodedAudio | PcmInput]
    declared_s: float


def declared_audio_s(src: EncodedAudio | PcmInput | Audio | DeferredAudio) -> float:
    """The seconds of audio ``src`` declares, without decoding it; 0 when that cannot be told (decoding then
    refuses it)."""
    if isinstance(src, DeferredAudio):
        return src.declared_s
    if isinstance(src, Audio):
        return src.duration_s
    if isinstance(src, PcmInput):
        width = PCM_ENCODINGS.get(src.encoding, (None, 2))[1]
        return len(src.data) / max(1, width * max(1, src.channels)) / max(1, src.sample_rate_hz)
    try:
        info = sf.info(io.BytesIO(src.data))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return 0.0
    return info.frames / info.samplerate if info.frames > 0 and info.samplerate > 0 else 0.0


@dataclass(frozen=True)
class AutoEmotion:
    """Take the emotion from the NPC's state (EmotionState service)."""

    npc_id: str
    game_time_s: float | None = None


EmotionInput = Emotion | tuple[EmotionKeyframe, ...] | AutoEmotion


@dataclass(frozen=True)
class AnimationOptions:
    """Per-request scales (0 switches a layer off, 1 is the default, up to 2)."""

    expression_scale: float = 1.0
    blink_scale: float = 1.0
    gaze_scale: float = 1.0
    speech_style_scale: float = 1.0
    micro_motion_scale: float = 1.0
    head_motion_scale: float = 1.0
    """Head motion from prosody (0 = the head stays still)."""

    def __post_init__(self) -> None:
        for name in ("expression_scale", "blink_scale", "gaze_scale", "speech_style_scale", "micro_motion_scale",
                     "head_motion_scale"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or not 0.0 <= v <= 2.0:
                raise InvalidArgument(f"options.{name} = {v!r}; accepted: 0 to 2 (0 = off, 1 = default)",
                                      field=f"options.{name}")


@dataclass(frozen=True)
class LineRequest:
    """Everything needed to animate one line. ``audio`` None + ``idle_duration_s`` > 0 = idle track."""

    audio: EncodedAudio | PcmInput | Audio | DeferredAudio | None = None
    transcript: str | None = None
    emotion: EmotionInput = field(default_factory=Emotion.neutral)
    fps: float | None = None
    rig: str | None = None
    seed: int = 0
    mode: Mode = "auto"
    options: AnimationOptions = field(default_factory=AnimationOptions)
    idle_duration_s: float = 0.0
    request_id: str = ""
    phones: tuple[PhoneSegment, ...] | None = None
    """A known phone timeline (e.g. from a synthesiser's phoneme events): used as is, no alignment
    (Python API only; the mode reported is "timeline")."""


class EmotionSource(Protocol):
    """What the animator needs from the NPC emotion-state engine."""

    def current_emotion(self, npc_id: str, game_time_s: float | None = None) -> Emotion: ...


def resolve_fps(fps: float | None, animation: AnimationConfig, field: str = "fps") -> float:
    """The frame rate asked for (0 or None = the default), checked against the configured range."""
    value = animation.default_fps if fps in (None, 0) else fps
    if value is None or not math.isfinite(value) or not animation.min_fps <= value <= animation.max_fps:
        raise InvalidArgument(f"{field} = {fps!r}; accepted: {animation.min_fps:g} to {animation.max_fps:g} "
                              f"(0 or unset = {animation.default_fps:g})", field=field)
    return float(value)


def check_seed(seed: int, field: str = "seed") -> int:
    if not 0 <= seed < 2**64:
        raise InvalidArgument(f"{field} = {seed}; accepted: 0 to 2^64 - 1", field=field)
    return seed


def resolve_auto(emotion: AutoEmotion, source: EmotionSource | None, npc_field: str = "npc_id") -> Emotion:
    """The NPC's current emotion from the emotion-state engine."""
    if not emotion.npc_id:
        raise InvalidArgument(f"emotion auto needs {npc_field} (the NPC whose state to use)", field=npc_field)
    if source is None:
        raise FailedPrecondition("emotion auto: this sidecar has no emotion-state service", field="emotion")
    return source.current_emotion(emotion.npc_id, emotion.game_time_s)


def check_transcript(text: str, limits: LimitsConfig, field: str = "transcript") -> None:
    """Characters, words and the longest word of a transcript against the limits (before any alignment: a word
    of thousands of letters would cost seconds of CPU in the aligner)."""
    if len(text) > limits.max_text_chars:
        raise InvalidArgument(f"{field} has {len(text)} characters; the maximum is {limits.max_text_chars} "
                              "(limits.max_text_chars)", field=field)
    words = 0
    for match in _WORD.finditer(text):
        words += 1
        word = match.group(0)
        if len(word) > limits.max_word_chars:
            raise InvalidArgument(f"{field} has a word of {len(word)} characters ({word[:20]!r}...); the maximum "
                                  f"is {limits.max_word_chars} (limits.max_word_chars)", field=field)
    if words > limits.max_words:
        raise InvalidArgument(f"{field} has {words} words; the maximum is {limits.max_words} "
                              "(limits.max_words); split the line", field=field)


def check_output_size(frames: int, channels: int, limits: LimitsConfig, what: str = "the track",
                      field: str = "audio") -> None:
    """A track (or a whole stream) of ``frames`` x ``channels`` values, against ``limits.max_output_values``."""
    values = frames * channels
    if values > limits.max_output_values:
        most_frames = limits.max_output_values // max(channels, 1)
        raise InvalidArgument(
            f"{what} would have {frames} frames x {channels} channels = {values} values; the maximum is "
            f"{limits.max_output_values} (limits.max_output_values): at most {most_frames} frames on this rig; "
            "lower fps, use a rig with fewer channels, or split the line", field=field)


def check_keyframe_count(count: int, limits: LimitsConfig, field: str, *, already: int = 0) -> None:
    """Emotion keyframes of one line, or of one stream so far (``already``) plus one chunk's ``count``."""
    if already + count > limits.max_emotion_keyframes:
        where = (f"this stream already has {already} and a chunk adds {count}" if already else f"{count} given")
        raise InvalidArgument(f"{field}: too many emotion keyframes ({where}); the maximum is "
                              f"{limits.max_emotion_keyframes} per line and per stream "
                              "(limits.max_emotion_keyframes)", field=field)
