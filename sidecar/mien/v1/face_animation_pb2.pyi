from mien.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AnimationMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANIMATION_MODE_AUTO: _ClassVar[AnimationMode]
    ANIMATION_MODE_ALIGNED: _ClassVar[AnimationMode]
    ANIMATION_MODE_RECOGNIZED: _ClassVar[AnimationMode]
    ANIMATION_MODE_NEURAL: _ClassVar[AnimationMode]
ANIMATION_MODE_AUTO: AnimationMode
ANIMATION_MODE_ALIGNED: AnimationMode
ANIMATION_MODE_RECOGNIZED: AnimationMode
ANIMATION_MODE_NEURAL: AnimationMode

class AnimateLineRequest(_message.Message):
    __slots__ = ("audio", "transcript", "emotion", "fps", "rig", "seed", "options", "npc_id", "mode", "idle_duration_s", "request_id")
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    RIG_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    NPC_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    IDLE_DURATION_S_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    audio: _common_pb2.AudioInput
    transcript: str
    emotion: _common_pb2.EmotionSpec
    fps: float
    rig: str
    seed: int
    options: _common_pb2.AnimationOptions
    npc_id: str
    mode: AnimationMode
    idle_duration_s: float
    request_id: str
    def __init__(self, audio: _Optional[_Union[_common_pb2.AudioInput, _Mapping]] = ..., transcript: _Optional[str] = ..., emotion: _Optional[_Union[_common_pb2.EmotionSpec, _Mapping]] = ..., fps: _Optional[float] = ..., rig: _Optional[str] = ..., seed: _Optional[int] = ..., options: _Optional[_Union[_common_pb2.AnimationOptions, _Mapping]] = ..., npc_id: _Optional[str] = ..., mode: _Optional[_Union[AnimationMode, str]] = ..., idle_duration_s: _Optional[float] = ..., request_id: _Optional[str] = ...) -> None: ...

class AnimationTrack(_message.Message):
    __slots__ = ("channel_names", "fps", "frame_count", "values", "phones", "metadata")
    CHANNEL_NAMES_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    PHONES_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    channel_names: _containers.RepeatedScalarFieldContainer[str]
    fps: float
    frame_count: int
    values: _containers.RepeatedScalarFieldContainer[float]
    phones: _containers.RepeatedCompositeFieldContainer[_common_pb2.PhoneSegment]
    metadata: TrackMetadata
    def __init__(self, channel_names: _Optional[_Iterable[str]] = ..., fps: _Optional[float] = ..., frame_count: _Optional[int] = ..., values: _Optional[_Iterable[float]] = ..., phones: _Optional[_Iterable[_Union[_common_pb2.PhoneSegment, _Mapping]]] = ..., metadata: _Optional[_Union[TrackMetadata, _Mapping]] = ...) -> None: ...

class TrackMetadata(_message.Message):
    __slots__ = ("mode", "warnings", "audio_duration_s", "processing_ms", "seed", "rig", "versions", "request_id", "emotion")
    class VersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class EmotionEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    MODE_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_DURATION_S_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_MS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    RIG_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    mode: str
    warnings: _containers.RepeatedScalarFieldContainer[str]
    audio_duration_s: float
    processing_ms: float
    seed: int
    rig: str
    versions: _containers.ScalarMap[str, str]
    request_id: str
    emotion: _containers.ScalarMap[str, float]
    def __init__(self, mode: _Optional[str] = ..., warnings: _Optional[_Iterable[str]] = ..., audio_duration_s: _Optional[float] = ..., processing_ms: _Optional[float] = ..., seed: _Optional[int] = ..., rig: _Optional[str] = ..., versions: _Optional[_Mapping[str, str]] = ..., request_id: _Optional[str] = ..., emotion: _Optional[_Mapping[str, float]] = ...) -> None: ...

class StreamAnimateRequest(_message.Message):
    __slots__ = ("header", "audio", "end")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    header: StreamHeader
    audio: AudioChunk
    end: EndOfAudio
    def __init__(self, header: _Optional[_Union[StreamHeader, _Mapping]] = ..., audio: _Optional[_Union[AudioChunk, _Mapping]] = ..., end: _Optional[_Union[EndOfAudio, _Mapping]] = ...) -> None: ...

