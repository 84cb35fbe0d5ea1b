from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PcmEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PCM_ENCODING_UNSPECIFIED: _ClassVar[PcmEncoding]
    PCM_ENCODING_S16LE: _ClassVar[PcmEncoding]
    PCM_ENCODING_F32LE: _ClassVar[PcmEncoding]
PCM_ENCODING_UNSPECIFIED: PcmEncoding
PCM_ENCODING_S16LE: PcmEncoding
PCM_ENCODING_F32LE: PcmEncoding

class PcmAudio(_message.Message):
    __slots__ = ("data", "sample_rate_hz", "encoding", "channels")
    DATA_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    sample_rate_hz: int
    encoding: PcmEncoding
    channels: int
    def __init__(self, data: _Optional[bytes] = ..., sample_rate_hz: _Optional[int] = ..., encoding: _Optional[_Union[PcmEncoding, str]] = ..., channels: _Optional[int] = ...) -> None: ...

class AudioInput(_message.Message):
    __slots__ = ("file", "pcm")
    FILE_FIELD_NUMBER: _ClassVar[int]
    PCM_FIELD_NUMBER: _ClassVar[int]
    file: bytes
    pcm: PcmAudio
    def __init__(self, file: _Optional[bytes] = ..., pcm: _Optional[_Union[PcmAudio, _Mapping]] = ...) -> None: ...

class CategoryEmotion(_message.Message):
    __slots__ = ("name", "intensity")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INTENSITY_FIELD_NUMBER: _ClassVar[int]
    name: str
    intensity: float
    def __init__(self, name: _Optional[str] = ..., intensity: _Optional[float] = ...) -> None: ...

class VadEmotion(_message.Message):
    __slots__ = ("valence", "arousal", "dominance")
    VALENCE_FIELD_NUMBER: _ClassVar[int]
    AROUSAL_FIELD_NUMBER: _ClassVar[int]
    DOMINANCE_FIELD_NUMBER: _ClassVar[int]
    valence: float
    arousal: float
    dominance: float
    def __init__(self, valence: _Optional[float] = ..., arousal: _Optional[float] = ..., dominance: _Optional[float] = ...) -> None: ...

class BlendEmotion(_message.Message):
    __slots__ = ("weights",)
    class WeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    weights: _containers.ScalarMap[str, float]
    def __init__(self, weights: _Optional[_Mapping[str, float]] = ...) -> None: ...

class EmotionValue(_message.Message):
    __slots__ = ("category", "vad", "blend")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    VAD_FIELD_NUMBER: _ClassVar[int]
    BLEND_FIELD_NUMBER: _ClassVar[int]
    category: CategoryEmotion
    vad: VadEmotion
    blend: BlendEmotion
    def __init__(self, category: _Optional[_Union[CategoryEmotion, _Mapping]] = ..., vad: _Optional[_Union[VadEmotion, _Mapping]] = ..., blend: _Optional[_Union[BlendEmotion, _Mapping]] = ...) -> None: ...

class EmotionKeyframe(_message.Message):
    __slots__ = ("time_s", "value")
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    time_s: float
    value: EmotionValue
    def __init__(self, time_s: _Optional[float] = ..., value: _Optional[_Union[EmotionValue, _Mapping]] = ...) -> None: ...

class EmotionKeyframes(_message.Message):
    __slots__ = ("keyframes",)
    KEYFRAMES_FIELD_NUMBER: _ClassVar[int]
    keyframes: _containers.RepeatedCompositeFieldContainer[EmotionKeyframe]
    def __init__(self, keyframes: _Optional[_Iterable[_Union[EmotionKeyframe, _Mapping]]] = ...) -> None: ...

class AutoEmotion(_message.Message):
    __slots__ = ("game_time_s",)
    GAME_TIME_S_FIELD_NUMBER: _ClassVar[int]
    game_time_s: float
    def __init__(self, game_time_s: _Optional[float] = ...) -> None: ...

class EmotionSpec(_message.Message):
    __slots__ = ("constant", "keyframes", "auto")
    CONSTANT_FIELD_NUMBER: _ClassVar[int]
    KEYFRAMES_FIELD_NUMBER: _ClassVar[int]
    AUTO_FIELD_NUMBER: _ClassVar[int]
    constant: EmotionValue
    keyframes: EmotionKeyframes
    auto: AutoEmotion
    def __init__(self, constant: _Optional[_Union[EmotionValue, _Mapping]] = ..., keyframes: _Optional[_Union[EmotionKeyframes, _Mapping]] = ..., auto: _Optional[_Union[AutoEmotion, _Mapping]] = ...) -> None: ...

class AnimationOptions(_message.Message):
    __slots__ = ("expression_scale", "blink_scale", "gaze_scale", "speech_style_scale", "micro_motion_scale", "head_motion_scale")
    EXPRESSION_SCALE_FIELD_NUMBER: _ClassVar[int]
    BLINK_SCALE_FIELD_NUMBER: _ClassVar[int]
    GAZE_SCALE_FIELD_NUMBER: _ClassVar[int]
    SPEECH_STYLE_SCALE_FIELD_NUMBER: _ClassVar[int]
    MICRO_MOTION_SCALE_FIELD_NUMBER: _ClassVar[int]
    HEAD_MOTION_SCALE_FIELD_NUMBER: _ClassVar[int]
    expression_scale: float
    blink_scale: float
    gaze_scale: float
    speech_style_scale: float
    micro_motion_scale: float
    head_motion_scale: float
    def __init__(self, expression_scale: _Optional[float] = ..., blink_scale: _Optional[float] = ..., gaze_scale: _Optional[float] = ..., speech_style_scale: _Optional[float] = ..., micro_motion_scale: _Optional[float] = ..., head_motion_scale: _Optional[float] = ...) -> None: ...

class PhoneSegment(_message.Message):
    __slots__ = ("start_s", "end_s", "phone", "word", "viseme")
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    WORD_FIELD_NUMBER: _ClassVar[int]
    VISEME_FIELD_NUMBER: _ClassVar[int]
    start_s: float
    end_s: float
    phone: str
    word: str
    viseme: str
    def __init__(self, start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., phone: _Optional[str] = ..., word: _Optional[str] = ..., viseme: _Optional[str] = ...) -> None: ...
