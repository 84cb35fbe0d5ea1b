"""Personality-driven emotional state per NPC (Wen et al. 2021 transition + ALMA-style mood).

Usage::

    from mien.emotion_state import EmotionStateConfig, EmotionStateEngine

    engine = EmotionStateEngine(EmotionStateConfig(db_path="mien_state.sqlite3"))
    engine.set_persona("smith", preset="grumpy_blacksmith")
    engine.observe("smith", "self", "What do you want?", game_time_s=10.0)
    obs = engine.observe("smith", "other", "Your swords are rubbish.", game_time_s=12.0)
    obs.response          # the selected response emotion (an mien.emotion.Emotion)
    engine.current_emotion("smith", game_time_s=300.0)   # calmer after a few minutes

See ``docs/emotion_state.md`` for the model and every formula's source.
"""

from .engine import SPEAKERS, EmotionStateConfig, EmotionStateEngine, Observation
from .personas import Persona, load_personas
from .state import NpcState, decode_state, encode_state
from .temperament import OCEAN_TRAITS, temperament_pad

__all__ = [
    "OCEAN_TRAITS",
    "SPEAKERS",
    "EmotionStateConfig",
    "EmotionStateEngine",
    "NpcState",
    "Observation",
    "Persona",
    "decode_state",
    "encode_state",
    "load_personas",
    "temperament_pad",
]
