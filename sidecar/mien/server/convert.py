"""Proto <-> core conversions. Nothing else: no decoding, no animation, no policy.

Every function maps one mien.v1 message to the core type (or back). Field-shape problems the
core cannot see (an enum value this build does not know, an empty oneof where one is
required) raise :class:`~mien.errors.InvalidArgument` here, naming the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

import numpy as np

from ..config import LimitsConfig
from ..emotion import EMOTIONS, Emotion, EmotionKeyframe, emotion_from_vad
from ..emotion_state import NpcState, Observation, Persona
from ..errors import InvalidArgument
from ..request import (
    AnimationOptions,
    AutoEmotion,
    DeferredAudio,
    EmotionInput,
    EncodedAudio,
    LineRequest,
    Mode,
    PcmInput,
    check_keyframe_count,
    declared_audio_s,
)
from ..streaming import FrameBatch, StreamSession, StreamStart, StreamSummary
from ..track import Track
from ..v1 import common_pb2 as pb
from ..v1 import emotion_state_pb2 as es
from ..v1 import face_animation_pb2 as fa
from .identity import request_id

__all__ = [
    "name",
    "line_request",
    "track_message",
    "emotion_value",
    "emotion_input",
    "pcm_encoding",
    "options",
    "stream_start",
    "chunk_keyframes",
    "track_header",
    "frame_batches",
    "stream_end",
]

_MODES: dict[int, Mode] = {
    fa.ANIMATION_MODE_AUTO: "auto",
    fa.ANIMATION_MODE_ALIGNED: "aligned",
    fa.ANIMATION_MODE_RECOGNIZED: "recognized",
    fa.ANIMATION_MODE_NEURAL: "neural",
}
_ENCODINGS: dict[int, str] = {
    pb.PCM_ENCODING_UNSPECIFIED: "pcm_s16le",
    pb.PCM_ENCODING_S16LE: "pcm_s16le",
    pb.PCM_ENCODING_F32LE: "pcm_f32le",
}


MAX_NAME_CHARS = 128
"""The longest name (rig profile, emotion, persona preset) a request may give: every real one is far shorter, and
the core's "unknown name 'X'" errors repeat the name."""


def name(value: str, field: str) -> str:
    """A name field, refused without repeating it when it is longer than any name could be."""
    if len(value) > MAX_NAME_CHARS:
        raise InvalidArgument(f"{field} is {len(value)} characters long; accepted: a name of at most {MAX_NAME_CHARS} "
                              "characters (Describe lists them)", field=field)
    return value


def pcm_encoding(value: int, field: str) -> str:
    try:
        return _ENCODINGS[value]
    except KeyError:
        names = ", ".join(pb.PcmEncoding.keys())
        raise InvalidArgument(f"{field} = {value} is not a known encoding; accepted: {names}", field=field) from None


def emotion_value(msg: pb.EmotionValue, field: str) -> Emotion:
    kind = msg.WhichOneof("value")
    if kind == "category":
        intensity = msg.category.intensity if msg.category.HasField("intensity") else 1.0
        if not msg.category.name:
            raise InvalidArgument(f"{field}.category.name is empty; accepted: {', '.join(EMOTIONS)}",
                                  field=f"{field}.category.name")
        return Emotion.of(name(msg.category.name, f"{field}.category.name"), intensity)
    if kind == "vad":
        return emotion_from_vad(msg.vad.valence, msg.vad.arousal, msg.vad.dominance)
    if kind == "blend":
        for key in msg.blend.weights:
            name(key, f"{field}.blend.weights")
        return Emotion(dict(msg.blend.weights))
    raise InvalidArgument(f"{field} is empty; set one of category, vad or blend", field=field)


def _keyframes(frames: Iterable[pb.EmotionKeyframe], field: str) -> tuple[EmotionKeyframe, ...]:
    return tuple(
        EmotionKeyframe(k.time_s, emotion_value(k.value, f"{field}[{i}].value")) for i, k in enumerate(frames)
    )


def emotion_input(msg: pb.EmotionSpec, npc_id: str, field: str = "emotion",
                  limits: LimitsConfig | None = None) -> EmotionInput:
    kind = msg.WhichOneof("spec")
    if kind is None:
        return Emotion.neutral()
    if kind == "constant":
        return emotion_value(msg.constant, f"{field}.constant")
    if kind == "keyframes":
        if limits is not None:  # counted before any is converted
            check_keyframe_count(len(msg.keyframes.keyframes), limits, f"{field}.keyframes")
        return _keyframes(msg.keyframes.keyframes, f"{field}.keyframes")
    game_time = msg.auto.game_time_s if msg.auto.HasField("game_time_s") else None
    return AutoEmotion(npc_id, game_time)


