"""Describe: what this sidecar offers, built from the live objects (never re-declared)."""

from __future__ import annotations

from typing import Any

from ..channels import CHANNELS
from ..emotion import EMOTION_ALIASES, EMOTIONS
from ..rig import list_rigs
from ..v1 import face_animation_pb2 as fa

__all__ = ["service_info"]


def service_info(sidecar: Any) -> fa.ServiceInfo:
    config = sidecar.config
    animator = sidecar.animator
    limits = config.limits
    models = []
    model = animator.neural_model
    if model is not None:
        meta = model.metadata
        models.append(fa.ModelInfo(name=model.name, version=model.version, sample_rate_hz=meta.sample_rate_hz,
                                   fps=meta.fps, lookahead_ms=meta.lookahead_ms,
                                   channel_names=list(model.channel_names), licence=meta.licence))
    personas = [p.name for p in sidecar.emotion_state.list_personas()] if sidecar.emotion_state else []
    return fa.ServiceInfo(
        versions=animator.versions(),
        rigs=[fa.RigProfileInfo(name=r.name, version=r.version, description=r.description,
                                channel_names=list(r.channel_names)) for r in list_rigs()],
        default_rig=config.animation.default_rig,
        emotions=list(EMOTIONS),
        emotion_aliases=dict(EMOTION_ALIASES),
        modes=list(animator.modes),
        models=models,
        limits=fa.Limits(
            max_audio_s=limits.max_audio_s,
            max_message_bytes=limits.max_message_bytes,
            max_text_chars=limits.max_text_chars,
            max_chunk_s=limits.max_chunk_s,
            max_concurrent_per_client=limits.max_concurrent_per_client,
            stream_stall_timeout_s=limits.stream_stall_timeout_s,
            min_fps=config.animation.min_fps,
            max_fps=config.animation.max_fps,
            max_word_chars=limits.max_word_chars,
            max_words=limits.max_words,
            max_output_values=limits.max_output_values,
            max_emotion_keyframes=limits.max_emotion_keyframes,
            max_stream_message_bytes=limits.max_stream_message_bytes,
            stream_audioless_timeout_s=limits.stream_audioless_timeout_s,
            max_stream_s=limits.max_stream_s,
            max_stream_lag_s=limits.max_stream_lag_s,
            max_streams=limits.max_streams,
            http_header_timeout_s=limits.http_header_timeout_s,
            http_body_timeout_s=limits.http_body_timeout_s,
        ),
        default_fps=config.animation.default_fps,
        internal_channels=list(CHANNELS),
        personas=personas,
    )
