from mien.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Speaker(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SPEAKER_UNSPECIFIED: _ClassVar[Speaker]
    SPEAKER_SELF: _ClassVar[Speaker]
    SPEAKER_OTHER: _ClassVar[Speaker]
SPEAKER_UNSPECIFIED: Speaker
SPEAKER_SELF: Speaker
SPEAKER_OTHER: Speaker

class Ocean(_message.Message):
    __slots__ = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")
    OPENNESS_FIELD_NUMBER: _ClassVar[int]
    CONSCIENTIOUSNESS_FIELD_NUMBER: _ClassVar[int]
    EXTRAVERSION_FIELD_NUMBER: _ClassVar[int]
    AGREEABLENESS_FIELD_NUMBER: _ClassVar[int]
    NEUROTICISM_FIELD_NUMBER: _ClassVar[int]
    openness: float
    conscientiousness: float
    extraversion: float
    agreeableness: float
    neuroticism: float
    def __init__(self, openness: _Optional[float] = ..., conscientiousness: _Optional[float] = ..., extraversion: _Optional[float] = ..., agreeableness: _Optional[float] = ..., neuroticism: _Optional[float] = ...) -> None: ...

class SetPersonaRequest(_message.Message):
    __slots__ = ("npc_id", "ocean", "preset", "baseline", "game_time_s")
    NPC_ID_FIELD_NUMBER: _ClassVar[int]
    OCEAN_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    GAME_TIME_S_FIELD_NUMBER: _ClassVar[int]
    npc_id: str
    ocean: Ocean
    preset: str
    baseline: _common_pb2.EmotionValue
    game_time_s: float
    def __init__(self, npc_id: _Optional[str] = ..., ocean: _Optional[_Union[Ocean, _Mapping]] = ..., preset: _Optional[str] = ..., baseline: _Optional[_Union[_common_pb2.EmotionValue, _Mapping]] = ..., game_time_s: _Optional[float] = ...) -> None: ...

class ObserveUtteranceRequest(_message.Message):
    __slots__ = ("npc_id", "speaker", "text", "emotion", "game_time_s")
    NPC_ID_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    GAME_TIME_S_FIELD_NUMBER: _ClassVar[int]
    npc_id: str
    speaker: Speaker
    text: str
    emotion: _common_pb2.EmotionValue
    game_time_s: float
    def __init__(self, npc_id: _Optional[str] = ..., speaker: _Optional[_Union[Speaker, str]] = ..., text: _Optional[str] = ..., emotion: _Optional[_Union[_common_pb2.EmotionValue, _Mapping]] = ..., game_time_s: _Optional[float] = ...) -> None: ...

class ObserveUtteranceResponse(_message.Message):
    __slots__ = ("state", "category", "intensity")
    STATE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    INTENSITY_FIELD_NUMBER: _ClassVar[int]
    state: NpcState
    category: str
    intensity: float
    def __init__(self, state: _Optional[_Union[NpcState, _Mapping]] = ..., category: _Optional[str] = ..., intensity: _Optional[float] = ...) -> None: ...

class NpcState(_message.Message):
    __slots__ = ("npc_id", "persona", "ocean", "temperament", "baseline", "mood", "emotion", "category", "intensity", "game_time_s", "revision")
    NPC_ID_FIELD_NUMBER: _ClassVar[int]
    PERSONA_FIELD_NUMBER: _ClassVar[int]
    OCEAN_FIELD_NUMBER: _ClassVar[int]
    TEMPERAMENT_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    MOOD_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    INTENSITY_FIELD_NUMBER: _ClassVar[int]
    GAME_TIME_S_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    npc_id: str
    persona: str
    ocean: Ocean
    temperament: _common_pb2.VadEmotion
    baseline: _common_pb2.VadEmotion
    mood: _common_pb2.VadEmotion
    emotion: _common_pb2.VadEmotion
    category: str
    intensity: float
    game_time_s: float
    revision: int
    def __init__(self, npc_id: _Optional[str] = ..., persona: _Optional[str] = ..., ocean: _Optional[_Union[Ocean, _Mapping]] = ..., temperament: _Optional[_Union[_common_pb2.VadEmotion, _Mapping]] = ..., baseline: _Optional[_Union[_common_pb2.VadEmotion, _Mapping]] = ..., mood: _Optional[_Union[_common_pb2.VadEmotion, _Mapping]] = ..., emotion: _Optional[_Union[_common_pb2.VadEmotion, _Mapping]] = ..., category: _Optional[str] = ..., intensity: _Optional[float] = ..., game_time_s: _Optional[float] = ..., revision: _Optional[int] = ...) -> None: ...

class GetStateRequest(_message.Message):
    __slots__ = ("npc_id", "game_time_s")
    NPC_ID_FIELD_NUMBER: _ClassVar[int]
    GAME_TIME_S_FIELD_NUMBER: _ClassVar[int]
    npc_id: str
    game_time_s: float
    def __init__(self, npc_id: _Optional[str] = ..., game_time_s: _Optional[float] = ...) -> None: ...

class ExportStateRequest(_message.Message):
    __slots__ = ("npc_id",)
    NPC_ID_FIELD_NUMBER: _ClassVar[int]
    npc_id: str
    def __init__(self, npc_id: _Optional[str] = ...) -> None: ...

class ExportStateResponse(_message.Message):
    __slots__ = ("blob",)
    BLOB_FIELD_NUMBER: _ClassVar[int]
    blob: bytes
    def __init__(self, blob: _Optional[bytes] = ...) -> None: ...

class ImportStateRequest(_message.Message):
    __slots__ = ("blob", "npc_id")
    BLOB_FIELD_NUMBER: _ClassVar[int]
    NPC_ID_FIELD_NUMBER: _ClassVar[int]
    blob: bytes
    npc_id: str
    def __init__(self, blob: _Optional[bytes] = ..., npc_id: _Optional[str] = ...) -> None: ...

class ResetStateRequest(_message.Message):
    __slots__ = ("npc_id", "game_time_s")
    NPC_ID_FIELD_NUMBER: _ClassVar[int]
    GAME_TIME_S_FIELD_NUMBER: _ClassVar[int]
    npc_id: str
    game_time_s: float
    def __init__(self, npc_id: _Optional[str] = ..., game_time_s: _Optional[float] = ...) -> None: ...

class ListPersonasRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Persona(_message.Message):
    __slots__ = ("name", "description", "ocean")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OCEAN_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    ocean: Ocean
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., ocean: _Optional[_Union[Ocean, _Mapping]] = ...) -> None: ...

class ListPersonasResponse(_message.Message):
    __slots__ = ("personas",)
    PERSONAS_FIELD_NUMBER: _ClassVar[int]
    personas: _containers.RepeatedCompositeFieldContainer[Persona]
    def __init__(self, personas: _Optional[_Iterable[_Union[Persona, _Mapping]]] = ...) -> None: ...
