"""Mien: emotional facial animation for game NPCs.

Speech audio (with an optional transcript and an emotion) in; per-frame facial curves out:
lip-sync, emotional expression, blinks and gaze, on ARKit-52 or any rig profile.

    from mien import Animator, LineRequest, EncodedAudio, Emotion
    animator = Animator()
    track = animator.animate(LineRequest(audio=EncodedAudio(open("line.wav", "rb").read()),
                                         transcript="Halt! Who goes there?",
                                         emotion=Emotion.of("angry", 0.8)))
    print(track.channel_names, track.values.shape)
"""

__version__ = "0.1.0"

from .config import Config, load_config
from .emotion import EMOTIONS, Emotion, EmotionKeyframe, emotion_from_vad
from .errors import (
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    MienError,
    NotFound,
    ResourceExhausted,
    Unauthenticated,
)
from .pipeline import AnimationOptions, Animator, AutoEmotion, EncodedAudio, LineRequest, PcmInput
from .track import PhoneSegment, Track, TrackInfo

__all__ = [
    "__version__",
    "Animator",
    "LineRequest",
    "EncodedAudio",
    "PcmInput",
    "AutoEmotion",
    "AnimationOptions",
    "Emotion",
    "EmotionKeyframe",
    "EMOTIONS",
    "emotion_from_vad",
    "Config",
    "load_config",
    "Track",
    "TrackInfo",
    "PhoneSegment",
    "MienError",
    "InvalidArgument",
    "NotFound",
    "FailedPrecondition",
    "ResourceExhausted",
    "DeadlineExceeded",
    "Unauthenticated",
]