def options(msg: pb.AnimationOptions) -> AnimationOptions:
    kwargs = {name: getattr(msg, name) for name in (
        "expression_scale", "blink_scale", "gaze_scale", "speech_style_scale", "micro_motion_scale",
        "head_motion_scale",
    ) if msg.HasField(name)}
    return AnimationOptions(**kwargs)


def audio_input(msg: pb.AudioInput, field: str = "audio") -> EncodedAudio | PcmInput | None:
    kind = msg.WhichOneof("source")
    if kind == "file":
        return EncodedAudio(msg.file)
    if kind == "pcm":
        return PcmInput(msg.pcm.data, msg.pcm.sample_rate_hz, pcm_encoding(msg.pcm.encoding, f"{field}.pcm.encoding"),
                        msg.pcm.channels or 1)
    return None


def deferred_audio(msg: pb.AudioInput, field: str = "audio") -> DeferredAudio | None:
    """The audio of a line request, read out of the message only when the line's turn comes (the message
    keeps its own copy while the line waits: see :class:`~mien.request.DeferredAudio`). What is cheap to
    check (the oneof, the encoding) is checked now."""
    audio = audio_input(msg, field)  # a transient copy of the bytes: how long the audio says it is
    if audio is None:
        return None
    declared_s = declared_audio_s(audio)
    del audio
    return DeferredAudio(lambda: _present(audio_input(msg, field)), declared_s)


def _present(audio: EncodedAudio | PcmInput | None) -> EncodedAudio | PcmInput:
    assert audio is not None  # checked when the request was converted; the message is not changed after
    return audio


def line_request(msg: fa.AnimateLineRequest, limits: LimitsConfig) -> LineRequest:
    if msg.mode not in _MODES:
        raise InvalidArgument(f"mode = {msg.mode} is not a known mode; accepted: "
                              f"{', '.join(fa.AnimationMode.keys())}", field="mode")
    return LineRequest(
        audio=deferred_audio(msg.audio) if msg.HasField("audio") else None,
        transcript=msg.transcript or None,
        emotion=emotion_input(msg.emotion, msg.npc_id, limits=limits),
        fps=msg.fps or None,
        rig=name(msg.rig, "rig") or None,
        seed=msg.seed if msg.HasField("seed") else 0,
        mode=_MODES[msg.mode],
        options=options(msg.options),
        idle_duration_s=msg.idle_duration_s,
        request_id=msg.request_id,
    )


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def _with_floats(message: Any, field: str, values: np.ndarray) -> Any:
    """Set the packed ``repeated float`` ``field`` of ``message`` from an array, as one block of bytes (a Python
    list of floats would cost 32 bytes a value, eight times the field itself)."""
    number = message.DESCRIPTOR.fields_by_name[field].number
    data = np.ascontiguousarray(values, dtype="<f4").reshape(-1).tobytes()
    message.MergeFromString(_varint(number << 3 | 2) + _varint(len(data)) + data)
    return message


def track_message(track: Track) -> fa.AnimationTrack:
    info = track.info
    return _with_floats(fa.AnimationTrack(
        channel_names=list(track.channel_names),
        fps=track.fps,
        frame_count=track.n_frames,
        phones=[pb.PhoneSegment(start_s=p.start_s, end_s=p.end_s, phone=p.phone, word=p.word, viseme=p.viseme)
                for p in track.phones],
        metadata=fa.TrackMetadata(
            mode=info.mode,
            warnings=list(info.warnings),
            audio_duration_s=info.audio_duration_s,
            processing_ms=info.processing_ms,
            seed=info.seed,
            rig=info.rig,
            versions=dict(info.versions),
            request_id=info.request_id,
            emotion=dict(info.emotion),
        ),
    ), "values", track.values)


