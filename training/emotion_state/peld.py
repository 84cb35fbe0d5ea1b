"""PELD loading and the cached sentence embeddings used by training and evaluation.

PELD (Wen et al. 2021) is research-only data: it is read from ``--peld`` (default
``../shared/emotion_data/peld``) and never copied into the repository. The embeddings of its
utterances are cached *outside* the repository (``--cache``, default ``~/.cache/mien/emotion_state``)
keyed by the encoder's sha256, so changing the encoder recomputes them.

Each example is one dyadic triple: utterance 1 by the "system" speaker (emotion E1), utterance 2
by the other speaker, utterance 3 by the system speaker again (emotion E3, the target). Features
use only utterances 1 and 2, E1 and the system speaker's Big Five, as in the paper: the response
emotion is selected before the response text exists.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mien.emotion import EMOTIONS, canonical_emotion
from mien.emotion_state.context import ENCODER_FILE, MAX_TOKENS, TextEncoder, data_path

__all__ = ["SPLITS", "PeldData", "default_cache_dir", "load_peld"]

SPLITS: tuple[str, ...] = ("train", "valid", "test")


@dataclass(frozen=True)
class PeldData:
    """Arrays of one split (n examples)."""

    emb_1: np.ndarray  # (n, 384) utterance 1 (system speaker)
    emb_2: np.ndarray  # (n, 384) utterance 2 (other speaker)
    ocean: np.ndarray  # (n, 5) system speaker's Big Five, 0..1
    emotion_1: np.ndarray  # (n,) index into EMOTIONS of E1 (preceding emotion)
    emotion_2: np.ndarray  # (n,) index into EMOTIONS of E2 (other speaker's emotion; auxiliary target)
    emotion_3: np.ndarray  # (n,) index into EMOTIONS of E3 (response emotion, target)
    text_1: tuple[str, ...] = ()  # utterance 1 (read from the research data at run time, never stored)
    text_2: tuple[str, ...] = ()  # utterance 2

    def __len__(self) -> int:
        return int(self.emotion_3.shape[0])


def default_cache_dir() -> Path:
    """``~/.cache/mien/emotion_state`` (outside the repository)."""
    return Path.home() / ".cache" / "mien" / "emotion_state"


def _read_rows(peld_dir: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    with open(peld_dir / "Dyadic_PELD.tsv", newline="", encoding="utf-8") as fh:
        texts = list(csv.DictReader(fh, delimiter="\t"))
    with open(peld_dir / "peld_labels_only.csv", newline="", encoding="utf-8") as fh:
        labels = list(csv.DictReader(fh))
    if len(texts) != len(labels):
        raise ValueError(f"PELD: {len(texts)} text rows but {len(labels)} label rows")
    for i, lab in enumerate(labels):
        if int(lab["row"]) != i:
            raise ValueError(f"peld_labels_only.csv: row {i} has row id {lab['row']}")
        txt = texts[i]
        if (txt["Emotion_1"], txt["Emotion_3"]) != (lab["emotion_1"], lab["emotion_3"]):
            raise ValueError(f"PELD row {i}: labels disagree between the TSV and the CSV")
    return texts, labels


def _embeddings(texts: list[dict[str, str]], cache_dir: Path, column: str, encoder_sha: str) -> np.ndarray:
    cache = cache_dir / f"peld_{column.lower()}_{encoder_sha[:16]}_t{MAX_TOKENS}.npy"
    if cache.exists():
        arr = np.load(cache, allow_pickle=False)
        if arr.shape == (len(texts), 384):
            return arr
    encoder = TextEncoder(cache_size=0)
    print(f"encoding {len(texts)} x {column} with the shipped encoder (cached in {cache}) ...", flush=True)
    arr = encoder.encode_many([row[column] for row in texts])
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(cache, arr, allow_pickle=False)
    return arr


def load_peld(peld_dir: Path, cache_dir: Path | None = None) -> dict[str, PeldData]:
    """Load every split of PELD with the shipped encoder's embeddings of utterances 1 and 2."""
    cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
    texts, labels = _read_rows(peld_dir)
    encoder_sha = hashlib.sha256(data_path(ENCODER_FILE).read_bytes()).hexdigest()
    emb_1 = _embeddings(texts, cache_dir, "Utterance_1", encoder_sha)
    emb_2 = _embeddings(texts, cache_dir, "Utterance_2", encoder_sha)
    ocean = np.array([[float(lab[k]) for k in ("O", "C", "E", "A", "N")] for lab in labels])
    e1 = np.array([EMOTIONS.index(canonical_emotion(lab["emotion_1"])) for lab in labels])
    e2 = np.array([EMOTIONS.index(canonical_emotion(lab["emotion_2"])) for lab in labels])
    e3 = np.array([EMOTIONS.index(canonical_emotion(lab["emotion_3"])) for lab in labels])
    split = np.array([lab["split"] for lab in labels])
    out: dict[str, PeldData] = {}
    for name in SPLITS:
        idx = np.flatnonzero(split == name)
        out[name] = PeldData(emb_1[idx], emb_2[idx], ocean[idx], e1[idx], e2[idx], e3[idx],
                             tuple(texts[i]["Utterance_1"] for i in idx), tuple(texts[i]["Utterance_2"] for i in idx))
    return out
