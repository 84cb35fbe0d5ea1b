"""The recipe: one dialogue line in, one animation track out.

    audio      -> decode, resample, downmix                       (mien.audio)
    phonemes   -> timed phones: align the transcript, or recognise (mien.phonemes)
    emotion    -> per-frame category weights                      (mien.emotion)
    articulate -> coarticulated mouth, jaw and tongue             (mien.articulation)
    express    -> emotion on the face, composed with speech       (mien.expression)
    blink/gaze -> seeded eyelids and eyes                         (mien.blinks, mien.gaze)
    rig        -> the requested rig profile                       (mien.rig)

:class:`Animator` holds what is expensive to load (decoders, models) and is thread-safe.
It knows nothing about transports: the gRPC servicer, the HTTP gateway, the CLI and the bake
all build a :class:`LineRequest` and call :meth:`Animator.animate`.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from . import __version__
from .articulation import SpeechStyle, articulate, loudness_db, mouth_curves
from .audio import Audio, decode_audio, decode_pcm
from .channels import CHANNELS, INDEX
from .config import Config
from .emotion import EMOTIONS, VAD_ANCHORS, Emotion, EmotionKeyframe, emotion_weights
from .errors import FailedPrecondition, InvalidArgument
from .expression import expression_curves, speech_style
from .eyes import STREAM_MICRO, Eyes, rng_for
from .phonemes import PhoneRecognizer, PhoneTimeline
from .prosody import Emphasis, analyse, line_pitch_hz, speaking_envelope
from .rig import load_rig
from .track import PhoneSegment, Track, TrackInfo

__all__ = [
    "CONTRACT_VERSION",
    "MODES",
    "EncodedAudio",
    "PcmInput",
    "AutoEmotion",
    "AnimationOptions",
    "LineRequest",
    "Animator",
]

CONTRACT_VERSION = "mien.v1"
MODES = ("auto", "aligned", "recognized", "neural")
Mode = Literal["auto", "aligned", "recognized", "neural"]

_AROUSAL = np.array([VAD_ANCHORS[e][1] for e in EMOTIONS])


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

    def __post_init__(self) -> None:
        for name in ("expression_scale", "blink_scale", "gaze_scale", "speech_style_scale", "micro_motion_scale"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or not 0.0 <= v <= 2.0:
                raise InvalidArgument(f"options.{name} = {v!r}; accepted: 0 to 2 (0 = off, 1 = default)",
                                      field=f"options.{name}")


@dataclass(frozen=True)
class LineRequest:
    """Everything needed to animate one line. ``audio`` None + ``idle_duration_s`` > 0 = idle track."""

    audio: EncodedAudio | PcmInput | Audio | None = None
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


class SpeechModel(Protocol):
    """The neural audio-to-controller model (mien.neural)."""

    name: str
    version: str
    channel_names: tuple[str, ...]

    def predict(self, audio: Audio, weights: np.ndarray, fps: float) -> np.ndarray: ...


@dataclass(frozen=True)
class _Speech:
    """What the speech stage hands to the face stages."""

    phones: tuple[PhoneSegment, ...]
    mode: str
    warnings: tuple[str, ...]
    speaking: np.ndarray
    pause_onsets_s: np.ndarray
    last_speech_s: float | None


class Animator:
    """Animates lines. Load once, call :meth:`animate` from any thread."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        emotion_source: EmotionSource | None = None,
        speech_model: SpeechModel | None = None,
    ) -> None:
        self.config = config or Config()
        self.recognizer = PhoneRecognizer(self.config.phonemes)
        self.emotion_source = emotion_source
        self.speech_model = speech_model
        # side work that overlaps the alignment (numpy releases the GIL): the pitch track
        self._side = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mien-side")

    @property
    def modes(self) -> tuple[str, ...]:
        return ("aligned", "recognized", "neural") if self.speech_model else ("aligned", "recognized")

    def versions(self) -> dict[str, str]:
        out = {"mien": __version__, "contract": CONTRACT_VERSION}
        if self.speech_model:
            out[self.speech_model.name] = self.speech_model.version
        return out

    # --------------------------------------------------------------------------------- stages
    def _audio(self, request: LineRequest) -> Audio | None:
        limit = self.config.limits.max_audio_s
        src = request.audio
        if isinstance(src, EncodedAudio):
            return decode_audio(src.data, max_duration_s=limit)
        if isinstance(src, PcmInput):
            return decode_pcm(src.data, sample_rate_hz=src.sample_rate_hz, encoding=src.encoding,
                              channels=src.channels, max_duration_s=limit)
        if isinstance(src, Audio):
            if src.duration_s > limit:
                raise InvalidArgument(f"audio is {src.duration_s:.1f} s long; the maximum is {limit:g} s",
                                      field="audio")
            return src
        return None

    def _check(self, request: LineRequest, audio: Audio | None) -> tuple[float, float]:
        a = self.config.animation
        fps = a.default_fps if request.fps in (None, 0) else request.fps
        if fps is None or not math.isfinite(fps) or not a.min_fps <= fps <= a.max_fps:
            raise InvalidArgument(f"fps = {request.fps!r}; accepted: {a.min_fps:g} to {a.max_fps:g} "
                                  f"(0 or unset = {a.default_fps:g})", field="fps")
        if request.mode not in MODES:
            raise InvalidArgument(f"mode {request.mode!r}; accepted: {', '.join(MODES)}", field="mode")
        if not 0 <= request.seed < 2**64:
            raise InvalidArgument(f"seed = {request.seed}; accepted: 0 to 2^64 - 1", field="seed")
        text = request.transcript or ""
        if len(text) > self.config.limits.max_text_chars:
            raise InvalidArgument(f"transcript has {len(text)} characters; the maximum is "
                                  f"{self.config.limits.max_text_chars}", field="transcript")
        idle = request.idle_duration_s
        if audio is None:
            if not math.isfinite(idle) or idle <= 0:
                raise InvalidArgument("audio is missing; send audio (a file or PCM), or idle_duration_s > 0 "
                                      "for an idle track", field="audio")
            if idle > self.config.limits.max_audio_s:
                raise InvalidArgument(f"idle_duration_s = {idle:g}; the maximum is "
                                      f"{self.config.limits.max_audio_s:g} s", field="idle_duration_s")
            if text.strip():
                raise InvalidArgument("a transcript needs audio; idle tracks take no transcript", field="transcript")
            return fps, idle
        if idle:
            raise InvalidArgument("send either audio or idle_duration_s, not both", field="idle_duration_s")
        if request.mode == "aligned" and not text.strip():
            raise InvalidArgument("mode aligned needs a transcript; send one or use mode auto/recognized/neural",
                                  field="transcript")
        if request.mode == "neural" and self.speech_model is None:
            raise FailedPrecondition("mode neural: no neural model is loaded in this sidecar; "
                                     f"available modes: {', '.join(self.modes)}", field="mode")
        return fps, audio.duration_s

    def _emotion(self, request: LineRequest, n: int, fps: float) -> tuple[np.ndarray, Emotion | None]:
        emotion = request.emotion
        if isinstance(emotion, AutoEmotion):
            if not emotion.npc_id:
                raise InvalidArgument("emotion auto needs npc_id (the NPC whose state to use)", field="npc_id")
            if self.emotion_source is None:
                raise FailedPrecondition("emotion auto: this sidecar has no emotion-state service", field="emotion")
            emotion = self.emotion_source.current_emotion(emotion.npc_id, emotion.game_time_s)
        weights = emotion_weights(emotion, n, fps)
        return weights, emotion if isinstance(emotion, Emotion) else None

    def _speech(self, request: LineRequest, audio: Audio | None, fps: float, n: int) -> _Speech:
        if audio is None:
            return _Speech((), "idle", (), np.zeros(n), np.zeros(0), None)
        mode: str = request.mode
        text = (request.transcript or "").strip()
        if mode == "auto":
            mode = "aligned" if text else ("neural" if self.speech_model else "recognized")
        if request.phones is not None:
            mode = "timeline"
            timeline = PhoneTimeline(tuple(request.phones), "timeline")
        elif mode == "neural":
            timeline = PhoneTimeline((), "neural")
        elif mode == "recognized":
            timeline = self.recognizer.recognize(audio)
        else:
            timeline = self.recognizer.align(audio, text)
        phones = timeline.phones
        if mode == "neural":
            speaking = _energy_speaking(audio, n, fps)
            onsets = _onsets_from_envelope(speaking, fps)
            last = float(np.flatnonzero(speaking > 0.5)[-1] / fps) if (speaking > 0.5).any() else None
        else:
            speaking = speaking_envelope(phones, n, fps)
            onsets = np.array([p.start_s for i, p in enumerate(phones)
                               if p.phone == "SIL" and i > 0 and p.end_s - p.start_s >= 0.2])
            spoken = [p for p in phones if p.phone != "SIL"]
            last = spoken[-1].end_s if spoken else None
        return _Speech(phones, mode if mode == "neural" else timeline.mode, timeline.warnings, speaking, onsets, last)

    # ---------------------------------------------------------------------------------- recipe
    def animate(self, request: LineRequest) -> Track:
        """Animate one line (or an idle stretch) into a track on the requested rig."""
        started = time.perf_counter()
        audio = self._audio(request)
        fps, duration_s = self._check(request, audio)
        rig = load_rig(request.rig or self.config.animation.default_rig, allow_paths=False)
        n = math.floor(duration_s * fps) + 1
        weights, constant = self._emotion(request, n, fps)
        values = np.zeros((n, len(CHANNELS)), dtype=np.float64)
        pitch = self._side.submit(line_pitch_hz, audio.samples, audio.sample_rate_hz) if audio is not None else None
        speech = self._speech(request, audio, fps, n)
        self._face(values, request, audio, speech, weights, fps, pitch)
        self._eyes(values, request, speech, weights, fps)
        info = TrackInfo(
            mode=speech.mode,
            warnings=speech.warnings,
            audio_duration_s=audio.duration_s if audio is not None else 0.0,
            processing_ms=(time.perf_counter() - started) * 1000.0,
            seed=request.seed,
            rig=rig.name,
            versions={**self.versions(), "rig": f"{rig.name}@{rig.version}"},
            request_id=request.request_id or uuid.uuid4().hex[:16],
            emotion=dict(constant.weights) if constant is not None else {},
        )
        track = Track(CHANNELS, fps, values.astype(np.float32), speech.phones, info)
        return rig.apply(track)

    def _face(self, values: np.ndarray, request: LineRequest, audio: Audio | None, speech: _Speech,
              weights: np.ndarray, fps: float, pitch: Future[np.ndarray] | None) -> None:
        """Mouth (articulation or the neural model) and emotional expression."""
        n = len(values)
        opts = request.options
        closed = rounding = np.zeros(n)
        emphasis: tuple[Emphasis, ...] = ()
        if audio is not None and speech.mode == "neural":
            assert self.speech_model is not None
            predicted = self.speech_model.predict(audio, weights, fps)
            for j, name in enumerate(self.speech_model.channel_names):
                values[:, INDEX[name]] = predicted[:n, j]
            return  # the model predicts expression too
        if audio is not None:
            jaw, lip, press, spread = speech_style(weights, opts.speech_style_scale)
            loud = loudness_db(audio.samples, audio.sample_rate_hz, n, fps)
            params = articulate(speech.phones, n, fps, loud, self.config.articulation)
            mouth_curves(params, values, SpeechStyle(jaw, lip, press * speech.speaking, spread * speech.speaking))
            closed, rounding = params["closed"], np.maximum(params["round"], params["funnel"])
            f0 = pitch.result() if pitch is not None else None
            emphasis = analyse(audio.samples, audio.sample_rate_hz, speech.phones, f0).emphasis
        expression_curves(
            values, weights, fps=fps, speaking=speech.speaking, closed=closed, rounding=rounding,
            emphasis=emphasis, rng=rng_for(request.seed, STREAM_MICRO), config=self.config.expression,
            scale=opts.expression_scale, micro_scale=opts.micro_motion_scale,
            trailing_silence_from_s=speech.last_speech_s,
        )

    def _eyes(self, values: np.ndarray, request: LineRequest, speech: _Speech, weights: np.ndarray,
              fps: float) -> None:
        eyes = Eyes(request.seed, fps, blink_config=self.config.blinks, gaze_config=self.config.gaze,
                    blink_scale=request.options.blink_scale, gaze_scale=request.options.gaze_scale)
        eyes.pause_onsets(speech.pause_onsets_s)
        eyes.render(values, 0, speech.speaking, weights @ _AROUSAL)

    def animate_many(self, requests: Sequence[LineRequest]) -> list[Track]:
        return [self.animate(r) for r in requests]


def _energy_speaking(audio: Audio, n: int, fps: float) -> np.ndarray:
    level = loudness_db(audio.samples, audio.sample_rate_hz, n, fps)
    peak = float(np.percentile(level, 99)) if n else 0.0
    return (level > peak - 35.0).astype(np.float64)


def _onsets_from_envelope(speaking: np.ndarray, fps: float, min_pause_s: float = 0.2) -> np.ndarray:
    out = []
    i, n = 1, len(speaking)
    while i < n:
        if speaking[i - 1] > 0.5 >= speaking[i]:
            j = i
            while j < n and speaking[j] <= 0.5:
                j += 1
            if (j - i) / fps >= min_pause_s:
                out.append(i / fps)
            i = j
        i += 1
    return np.array(out)
