"""Real-time animation of audio that arrives while it plays (TTS, voice chat), with the neural model.

A :class:`StreamSession` takes audio chunks (and emotion keyframes) and returns finished frames
as soon as the audio ``lookahead_ms`` after them has arrived. Each frame goes through the same
stages as an offline neural line: the model's speech and expression channels, seeded
micro-motion, causal blinks and gaze, the rig profile. The offline neural path runs exactly this
session over the whole line, so a stream and a whole line with the same audio and seed give the
same frames.

:class:`StreamRegistry` counts the open sessions (observable, and limited by
``limits.max_streams``).
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .audio import INTERNAL_SAMPLE_RATE_HZ, MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ, PCM_ENCODINGS, StreamingResampler
from .channels import ARKIT52, CHANNELS, INDEX
from .config import Config
from .emotion import EMOTIONS, VAD_ANCHORS, Emotion, EmotionKeyframe
from .errors import FailedPrecondition, InvalidArgument, ResourceExhausted
from .expression import MicroMotion, micro_amount
from .eyes import STREAM_MICRO, Eyes, rng_for
from .head import HeadMotion
from .livelinkface import LiveLinkFaceSender, parse_target
from .neural import NeuralModel, NeuralStream
from .request import (
    AnimationOptions,
    AutoEmotion,
    EmotionSource,
    check_keyframe_count,
    check_output_size,
    check_seed,
    resolve_auto,
    resolve_fps,
)
from .rig import RigProfile, load_rig

__all__ = ["StreamStart", "FrameBatch", "StreamSummary", "StreamSession", "StreamRegistry", "SpeechActivity"]

_AROUSAL = np.array([VAD_ANCHORS[e][1] for e in EMOTIONS])
_LEVEL_HALF = int(0.015 * INTERNAL_SAMPLE_RATE_HZ)
_VAD = np.array([VAD_ANCHORS[e] for e in EMOTIONS])


@dataclass(frozen=True)
class StreamStart:
    """The first message of a stream (validated by :meth:`StreamRegistry.open`)."""

    sample_rate_hz: int
    encoding: str = "pcm_s16le"
    channels: int = 1
    emotion: Emotion | AutoEmotion = field(default_factory=Emotion.neutral)
    rig: str | None = None
    fps: float | None = None
    seed: int = 0
    options: AnimationOptions = field(default_factory=AnimationOptions)
    request_id: str = ""
    live_link_target: str = ""
    """``HOST:PORT`` to also send the frames to as Live Link Face UDP packets ("" = the config's, usually off)."""
    live_link_subject: str = ""
    """The Live Link subject name ("" = the config's ``live_link.subject``)."""
    live_link_default: bool = True
    """Whether the config's ``live_link.target`` applies when ``live_link_target`` is empty (not for offline lines)."""


@dataclass(frozen=True)
class _Settings:
    """A validated StreamStart."""

    sample_rate_hz: int
    encoding: str
    channels: int
    emotion: Emotion
    rig: RigProfile
    fps: float
    seed: int
    options: AnimationOptions
    request_id: str
    live_link: tuple[str, int] | None = None
    live_link_subject: str = ""


@dataclass(frozen=True)
class FrameBatch:
    """Consecutive output frames: ``values[i]`` is frame ``first_frame + i`` at ``(first_frame + i) / fps``."""

    first_frame: int
    values: np.ndarray


@dataclass(frozen=True)
class StreamSummary:
    frame_count: int
    audio_duration_s: float
    warnings: tuple[str, ...] = ()


class SpeechActivity:
    """Causal voice activity per animation frame, for blinks and gaze.

    A frame speaks when its 30 ms level is 12 dB above a tracked noise floor (and above -55 dBFS);
    speech continues through pauses shorter than 250 ms (hangover), so a pause onset is known 250 ms
    after it began. The activity eases in and out with a 50 ms time constant.
    """

    HANGOVER_S = 0.25

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self._floor = -60.0
        self._last_speech: int | None = None
        self._speaking = False
        self._value = 0.0
        self._alpha = 1.0 - math.exp(-1.0 / (0.05 * fps))
        self._rise = 3.0 / fps  # the floor may rise 3 dB per second

    def step(self, levels_db: np.ndarray, first_frame: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
        """Activity (0..1) of each frame, and (onset, known at) of the pauses detected in these frames."""
        out = []
        onsets: list[tuple[float, float]] = []
        for i, level in enumerate(levels_db.tolist()):
            frame = first_frame + i
            self._floor = min(level, self._floor + self._rise)
            loud = level > max(self._floor + 12.0, -55.0)
            if loud:
                self._last_speech = frame
                self._speaking = True
            elif self._speaking and self._last_speech is not None and (
                frame - self._last_speech) / self.fps >= self.HANGOVER_S:
                self._speaking = False
                onsets.append(((self._last_speech + 1) / self.fps, frame / self.fps))
            self._value += self._alpha * (float(self._speaking) - self._value)
            out.append(self._value)
        return np.array(out, dtype=np.float64), onsets


class _EmotionTimeline:
    """Keyframed emotion over the stream; a new keyframe starts from the value at the frames already
    sent, so what was sent never changes and nothing jumps."""

    def __init__(self, start: Emotion) -> None:
        self._times = [0.0]
        self._values = [start.vector()]
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None  # (times, values) as arrays, until the next add

    def add(self, keyframes: Sequence[EmotionKeyframe], sent_until_s: float) -> None:
        """Append keyframes (all validated first: a bad one changes nothing). The first may sit at the time of
        the last keyframe (e.g. 0 s, the header's emotion) while no frame from there is sent: it replaces it."""
        if not keyframes:
            return
        self._arrays = None
        previous = self._times[-1]
        for i, kf in enumerate(keyframes):
            f = f"audio.emotion_keyframes[{i}].time_s"
            if not math.isfinite(kf.time_s) or kf.time_s < sent_until_s:
                raise InvalidArgument(f"{f} = {kf.time_s!r} is in the past; frames up to {sent_until_s:.3f} s are "
                                      "already sent; accepted: times after that", field=f)
            if kf.time_s < previous or (kf.time_s == previous and i > 0):
                raise InvalidArgument(f"{f} = {kf.time_s!r} is not after the previous keyframe "
                                      f"({previous:.3f}); accepted: strictly increasing times", field=f)
            previous = kf.time_s
        for kf in keyframes:
            if kf.time_s == self._times[-1]:  # validated: not yet sent, the first of this batch
                self._values[-1] = kf.emotion.vector()
                continue
            if self._times[-1] < sent_until_s < kf.time_s:  # hold what was sent, then move to the keyframe
                now = self.at(np.array([sent_until_s]))[0]
                self._times.append(sent_until_s)
                self._values.append(now)
            self._times.append(kf.time_s)
            self._values.append(kf.emotion.vector())
        self._arrays = None  # at() above may have cached the timeline before these keyframes

    def at(self, times_s: np.ndarray) -> np.ndarray:
        """(len(times), len(EMOTIONS)) weights; held after the last keyframe."""
        if self._arrays is None:
            self._arrays = (np.asarray(self._times), np.stack(self._values))
        times, values = self._arrays
        if len(times) == 1 or (len(times_s) and times_s[0] >= times[-1]):  # held after the last keyframe (most chunks)
            return np.repeat(values[-1:], len(times_s), axis=0)
        return _lerp_rows(np.asarray(times_s, dtype=np.float64), times, values)


class StreamSession:
    """One stream: audio in, frames out. Not thread-safe (one stream = one caller)."""

    def __init__(self, registry: StreamRegistry, start: _Settings) -> None:
        self._registry = registry
        self.start = start
        self.model: NeuralModel = registry.model
        self.meta = self.model.metadata
        self.rig = start.rig
        self.channel_names = self.rig.channel_names
        self.request_id = start.request_id or uuid.uuid4().hex[:16]
        self._resampler = StreamingResampler(start.sample_rate_hz)
        self._neural: NeuralStream = self.model.stream()
        self._emotion = _EmotionTimeline(start.emotion)
        self._activity = SpeechActivity(start.fps)
        self._eyes = Eyes(start.seed, start.fps, blink_config=registry.config.blinks,
                          gaze_config=registry.config.gaze, blink_scale=start.options.blink_scale,
                          gaze_scale=start.options.gaze_scale)
        self._micro = MicroMotion(rng_for(start.seed, STREAM_MICRO))
        self._head = HeadMotion(start.seed, start.fps, registry.config.head, scale=start.options.head_motion_scale)
        self._live_link = (LiveLinkFaceSender(*start.live_link, start.fps, subject=start.live_link_subject)
                           if start.live_link else None)
        self._model_frames = np.zeros((0, len(self.meta.channels)), dtype=np.float32)
        self._model_first = 0  # model frame index of _model_frames[0]
        self._audio = np.zeros(0, dtype=np.float64)  # 16 kHz audio kept for the activity levels
        self._audio_first = 0
        self._sent = 0  # output frames sent
        self._columns = np.array([INDEX[name] for name in self.meta.channels])
        self._model_emotions = np.array([EMOTIONS.index(e) for e in self.meta.emotions])
        self._closed = False
        self.finished = False
        self.warnings: list[str] = []
        self._pending: list[np.ndarray] = []  # added, not yet flushed (internal-rate samples)
        self._pending_s = 0.0
        self.keyframes = 0
        """Emotion keyframes taken so far (limits.max_emotion_keyframes bounds the stream's total)."""

    @property
    def fps(self) -> float:
        return self.start.fps

    @property
    def lookahead_ms(self) -> float:
        return self.meta.lookahead_ms

    @property
    def audio_s(self) -> float:
        return self._neural.audio_s

    # ------------------------------------------------------------------ input
    def _decode(self, data: bytes) -> np.ndarray:
        dtype, width = PCM_ENCODINGS[self.start.encoding]
        frame_bytes = width * self.start.channels
        if len(data) % frame_bytes:
            raise InvalidArgument(f"audio.data: {len(data)} bytes is not a whole number of {self.start.encoding} "
                                  f"frames of {self.start.channels} channel(s) ({frame_bytes} bytes each)",
                                  field="audio.data")
        samples = np.frombuffer(data, dtype=dtype).reshape(-1, self.start.channels).astype(np.float32)
        if self.start.encoding == "pcm_s16le":
            samples /= 32768.0
        elif not np.isfinite(samples).all():
            raise InvalidArgument("audio.data contains NaN or infinite samples; accepted: finite samples",
                                  field="audio.data")
        # mono: the one column (the mean of one value is that value, bit for bit, without numpy's reduction)
        mono = samples[:, 0] if self.start.channels == 1 else samples.mean(axis=1)
        return np.minimum(np.maximum(mono, -1.0), 1.0)

    def push(self, data: bytes, keyframes: Sequence[EmotionKeyframe] = ()) -> FrameBatch | None:
        """Add a chunk of PCM (and emotion keyframes); returns the frames it completes (or None)."""
        self.add(data, keyframes)
        return self.flush()

    def add(self, data: bytes, keyframes: Sequence[EmotionKeyframe] = ()) -> None:
        """Check, decode and queue a chunk without computing frames yet: a caller that fell behind adds the
        chunks waiting for it, then one :meth:`flush` computes their frames in one batch (the same frames)."""
        if self.finished:
            raise FailedPrecondition("audio after end of audio; a stream ends with EndOfAudio", field="audio")
        limits = self._registry.config.limits
        seconds = len(data) / (PCM_ENCODINGS[self.start.encoding][1] * self.start.channels) / self.start.sample_rate_hz
        if seconds > limits.max_chunk_s:
            raise InvalidArgument(f"audio chunk of {seconds:.1f} s; the maximum is {limits.max_chunk_s:g} s per chunk "
                                  "(send 20-100 ms chunks)", field="audio.data")
        if self.audio_s + self._pending_s + seconds > limits.max_audio_s:
            raise InvalidArgument(f"stream audio exceeds the maximum of {limits.max_audio_s:g} s",
                                  field="audio.data")
        self.check_output(self.audio_s + self._pending_s + seconds)
        self.check_keyframes(len(keyframes))
        decoded = self._decode(data)  # checks first, state changes after: a bad chunk changes nothing
        self._emotion.add(keyframes, self._sent / self.fps)
        self.keyframes += len(keyframes)
        self._pending.append(self._resampler.push(decoded))
        self._pending_s += seconds

    def check_output(self, audio_s: float) -> None:
        """The frames of ``audio_s`` seconds of stream audio on this rig, against ``limits.max_output_values``."""
        check_output_size(math.floor(audio_s * self.fps) + 1, len(self.channel_names), self._registry.config.limits,
                          what="the stream", field="audio.data")

    def check_keyframes(self, count: int) -> None:
        """A chunk's ``count`` emotion keyframes against what the stream may still take (before converting them)."""
        check_keyframe_count(count, self._registry.config.limits, "audio.emotion_keyframes", already=self.keyframes)

    def flush(self) -> FrameBatch | None:
        """The frames the chunks added since the last flush complete (or None)."""
        if not self._pending:
            return None
        samples = np.concatenate(self._pending)
        self._pending.clear()
        self._pending_s = 0.0
        return self._consume(samples, final=False)

    def push_samples(self, samples: np.ndarray, keyframes: Sequence[EmotionKeyframe] = (), *,
                     checked: bool = False) -> FrameBatch | None:
        """Add audio already at the internal rate (float32 mono), e.g. a whole line offline."""
        if self.finished:
            raise FailedPrecondition("audio after end of audio; a stream ends with EndOfAudio", field="audio")
        if not checked and self.audio_s + len(samples) / INTERNAL_SAMPLE_RATE_HZ > (
                self._registry.config.limits.max_audio_s):
            raise InvalidArgument(f"audio exceeds the maximum of {self._registry.config.limits.max_audio_s:g} s",
                                  field="audio")
        self._emotion.add(keyframes, self._sent / self.fps)
        return self._consume(samples, final=False)

    def finish(self) -> tuple[FrameBatch | None, StreamSummary]:
        """End of audio: the remaining frames, the mouth back at rest, and the summary."""
        if self.finished:
            raise FailedPrecondition("a second EndOfAudio; the stream has already ended", field="end")
        self.finished = True
        pending = [*self._pending, self._resampler.flush()]
        self._pending.clear()
        self._pending_s = 0.0
        batch = self._consume(np.concatenate(pending), final=True)
        if self._live_link is not None and self._live_link.errors:
            ll = self._live_link
            self.warnings.append(f"live link: {ll.errors} of {ll.errors + ll.sent} frames could not be sent "
                                 f"({ll.last_error})")
        return batch, StreamSummary(self._sent, self.audio_s, tuple(self.warnings))

    # ---------------------------------------------------------------- compute
    def _emotion_of(self, times_s: np.ndarray) -> np.ndarray:
        """What the model is told: the emotion scaled by options.expression_scale (the model's
        expression and speech style are learnt together, so the scale acts on its input)."""
        weights = _scaled(self._emotion.at(times_s), self.start.options.expression_scale)
        return weights[:, self._model_emotions]

    def _consume(self, samples: np.ndarray, *, final: bool) -> FrameBatch | None:
        self._audio = np.concatenate([self._audio, samples.astype(np.float64)])
        self._head.feed(samples)
        curves = (self._neural.finish(self._emotion_of) if final else self._neural.push(samples, self._emotion_of))
        if len(curves):
            self._model_frames = np.concatenate([self._model_frames, curves])
        # output frames whose model frames (both neighbours for interpolation) exist
        model_count = self._model_first + len(self._model_frames)
        if final:
            total = math.floor(self.audio_s * self.fps) + 1
        else:
            total = math.floor((model_count - 1) / self.meta.fps * self.fps) + 1 if model_count > 1 else 0
            total = min(total, math.floor(self.audio_s * self.fps))  # never past the audio
        count = total - self._sent
        if count <= 0:
            return None
        batch = self._frames(self._sent, count)
        self._sent += count
        self._trim()
        return batch

    def _frames(self, first: int, count: int) -> FrameBatch:
        fps = self.fps
        times = (first + np.arange(count)) / fps
        # neural channels at the output frame times (linear between model frames, held past the end)
        t_model = (self._model_first + np.arange(len(self._model_frames))) / self.meta.fps
        values = np.zeros((count, len(CHANNELS)))
        values[:, self._columns] = _lerp_rows(times, t_model, self._model_frames)
        weights = self._emotion.at(times)
        self._micro.apply(values, first, fps, micro_amount(weights, self._registry.config.expression,
                                                            self.start.options.micro_motion_scale))
        levels = self._levels(times)
        speaking, onsets = self._activity.step(levels, first)
        for onset, known in onsets:
            self._eyes.pause_onsets([onset], known)
        self._eyes.render(values, first, speaking, weights @ _AROUSAL)
        self._head.render(values, first, weights @ _VAD)
        blend = values[:, :len(ARKIT52)]
        np.minimum(np.maximum(blend, 0.0, out=blend), 1.0, out=blend)
        out = values.astype(np.float32)
        if self._live_link is not None:
            self._live_link.send(out, first)
        return FrameBatch(first, self.rig.retarget(out))

    def _levels(self, times_s: np.ndarray) -> np.ndarray:
        """30 ms RMS level (dBFS) around each time, from the audio kept (the part these frames cover)."""
        half = _LEVEL_HALF
        centre = np.round(times_s * INTERNAL_SAMPLE_RATE_HZ).astype(np.int64) - self._audio_first
        lo = np.minimum(np.maximum(centre - half, 0), len(self._audio))
        hi = np.minimum(np.maximum(centre + half, 0), len(self._audio))
        start = int(lo[0])
        part = self._audio[start:int(hi[-1])]
        csum = np.zeros(len(part) + 1)
        np.cumsum(part * part, out=csum[1:])
        power = (csum[hi - start] - csum[lo - start]) / np.maximum(hi - lo, 1)
        return np.asarray(10.0 * np.log10(power + 1e-12))

    def _trim(self) -> None:
        """Keep only what the next frames can need."""
        next_time = self._sent / self.fps
        keep_model = max(0, int(next_time * self.meta.fps) - 1 - self._model_first)
        if keep_model > 0:
            self._model_frames = self._model_frames[keep_model:]
            self._model_first += keep_model
        keep_audio = int(next_time * INTERNAL_SAMPLE_RATE_HZ) - 2 * INTERNAL_SAMPLE_RATE_HZ // 10 - self._audio_first
        if keep_audio > 0:
            self._audio = self._audio[keep_audio:]
            self._audio_first += keep_audio

    def close(self) -> None:
        """Free the session (idempotent): called on end, error and cancellation."""
        if not self._closed:
            self._closed = True
            if self._live_link is not None:
                self._live_link.close()
            self._registry._release(self)


def _lerp_rows(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """``np.interp`` of every column of ``fp`` (len(xp), k) at ``x`` in one pass: linear between the points
    (``xp`` increasing), held before the first and after the last."""
    if len(xp) == 1:
        return np.repeat(fp[:1], len(x), axis=0)
    i = np.minimum(np.maximum(np.searchsorted(xp, x, side="right") - 1, 0), len(xp) - 2)
    x0, x1 = xp[i], xp[i + 1]
    f = np.minimum(np.maximum(np.divide(x - x0, x1 - x0, out=np.ones_like(x), where=x1 > x0), 0.0), 1.0)[:, None]
    return fp[i] * (1.0 - f) + fp[i + 1] * f


def _scaled(weights: np.ndarray, scale: float) -> np.ndarray:
    """Category weights with the non-neutral part scaled (capped to a total of 1)."""
    if scale == 1.0:
        return weights
    out = weights.copy()
    out[:, 1:] *= scale
    total = out[:, 1:].sum(axis=1, keepdims=True)
    out[:, 1:] /= np.maximum(total, 1.0)
    out[:, 0] = 1.0 - out[:, 1:].sum(axis=1)
    return out


class StreamRegistry:
    """Opens stream sessions against the loaded neural model; counts and limits them."""

    def __init__(self, config: Config, model: NeuralModel, emotion_source: EmotionSource | None = None) -> None:
        self.config = config
        self.model = model
        self.emotion_source = emotion_source
        self._lock = threading.Lock()
        self._open: set[int] = set()

    @property
    def active(self) -> int:
        """Open streams right now (tests and metrics watch this go back to zero)."""
        with self._lock:
            return len(self._open)

    def _settings(self, start: StreamStart) -> _Settings:
        a = self.config.animation
        if start.encoding not in PCM_ENCODINGS:
            raise InvalidArgument(f"header.encoding {start.encoding!r}; accepted: {', '.join(PCM_ENCODINGS)}",
                                  field="header.encoding")
        if not MIN_SAMPLE_RATE_HZ <= start.sample_rate_hz <= MAX_SAMPLE_RATE_HZ:
            raise InvalidArgument(f"header.sample_rate_hz = {start.sample_rate_hz}; accepted: {MIN_SAMPLE_RATE_HZ} to "
                                  f"{MAX_SAMPLE_RATE_HZ} Hz", field="header.sample_rate_hz")
        if not 1 <= start.channels <= 16:
            raise InvalidArgument(f"header.channels = {start.channels}; accepted: 1 to 16", field="header.channels")
        fps = resolve_fps(start.fps, a, "header.fps")
        seed = check_seed(start.seed, "header.seed")
        emotion = start.emotion
        if isinstance(emotion, AutoEmotion):
            emotion = resolve_auto(emotion, self.emotion_source, "header.npc_id")
        rig = load_rig(start.rig or a.default_rig, allow_paths=False)
        ll = self.config.live_link
        target = start.live_link_target or (ll.target if start.live_link_default else "")
        live_link = (parse_target(target, allow_remote=ll.allow_remote, field="header.live_link_target")
                     if target else None)
        if len(start.live_link_subject) > 256:
            raise InvalidArgument(f"header.live_link_subject has {len(start.live_link_subject)} characters; "
                                  "accepted: up to 256", field="header.live_link_subject")
        return _Settings(start.sample_rate_hz, start.encoding, start.channels, emotion, rig, fps, seed,
                         start.options, start.request_id, live_link, start.live_link_subject or ll.subject)

    def open(self, start: StreamStart) -> StreamSession:
        """Validate the header and open a session (RESOURCE_EXHAUSTED past ``limits.max_streams``)."""
        settings = self._settings(start)
        with self._lock:
            if len(self._open) >= self.config.limits.max_streams:
                raise ResourceExhausted(f"{len(self._open)} streams are open, the maximum (limits.max_streams); "
                                        "retry when one ends")
            session = StreamSession(self, settings)
            self._open.add(id(session))
        return session

    def _release(self, session: StreamSession) -> None:
        with self._lock:
            self._open.discard(id(session))
