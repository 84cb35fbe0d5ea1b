"""The recipe: one dialogue line in, one animation track out.

    audio      -> decode, resample, downmix                       (mien.audio)
    phonemes   -> timed phones: align the transcript, or recognise (mien.phonemes)
    emotion    -> per-frame category weights                      (mien.emotion)
    articulate -> coarticulated mouth, jaw and tongue             (mien.articulation)
    express    -> emotion on the face, composed with speech       (mien.expression)
    blink/gaze -> seeded eyelids and eyes                         (mien.blinks, mien.gaze)
    head       -> head yaw/pitch/roll from prosody, causal         (mien.head)
    rig        -> the requested rig profile                       (mien.rig)

:class:`Animator` holds what is expensive to load (decoders, models) and is thread-safe.
It knows nothing about transports: the gRPC servicer, the HTTP gateway, the CLI and the bake
all build a :class:`LineRequest` and call :meth:`Animator.animate`.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from . import __version__
from .articulation import SpeechStyle, articulate, loudness_db, mouth_curves
from .audio import INTERNAL_SAMPLE_RATE_HZ, Audio, decode_audio, decode_pcm, resample
from .budget import LineBudget, LineGate, checkpoint
from .channels import CHANNELS
from .config import Config
from .emotion import EMOTIONS, VAD_ANCHORS, Emotion, EmotionKeyframe, emotion_weights
from .errors import FailedPrecondition, InvalidArgument
from .expression import expression_curves, speech_style
from .eyes import STREAM_MICRO, Eyes, rng_for
from .head import HeadMotion
from .neural import NeuralModel
from .phonemes import PhoneRecognizer, PhoneTimeline
from .prosody import Emphasis, analyse, line_pitch_hz, speaking_envelope
from .request import (
    CONTRACT_VERSION,
    MODES,
    AnimationOptions,
    AutoEmotion,
    DeferredAudio,
    EmotionInput,
    EmotionSource,
    EncodedAudio,
    LineRequest,
    Mode,
    PcmInput,
    check_keyframe_count,
    check_output_size,
    check_seed,
    check_transcript,
    declared_audio_s,
    resolve_auto,
    resolve_fps,
)
from .rig import load_rig
from .streaming import FrameBatch, StreamRegistry, StreamStart
from .track import PhoneSegment, Track, TrackInfo

__all__ = [
    "CONTRACT_VERSION",
    "MODES",
    "AnimationOptions",
    "Animator",
    "AutoEmotion",
    "EmotionInput",
    "EncodedAudio",
    "LineRequest",
    "Mode",
    "PcmInput",
]

_AROUSAL = np.array([VAD_ANCHORS[e][1] for e in EMOTIONS])
_VAD = np.array([VAD_ANCHORS[e] for e in EMOTIONS])
_NEURAL_BLOCK_S = 10.0
"""Seconds of audio an offline neural line is computed at a time (memory follows the block, not the line)."""
_HEAD_BLOCK_S = 10.0
"""Seconds of audio the head stage of an offline line is fed at a time (the same frames as a whole feed)."""


def _put(values: np.ndarray, filled: int, batch: FrameBatch | None) -> int:
    """Copy a stream batch into the line's frames; returns how many are filled."""
    if batch is None:
        return filled
    values[filled:filled + len(batch.values)] = batch.values
    return filled + len(batch.values)


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
        neural_model: NeuralModel | None = None,
    ) -> None:
        self.config = config or Config()
        self.recognizer = PhoneRecognizer(self.config.phonemes)
        self.emotion_source = emotion_source
        self.neural_model = neural_model
        self.streams = StreamRegistry(self.config, neural_model, emotion_source) if neural_model else None
        """Open streams of the neural model (also how offline neural lines are computed)."""
        self.lines = LineGate(self.config.limits)
        """Admission of lines: how many are computed at once (limits.max_concurrent_lines, mien.budget)."""
        # side work that overlaps the alignment (numpy releases the GIL): the pitch track
        self._side = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mien-side")

    @property
    def modes(self) -> tuple[str, ...]:
        return ("aligned", "recognized", "neural") if self.neural_model else ("aligned", "recognized")

    def versions(self, *, neural: bool = True) -> dict[str, str]:
        """Versions of the engine; ``neural=False`` leaves out the neural model (a track that did not use it)."""
        out = {"mien": __version__, "contract": CONTRACT_VERSION}
        if neural and self.neural_model:
            out[self.neural_model.name] = self.neural_model.version
        return out

    # --------------------------------------------------------------------------------- stages
    def _audio(self, request: LineRequest) -> Audio | None:
        limit = self.config.limits.max_audio_s
        src = request.audio
        if isinstance(src, DeferredAudio):
            src = src.read()  # held only until decoded
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
        fps = resolve_fps(request.fps, self.config.animation)
        if request.mode not in MODES:
            raise InvalidArgument(f"mode {request.mode!r}; accepted: {', '.join(MODES)}", field="mode")
        check_seed(request.seed)
        text = request.transcript or ""
        check_transcript(text, self.config.limits)
        if isinstance(request.emotion, tuple):
            check_keyframe_count(len(request.emotion), self.config.limits, "emotion.keyframes")
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
        if request.mode == "neural" and self.neural_model is None:
            raise FailedPrecondition("mode neural: no neural model is loaded in this sidecar; "
                                     f"available modes: {', '.join(self.modes)}", field="mode")
        return fps, audio.duration_s

    def _emotion(self, request: LineRequest, n: int, fps: float) -> tuple[np.ndarray, Emotion | None]:
        emotion = request.emotion
        if isinstance(emotion, AutoEmotion):
            emotion = resolve_auto(emotion, self.emotion_source)
        weights = emotion_weights(emotion, n, fps)
        return weights, emotion if isinstance(emotion, Emotion) else None

    def _resolved_mode(self, request: LineRequest) -> str:
        if request.phones is not None:
            return "timeline"
        if request.mode != "auto":
            return request.mode
        if (request.transcript or "").strip():
            return "aligned"
        return "neural" if self.neural_model else "recognized"

    def _neural_track(self, request: LineRequest, emotion: Emotion | tuple[EmotionKeyframe, ...], audio: Audio,
                      fps: float, rig: str, started: float) -> Track:
        """A whole line through the streaming session: the same frames a stream of it would get.
        Keyframes (validated already) become the stream's start emotion and keyframes."""
        assert self.streams is not None
        keyframes: tuple[EmotionKeyframe, ...] = ()
        if isinstance(emotion, tuple):
            keyframes = emotion
            emotion = keyframes[0].emotion if keyframes else Emotion.neutral()
            keyframes = keyframes[1:] if keyframes and keyframes[0].time_s == 0 else keyframes
        session = self.streams.open(StreamStart(
            sample_rate_hz=audio.sample_rate_hz, encoding="pcm_f32le", emotion=emotion, rig=rig, fps=fps,
            seed=request.seed, options=request.options, request_id=request.request_id, live_link_default=False))
        values = np.empty((math.floor(audio.duration_s * fps) + 1, len(session.channel_names)), dtype=np.float32)
        filled = 0
        try:  # block by block, as a stream would send it (the same frames): memory follows a block, not the line
            block = int(_NEURAL_BLOCK_S * audio.sample_rate_hz)
            for start in range(0, len(audio.samples), block):
                checkpoint()
                batch = session.push_samples(audio.samples[start:start + block], keyframes if start == 0 else ())
                filled = _put(values, filled, batch)
            filled = _put(values, filled, session.finish()[0])
        finally:
            session.close()
        values = values[:filled]
        info = TrackInfo(
            mode="neural", warnings=tuple(session.warnings), audio_duration_s=audio.duration_s,
            processing_ms=(time.perf_counter() - started) * 1000.0, seed=request.seed, rig=session.rig.name,
            versions={**self.versions(), "rig": f"{session.rig.name}@{session.rig.version}"},
            request_id=session.request_id,
            emotion={} if keyframes or isinstance(request.emotion, tuple) else dict(emotion.weights),
        )
        return Track(session.channel_names, fps, values, (), info)

    def _speech(self, request: LineRequest, audio: Audio | None, fps: float, n: int) -> _Speech:
        if audio is None:
            return _Speech((), "idle", (), np.zeros(n), np.zeros(0), None)
        mode = self._resolved_mode(request)
        if request.phones is not None:
            timeline = PhoneTimeline(tuple(request.phones), "timeline")
        elif mode == "recognized":
            timeline = self.recognizer.recognize(audio)
        else:
            timeline = self.recognizer.align(audio, (request.transcript or "").strip())
        phones = timeline.phones
        speaking = speaking_envelope(phones, n, fps)
        onsets = np.array([p.start_s for i, p in enumerate(phones)
                           if p.phone == "SIL" and i > 0 and p.end_s - p.start_s >= 0.2])
        spoken = [p for p in phones if p.phone != "SIL"]
        last = spoken[-1].end_s if spoken else None
        return _Speech(phones, timeline.mode, timeline.warnings, speaking, onsets, last)

    # ---------------------------------------------------------------------------------- recipe
    def animate(self, request: LineRequest, *, is_active: Callable[[], bool] | None = None) -> Track:
        """Animate one line (or an idle stretch) into a track on the requested rig.

        The line waits for its turn (:class:`~mien.budget.LineGate`: ``limits.max_concurrent_lines``) before its
        audio is decoded, and stops past ``limits.max_line_cpu_s`` of CPU or as soon as ``is_active()`` turns
        False (the caller went away)."""
        started = time.perf_counter()
        with self.lines.admit(self._declared_s(request), is_active), \
                LineBudget(self.config.limits.max_line_cpu_s, is_active).applied():
            return self._animate(request, started)

    @staticmethod
    def _declared_s(request: LineRequest) -> float:
        """The seconds of audio a request declares (what its admission weighs), without decoding it."""
        if request.audio is not None:
            return declared_audio_s(request.audio)
        idle = request.idle_duration_s
        return float(idle) if math.isfinite(idle) and idle > 0 else 0.0

    def _animate(self, request: LineRequest, started: float) -> Track:
        audio = self._audio(request)
        fps, duration_s = self._check(request, audio)
        checkpoint()
        rig = load_rig(request.rig or self.config.animation.default_rig, allow_paths=False)
        n = math.floor(duration_s * fps) + 1
        check_output_size(n, len(rig.channel_names), self.config.limits,
                          field="audio" if audio is not None else "idle_duration_s")
        weights, constant = self._emotion(request, n, fps)
        if audio is not None and self._resolved_mode(request) == "neural":
            emotion = request.emotion if isinstance(request.emotion, tuple) else constant or Emotion.neutral()
            return self._neural_track(request, emotion, audio, fps, rig.name, started)
        values = np.zeros((n, len(CHANNELS)), dtype=np.float64)
        pitch = self._side.submit(line_pitch_hz, audio.samples, audio.sample_rate_hz) if audio is not None else None
        speech = self._speech(request, audio, fps, n)
        checkpoint()
        self._face(values, request, audio, speech, weights, fps, pitch)
        checkpoint()
        self._eyes(values, request, speech, weights, fps)
        self._head(values, request, audio, weights, fps)
        info = TrackInfo(
            mode=speech.mode,
            warnings=speech.warnings,
            audio_duration_s=audio.duration_s if audio is not None else 0.0,
            processing_ms=(time.perf_counter() - started) * 1000.0,
            seed=request.seed,
            rig=rig.name,
            versions={**self.versions(neural=False), "rig": f"{rig.name}@{rig.version}"},
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

    def _head(self, values: np.ndarray, request: LineRequest, audio: Audio | None, weights: np.ndarray,
              fps: float) -> None:
        """Head motion from the line's audio (the same causal stage a stream runs), or listening motion."""
        head = HeadMotion(request.seed, fps, self.config.head, scale=request.options.head_motion_scale,
                          listening=audio is None)
        vad = weights @ _VAD
        if audio is None:
            head.render(values, 0, vad)
            return
        samples = audio.samples
        if audio.sample_rate_hz != INTERNAL_SAMPLE_RATE_HZ:
            samples = resample(samples, audio.sample_rate_hz, INTERNAL_SAMPLE_RATE_HZ)
        # fed and rendered a block at a time, as a stream is (the stage is causal: the same frames in any
        # chunking, tests/test_head.py); it keeps a float64 copy of what it is fed, ~38 MB for a whole 300 s line
        n = len(values)
        block = int(_HEAD_BLOCK_S * INTERNAL_SAMPLE_RATE_HZ)
        fed = done = 0
        while True:
            head.feed(samples[fed:fed + block])
            fed = min(len(samples), fed + block)
            ready = n if fed >= len(samples) else min(n, math.floor(fed / INTERNAL_SAMPLE_RATE_HZ * fps) + 1)
            if ready > done:
                head.render(values[done:ready], done, vad[done:ready])
                done = ready
            if fed >= len(samples):
                return

    def animate_many(self, requests: Sequence[LineRequest]) -> list[Track]:
        return [self.animate(r) for r in requests]