class StreamHeader(_message.Message):
    __slots__ = ("sample_rate_hz", "encoding", "channels", "emotion", "rig", "fps", "seed", "options", "npc_id", "request_id", "live_link_target", "live_link_subject")
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    RIG_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    NPC_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LIVE_LINK_TARGET_FIELD_NUMBER: _ClassVar[int]
    LIVE_LINK_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    sample_rate_hz: int
    encoding: _common_pb2.PcmEncoding
    channels: int
    emotion: _common_pb2.EmotionSpec
    rig: str
    fps: float
    seed: int
    options: _common_pb2.AnimationOptions
    npc_id: str
    request_id: str
    live_link_target: str
    live_link_subject: str
    def __init__(self, sample_rate_hz: _Optional[int] = ..., encoding: _Optional[_Union[_common_pb2.PcmEncoding, str]] = ..., channels: _Optional[int] = ..., emotion: _Optional[_Union[_common_pb2.EmotionSpec, _Mapping]] = ..., rig: _Optional[str] = ..., fps: _Optional[float] = ..., seed: _Optional[int] = ..., options: _Optional[_Union[_common_pb2.AnimationOptions, _Mapping]] = ..., npc_id: _Optional[str] = ..., request_id: _Optional[str] = ..., live_link_target: _Optional[str] = ..., live_link_subject: _Optional[str] = ...) -> None: ...

class AudioChunk(_message.Message):
    __slots__ = ("data", "emotion_keyframes")
    DATA_FIELD_NUMBER: _ClassVar[int]
    EMOTION_KEYFRAMES_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    emotion_keyframes: _containers.RepeatedCompositeFieldContainer[_common_pb2.EmotionKeyframe]
    def __init__(self, data: _Optional[bytes] = ..., emotion_keyframes: _Optional[_Iterable[_Union[_common_pb2.EmotionKeyframe, _Mapping]]] = ...) -> None: ...