def stream_start(msg: fa.StreamHeader) -> StreamStart:
    emotion = emotion_input(msg.emotion, msg.npc_id, "header.emotion")
    if isinstance(emotion, tuple):
        raise InvalidArgument("header.emotion: keyframes are sent on audio chunks in a stream; the header takes a "
                              "constant emotion or auto", field="header.emotion")
    return StreamStart(
        sample_rate_hz=msg.sample_rate_hz,
        encoding=pcm_encoding(msg.encoding, "header.encoding"),
        channels=msg.channels or 1,
        emotion=emotion,
        rig=name(msg.rig, "header.rig") or None,
        fps=msg.fps or None,
        seed=msg.seed if msg.HasField("seed") else 0,
        options=options(msg.options),
        request_id=request_id(msg.request_id),
        live_link_target=msg.live_link_target,
        live_link_subject=msg.live_link_subject,
    )


def chunk_keyframes(msg: fa.AudioChunk) -> tuple[EmotionKeyframe, ...]:
    return _keyframes(msg.emotion_keyframes, "audio.emotion_keyframes")


def track_header(session: StreamSession, versions: dict[str, str]) -> fa.StreamAnimateResponse:
    return fa.StreamAnimateResponse(header=fa.TrackHeader(
        channel_names=list(session.channel_names), fps=session.fps, lookahead_ms=session.lookahead_ms,
        mode="neural", versions=versions, request_id=session.request_id))


def frame_batches(batch: FrameBatch, fps: float, max_values: int) -> Iterator[fa.StreamAnimateResponse]:
    """The frames of ``batch`` as messages of at most ``max_values`` values each (whole frames, at least one):
    a stream that caught up on many queued chunks never sends one huge message."""
    per = max(1, max_values // max(1, batch.values.shape[1]))
    for start in range(0, len(batch.values), per):
        values = batch.values[start:start + per]
        first = batch.first_frame + start
        yield fa.StreamAnimateResponse(frames=_with_floats(fa.FrameBatch(
            first_frame=first, frame_count=len(values), start_time_s=first / fps), "values", values))


def stream_end(summary: StreamSummary) -> fa.StreamAnimateResponse:
    return fa.StreamAnimateResponse(end=fa.StreamEnd(
        frame_count=summary.frame_count, audio_duration_s=summary.audio_duration_s, warnings=list(summary.warnings)))


# ----------------------------------------------------------------------------------- EmotionState
_SPEAKERS: dict[int, str] = {es.SPEAKER_SELF: "self", es.SPEAKER_OTHER: "other"}


def _vad(v: tuple[float, float, float]) -> pb.VadEmotion:
    return pb.VadEmotion(valence=v[0], arousal=v[1], dominance=v[2])


def ocean_values(msg: es.Ocean) -> tuple[float, float, float, float, float]:
    return (msg.openness, msg.conscientiousness, msg.extraversion, msg.agreeableness, msg.neuroticism)


def ocean_message(values: tuple[float, float, float, float, float]) -> es.Ocean:
    o, c, e, a, n = values
    return es.Ocean(openness=o, conscientiousness=c, extraversion=e, agreeableness=a, neuroticism=n)


def speaker(value: int) -> Literal["self", "other"]:
    if value not in _SPEAKERS:
        raise InvalidArgument(f"speaker = {es.Speaker.Name(value) if value in es.Speaker.values() else value}; "
                              "accepted: SPEAKER_SELF (the NPC said it) or SPEAKER_OTHER (said to the NPC)",
                              field="speaker")
    return "self" if _SPEAKERS[value] == "self" else "other"


def optional_emotion(msg: pb.EmotionValue, field: str) -> Emotion | None:
    return emotion_value(msg, field) if msg.WhichOneof("value") else None


def optional_time(msg: Any) -> float | None:
    return float(msg.game_time_s) if msg.HasField("game_time_s") else None


def npc_state(state: NpcState) -> es.NpcState:
    return es.NpcState(
        npc_id=state.npc_id, persona=state.persona or "", ocean=ocean_message(state.ocean),
        temperament=_vad(state.temperament_pad), baseline=_vad(state.baseline_vad), mood=_vad(state.mood_vad),
        emotion=_vad(state.emotion_vad), category=state.category, intensity=state.intensity,
        game_time_s=state.game_time_s, revision=state.revision,
    )


def observation(result: Observation) -> es.ObserveUtteranceResponse:
    return es.ObserveUtteranceResponse(state=npc_state(result.state), category=result.category,
                                       intensity=result.intensity)


def personas(items: Iterable[Persona]) -> es.ListPersonasResponse:
    return es.ListPersonasResponse(personas=[
        es.Persona(name=p.name, description=p.description, ocean=ocean_message(p.ocean)) for p in items])