class EndOfAudio(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StreamAnimateResponse(_message.Message):
    __slots__ = ("header", "frames", "end")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    header: TrackHeader
    frames: FrameBatch
    end: StreamEnd
    def __init__(self, header: _Optional[_Union[TrackHeader, _Mapping]] = ..., frames: _Optional[_Union[FrameBatch, _Mapping]] = ..., end: _Optional[_Union[StreamEnd, _Mapping]] = ...) -> None: ...

class TrackHeader(_message.Message):
    __slots__ = ("channel_names", "fps", "lookahead_ms", "mode", "versions", "request_id")
    class VersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CHANNEL_NAMES_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    LOOKAHEAD_MS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    channel_names: _containers.RepeatedScalarFieldContainer[str]
    fps: float
    lookahead_ms: float
    mode: str
    versions: _containers.ScalarMap[str, str]
    request_id: str
    def __init__(self, channel_names: _Optional[_Iterable[str]] = ..., fps: _Optional[float] = ..., lookahead_ms: _Optional[float] = ..., mode: _Optional[str] = ..., versions: _Optional[_Mapping[str, str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class FrameBatch(_message.Message):
    __slots__ = ("first_frame", "frame_count", "start_time_s", "values")
    FIRST_FRAME_FIELD_NUMBER: _ClassVar[int]
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    START_TIME_S_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    first_frame: int
    frame_count: int
    start_time_s: float
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, first_frame: _Optional[int] = ..., frame_count: _Optional[int] = ..., start_time_s: _Optional[float] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...

class StreamEnd(_message.Message):
    __slots__ = ("frame_count", "audio_duration_s", "warnings")
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_DURATION_S_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    frame_count: int
    audio_duration_s: float
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, frame_count: _Optional[int] = ..., audio_duration_s: _Optional[float] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class DescribeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RigProfileInfo(_message.Message):
    __slots__ = ("name", "version", "description", "channel_names")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_NAMES_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    description: str
    channel_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., description: _Optional[str] = ..., channel_names: _Optional[_Iterable[str]] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "version", "sample_rate_hz", "fps", "lookahead_ms", "channel_names", "licence")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    LOOKAHEAD_MS_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_NAMES_FIELD_NUMBER: _ClassVar[int]
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    sample_rate_hz: int
    fps: float
    lookahead_ms: float
    channel_names: _containers.RepeatedScalarFieldContainer[str]
    licence: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., sample_rate_hz: _Optional[int] = ..., fps: _Optional[float] = ..., lookahead_ms: _Optional[float] = ..., channel_names: _Optional[_Iterable[str]] = ..., licence: _Optional[str] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_audio_s", "max_message_bytes", "max_text_chars", "max_chunk_s", "max_concurrent_per_client", "stream_stall_timeout_s", "min_fps", "max_fps", "max_word_chars", "max_words", "max_output_values", "max_emotion_keyframes", "max_stream_message_bytes", "stream_audioless_timeout_s", "max_stream_s", "max_stream_lag_s", "max_streams", "http_header_timeout_s", "http_body_timeout_s")
    MAX_AUDIO_S_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_TEXT_CHARS_FIELD_NUMBER: _ClassVar[int]
    MAX_CHUNK_S_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_PER_CLIENT_FIELD_NUMBER: _ClassVar[int]
    STREAM_STALL_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    MIN_FPS_FIELD_NUMBER: _ClassVar[int]
    MAX_FPS_FIELD_NUMBER: _ClassVar[int]
    MAX_WORD_CHARS_FIELD_NUMBER: _ClassVar[int]
    MAX_WORDS_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_VALUES_FIELD_NUMBER: _ClassVar[int]
    MAX_EMOTION_KEYFRAMES_FIELD_NUMBER: _ClassVar[int]
    MAX_STREAM_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    STREAM_AUDIOLESS_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    MAX_STREAM_S_FIELD_NUMBER: _ClassVar[int]
    MAX_STREAM_LAG_S_FIELD_NUMBER: _ClassVar[int]
    MAX_STREAMS_FIELD_NUMBER: _ClassVar[int]
    HTTP_HEADER_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    HTTP_BODY_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    max_audio_s: float
    max_message_bytes: int
    max_text_chars: int
    max_chunk_s: float
    max_concurrent_per_client: int
    stream_stall_timeout_s: float
    min_fps: float
    max_fps: float
    max_word_chars: int
    max_words: int
    max_output_values: int
    max_emotion_keyframes: int
    max_stream_message_bytes: int
    stream_audioless_timeout_s: float
    max_stream_s: float
    max_stream_lag_s: float
    max_streams: int
    http_header_timeout_s: float
    http_body_timeout_s: float
    def __init__(self, max_audio_s: _Optional[float] = ..., max_message_bytes: _Optional[int] = ..., max_text_chars: _Optional[int] = ..., max_chunk_s: _Optional[float] = ..., max_concurrent_per_client: _Optional[int] = ..., stream_stall_timeout_s: _Optional[float] = ..., min_fps: _Optional[float] = ..., max_fps: _Optional[float] = ..., max_word_chars: _Optional[int] = ..., max_words: _Optional[int] = ..., max_output_values: _Optional[int] = ..., max_emotion_keyframes: _Optional[int] = ..., max_stream_message_bytes: _Optional[int] = ..., stream_audioless_timeout_s: _Optional[float] = ..., max_stream_s: _Optional[float] = ..., max_stream_lag_s: _Optional[float] = ..., max_streams: _Optional[int] = ..., http_header_timeout_s: _Optional[float] = ..., http_body_timeout_s: _Optional[float] = ...) -> None: ...

class ServiceInfo(_message.Message):
    __slots__ = ("versions", "rigs", "default_rig", "emotions", "emotion_aliases", "modes", "models", "limits", "default_fps", "internal_channels", "personas")
    class VersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class EmotionAliasesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    RIGS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_RIG_FIELD_NUMBER: _ClassVar[int]
    EMOTIONS_FIELD_NUMBER: _ClassVar[int]
    EMOTION_ALIASES_FIELD_NUMBER: _ClassVar[int]
    MODES_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FPS_FIELD_NUMBER: _ClassVar[int]
    INTERNAL_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    PERSONAS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.ScalarMap[str, str]
    rigs: _containers.RepeatedCompositeFieldContainer[RigProfileInfo]
    default_rig: str
    emotions: _containers.RepeatedScalarFieldContainer[str]
    emotion_aliases: _containers.ScalarMap[str, str]
    modes: _containers.RepeatedScalarFieldContainer[str]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    limits: Limits
    default_fps: float
    internal_channels: _containers.RepeatedScalarFieldContainer[str]
    personas: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, versions: _Optional[_Mapping[str, str]] = ..., rigs: _Optional[_Iterable[_Union[RigProfileInfo, _Mapping]]] = ..., default_rig: _Optional[str] = ..., emotions: _Optional[_Iterable[str]] = ..., emotion_aliases: _Optional[_Mapping[str, str]] = ..., modes: _Optional[_Iterable[str]] = ..., models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., default_fps: _Optional[float] = ..., internal_channels: _Optional[_Iterable[str]] = ..., personas: _Optional[_Iterable[str]] = ...) -> None: ...
