"""The bake: plan, skip what is unchanged, animate the rest in parallel, write atomically, report.

Steps of :func:`bake`:

1. **Validate** the manifest (:mod:`.manifest`); every problem is reported, the valid lines go on.
   An output that would replace one of the manifest's inputs stops the bake before anything is written.
2. **Emotions**: ``auto`` lines get their emotion by replaying each character's lines in manifest
   order through the NPC emotion state (:mod:`.emotions`), sequentially and deterministically.
3. **Plan**: each line's content hash (:mod:`.cache`) is compared with the one stored with its
   outputs; unchanged lines are skipped.
4. **Bake** the rest in worker processes (``fork`` on Linux, ``spawn`` elsewhere; one
   :class:`~mien.Animator` per worker, loaded once). Workers read their line's audio (checked against
   the planned hash; only lines in flight are in memory) and compute: they return the files'
   bytes, and this process writes them (temporary file in ``.mien-bake/tmp`` + rename) and then
   the line's cache entry. A killed bake therefore leaves complete files only, and a rerun skips
   every line whose entry was written. Workers die with this process (``PR_SET_PDEATHSIG`` on Linux, a
   watchdog elsewhere) and never hold the output folder's lock (a POSIX record lock of this process),
   so a rerun right after a SIGKILL resumes at once. A worker
   that crashes (a native library fault, out of memory) fails the line it was baking, after a
   retry on its own, and the batch goes on.
5. **Per-character files** (``per_character_glb``): ``characters/<id>.glb`` with every line of
   the character as a named animation, rebuilt when any of its lines changed.
6. **Report**: ``OUT_DIR/bake_report.json`` and a summary (:class:`BakeResult`).

Exit codes: 0 every line baked or unchanged and no problem; 1 some line failed (or the manifest
has problems that stop some lines); 2 the manifest is unusable or the output folder is unusable.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import hashlib
import io
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import numpy as np

import mien
from mien import AnimationOptions, Animator, EncodedAudio, LineRequest, livelinkface
from mien.config import Config
from mien.emotion import Emotion, EmotionKeyframe
from mien.errors import MienError
from mien.files import read_limited
from mien.rig import INTERNAL_RIG, RigProfile, load_rig, parse_rig

from .cache import (
    CACHE_DIR,
    BakeCache,
    CacheEntry,
    atomic_write,
    canonical_json,
    emotion_json,
    engine_fingerprint,
    rig_fingerprint,
    sha256_hex,
)
from .emotions import EngineFactory, resolve_emotions
from .gltf import Clip, build_glb
from .manifest import CHARACTERS_DIR, FORMAT_SUFFIX, REPORT_FILE, Character, Line, Manifest, Mode, load_manifest
from .progress import Progress, make_progress

__all__ = [
    "CHARACTERS_DIR",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_UNUSABLE",
    "MAX_JOBS",
    "REPORT_FILE",
    "BakeOptions",
    "BakeResult",
    "LineOutcome",
    "bake",
    "find_speech_model",
]

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2
MAX_JOBS = 256
"""Most worker processes a bake starts (each holds an Animator)."""
_SHOWN = 50
"""Problems and failed lines listed in the summary (all of them are in bake_report.json)."""
_CLIPS_DIR = "clips"
_LOCK_FILE = "lock"
_WORKER_LOG = "workers.log"
_WATCHDOG_S = 0.5
_ORPHAN_EXIT = 3
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_INFLIGHT_PER_WORKER = 2
_STATUSES = ("done", "skipped", "failed", "cancelled")


@dataclass(frozen=True)
class BakeOptions:
    """How to bake (the manifest says what)."""

    jobs: int = 0
    """Worker processes; 0 = one per CPU available to this process. 1 bakes in this process."""
    force: bool = False
    """Ignore the cache: bake every line again."""
    fail_fast: bool = False
    """Stop at the first failed line (lines already running finish and are kept)."""
    progress: str = "auto"
    """``auto`` | ``bar`` | ``json`` | ``none`` (see :mod:`.progress`)."""
    prune: bool = False
    """Delete the outputs of lines and characters no longer in the manifest."""
    dry_run: bool = False
    """Validate and plan only: report what would be baked, write nothing."""
    allow_outside_inputs: bool = False
    """Accept symbolic links in the manifest's folder that resolve to files outside it."""


@dataclass
class LineOutcome:
    """What happened to one line."""

    id: str
    character: str
    status: str
    """``done`` (baked now), ``skipped`` (unchanged), ``failed`` or ``cancelled`` (``--fail-fast``)."""
    error: str = ""
    mode: str = ""
    warnings: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    audio_s: float = 0.0
    seconds: float = 0.0
    """Processing time in the worker (0 for skipped lines)."""
    detail: str = ""
    """A traceback, for internal errors only."""
    invalid: bool = False
    """True when the manifest's problems stopped the line (they are listed in the report's ``problems``)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "character": self.character, "status": self.status}
        if self.error:
            out["error"] = self.error
        if self.detail:
            out["detail"] = self.detail
        if self.status == "done":
            out.update(mode=self.mode, warnings=list(self.warnings), audio_s=round(self.audio_s, 3),
                       seconds=round(self.seconds, 3))
        if self.outputs:
            out["outputs"] = list(self.outputs)
        return out


@dataclass(frozen=True)
class BakeResult:
    """The bake's outcome: exit code, per-line outcomes and the report (also in ``bake_report.json``)."""

    exit_code: int
    lines: Mapping[str, LineOutcome]
    report: Mapping[str, Any]
    summary: str
    report_path: Path | None


def find_speech_model(config: Config) -> Path | None:
    """The neural model the bake uses: ``config.neural.model``, else the bundled one if installed."""
    if config.neural.model:
        return Path(config.neural.model)
    from mien.neural import DEFAULT_MODEL

    bundled = Path(str(resources.files("mien") / "data" / "models" / DEFAULT_MODEL))
    return bundled if bundled.is_file() else None


# --------------------------------------------------------------------------------------------
# Worker side: compute one line's files (no file is written here)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RigSpec:
    shipped: bool
    name: str
    text: str = ""
    source: str = ""


@dataclass(frozen=True)
class _MeshSpec:
    data: bytes
    name: str
    source: str


@dataclass(frozen=True)
class _Setup:
    """What every worker needs, sent once (inherited under fork, pickled once under spawn)."""

    config: Config
    speech_model: str | None
    rigs: Mapping[str, _RigSpec]
    meshes: Mapping[str, _MeshSpec]
    worker_log: str | None
    parent_pid: int
    inherited_fds: tuple[int, ...] = ()
    """Descriptors of the bake process that forked workers close at once (none under spawn)."""


@dataclass(frozen=True)
class _Job:
    line_id: str
    character: str
    audio_path: str
    """Read by the worker (only jobs in flight hold audio in memory, however long the manifest)."""
    audio_sha256: str
    """The planned content: a file changed since planning fails its line instead of baking other audio."""
    transcript: str | None
    emotion: Emotion | tuple[EmotionKeyframe, ...]
    fps: float
    seed: int
    mode: Mode
    options: AnimationOptions
    formats: tuple[str, ...]
    want_clip: bool
    meta: Mapping[str, Any]


@dataclass(frozen=True)
class _Baked:
    line_id: str
    files: Mapping[str, bytes]
    clip: np.ndarray | None
    mode: str
    warnings: tuple[str, ...]
    audio_s: float
    seconds: float


@dataclass(frozen=True)
class _Failed:
    line_id: str
    error: str
    detail: str = ""


_Outcome = _Baked | _Failed


class _Worker:
    """One Animator plus the parsed user rig profiles, reused for every line a worker bakes."""

    def __init__(self, setup: _Setup, animator: Animator | None = None) -> None:
        self.setup = setup
        if animator is None:
            model = None
            if setup.speech_model:
                from mien.neural import NeuralModel

                model = NeuralModel(setup.speech_model, threads=setup.config.neural.threads)
            animator = Animator(setup.config, neural_model=model)
        self.animator = animator
        self._profiles: dict[str, RigProfile] = {}

    def _audio(self, job: _Job) -> bytes:
        try:
            with open(job.audio_path, "rb") as handle:
                data = read_limited(handle, self.setup.config.limits.max_message_bytes, job.meta["audio"])
        except OSError as exc:
            raise MienError(f"cannot read {job.meta['audio']}: {exc.strerror}") from None
        if sha256_hex(data) != job.audio_sha256:
            raise MienError(f"{job.meta['audio']} changed while the bake was running; run the bake again")
        return data

    def _profile(self, character: str) -> RigProfile:
        profile = self._profiles.get(character)
        if profile is None:
            spec = self.setup.rigs[character]
            profile = load_rig(spec.name) if spec.shipped else parse_rig(spec.text, spec.source)
            self._profiles[character] = profile
        return profile

    def bake(self, job: _Job) -> _Outcome:
        started = time.process_time()
        try:
            return self._bake(job, started)
        except MienError as exc:
            return _Failed(job.line_id, str(exc))
        except Exception as exc:  # noqa: BLE001 - one line's internal error must not stop the batch; it is reported
            return _Failed(job.line_id, f"internal error ({type(exc).__name__}: {exc}); please report it with "
                           "this line's audio and manifest entry", traceback.format_exc())

    def _bake(self, job: _Job, started: float) -> _Baked:
        spec = self.setup.rigs[job.character]
        request = LineRequest(
            audio=EncodedAudio(self._audio(job)), transcript=job.transcript, emotion=job.emotion, fps=job.fps,
            rig=spec.name if spec.shipped and "livelinkface" not in job.formats else INTERNAL_RIG, seed=job.seed,
            mode=job.mode, options=job.options, request_id=job.line_id,
        )
        track = self.animator.animate(request)
        files: dict[str, bytes] = {}
        if "livelinkface" in job.formats:  # from the internal channels, whatever the character's rig
            files["livelinkface"] = livelinkface.to_csv(track).encode("utf-8")
        if not spec.shipped or request.rig != spec.name:
            track = self._profile(job.character).apply(track)  # from the internal channel set
        if "glb" in job.formats:
            mesh = self.setup.meshes.get(job.character)
            glb, _ = build_glb([Clip.from_track(track, job.line_id)], generator=f"Mien {mien.__version__}",
                               face_mesh=mesh.data if mesh else None, face_mesh_name=mesh.name if mesh else "",
                               face_mesh_source=mesh.source if mesh else None)
            files["glb"] = glb
        if "csv" in job.formats:
            files["csv"] = track.to_csv().encode("utf-8")
        if "json" in job.formats:
            doc = {**track.to_json(), "bake": dict(job.meta)}
            files["json"] = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        clip = np.ascontiguousarray(track.values, dtype=np.float32) if job.want_clip else None
        return _Baked(job.line_id, files, clip, track.info.mode, tuple(track.info.warnings),
                      track.info.audio_duration_s, time.process_time() - started)


_WORKER: _Worker | None = None
_WORKER_ERROR = ""
"""Why the worker could not start (every line it is given then fails with this message)."""


def _watch_parent(parent_pid: int) -> None:
    """Exit when the bake process is gone (e.g. SIGKILL): an orphan worker must not linger."""
    while True:
        time.sleep(_WATCHDOG_S)
        if os.getppid() != parent_pid:
            os._exit(_ORPHAN_EXIT)


def _die_with_parent(parent_pid: int) -> None:
    """Make the kernel SIGKILL this worker the moment the bake process dies (Linux ``PR_SET_PDEATHSIG``: no
    wait for the GIL or a native call to return), then check the parent did not die before that took effect.
    The watchdog thread started after this is the fallback where prctl is missing."""
    if sys.platform.startswith("linux"):
        try:
            prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):  # no such libc symbol: the watchdog alone
            prctl = None
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(_ORPHAN_EXIT)


def _init_worker(setup: _Setup) -> None:
    global _WORKER, _WORKER_ERROR
    _die_with_parent(setup.parent_pid)
    for fd in setup.inherited_fds:  # the output folder's lock file (fork copies every descriptor)
        with contextlib.suppress(OSError):
            os.close(fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is handled by the bake process
    if setup.worker_log:
        fd = os.open(setup.worker_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 2)  # keep native libraries' messages off the JSON progress stream
        os.close(fd)
    threading.Thread(target=_watch_parent, args=(setup.parent_pid,), name="mien-bake-watchdog",
                     daemon=True).start()
    try:
        _WORKER = _Worker(setup)
    except MienError as exc:
        _WORKER_ERROR = f"cannot start the animator: {exc}"
    except Exception as exc:  # noqa: BLE001 - reported as every line's failure instead of a dead pool
        _WORKER_ERROR = f"cannot start the animator (internal error {type(exc).__name__}: {exc})"


def _bake_in_worker(job: _Job) -> _Outcome:
    if _WORKER is None:
        return _Failed(job.line_id, _WORKER_ERROR or "the bake worker was not initialised")
    return _WORKER.bake(job)


def _start_method() -> str:
    # fork shares the already imported modules (fast start); elsewhere fork is unsafe or missing.
    return "fork" if sys.platform == "linux" else "spawn"


class _Scheduler:
    """A process pool fed a bounded number of jobs at a time, that survives crashed workers."""

    def __init__(self, setup: _Setup, workers: int) -> None:
        self.setup = setup
        self.workers = workers
        self.context = multiprocessing.get_context(_start_method())

    def _pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=self.context, initializer=_init_worker,
                                   initargs=(self.setup,))

    def run(self, jobs: Sequence[_Job], handle: Callable[[_Job, _Outcome], bool]) -> list[_Job]:
        """Bake ``jobs``; ``handle`` gets each outcome and returns False to stop. Returns the jobs never run."""
        pending: deque[_Job] = deque(jobs)
        suspects: deque[_Job] = deque()  # in flight when a worker died: retried one at a time
        inflight: dict[Future[_Outcome], tuple[_Job, bool]] = {}
        stop = False
        pool = self._pool()
        try:
            while pending or suspects or inflight:
                if not stop:
                    try:
                        if suspects and not inflight:
                            job = suspects.popleft()
                            inflight[pool.submit(_bake_in_worker, job)] = (job, True)
                        while not suspects and pending and len(inflight) < _INFLIGHT_PER_WORKER * self.workers:
                            job = pending.popleft()
                            inflight[pool.submit(_bake_in_worker, job)] = (job, False)
                    except BrokenProcessPool:
                        suspects.appendleft(job)
                if not inflight:
                    if stop or not (pending or suspects):
                        break
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = self._pool()
                    continue
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    job, alone = inflight.pop(future)
                    try:
                        outcome = future.result()
                    except BrokenProcessPool:
                        broken = True
                        if not alone:
                            suspects.append(job)
                            continue
                        outcome = _Failed(job.line_id, "the worker process died while baking this line (a crash in "
                                          "a native library, or out of memory); it was retried alone and died again")
                    if not handle(job, outcome):
                        stop = True
                if broken:
                    for future, (job, _alone) in list(inflight.items()):
                        try:
                            outcome = future.result()
                        except BrokenProcessPool:
                            suspects.append(job)
                            continue
                        if not handle(job, outcome):
                            stop = True
                    inflight.clear()
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = self._pool()
            return list(suspects) + list(pending) if stop else []
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------------------------
# The bake process
# --------------------------------------------------------------------------------------------


def _cpu_count() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


@contextmanager
def _locked(cache: BakeCache) -> Iterator[None]:
    """One bake at a time per output folder (a no-op where fcntl is missing).

    A POSIX record lock (``lockf``), not ``flock``: a record lock belongs to the process that took it, so
    forked workers never hold it, and the kernel drops it the instant that process dies (SIGKILL included),
    whatever its workers are doing. (An ``flock`` lock belongs to the open file, which forked children share:
    it would outlive the bake in any worker still running.) The descriptor is close-on-exec, and forked
    workers close it at once.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock
        yield
        return
    fd = os.open(cache.dir / _LOCK_FILE, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            raise MienError(f"another mien bake is writing to {cache.out_dir}; wait for it or use another "
                            "output folder") from None
        cache.lock_fd = fd
        yield
    finally:
        cache.lock_fd = None
        os.close(fd)  # releases the lock


@contextmanager
def _closing(cache: BakeCache) -> Iterator[None]:
    """Close the cache journal however the bake ends (Ctrl-C included)."""
    try:
        yield
    finally:
        cache.close()


def _file_sha256(path: Path, limit: int, label: str) -> str:
    """sha256 of a file read in blocks (never whole in memory), refusing one larger than ``limit``."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            size += len(block)
            if size > limit:
                raise MienError(f"{label} is larger than {limit} bytes, the largest input accepted (config "
                                "limits.max_message_bytes, as for a request to the sidecar)")
            digest.update(block)
    return digest.hexdigest()


def _npy(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(values, dtype="<f4"), allow_pickle=False)
    return buffer.getvalue()


class _Bake:
    """State of one bake run (the pieces of :func:`bake`)."""

    def __init__(self, manifest: Manifest, out_dir: Path, options: BakeOptions, config: Config,
                 progress: Progress, animator: Animator | None, engine_factory: EngineFactory | None) -> None:
        self.manifest = manifest
        self.out_dir = out_dir
        self.options = options
        self.config = config
        self.progress = progress
        self.animator = animator
        self.engine_factory = engine_factory
        self.cache = BakeCache(out_dir)
        self.outcomes: dict[str, LineOutcome] = {}
        self.characters: dict[str, dict[str, Any]] = {}
        self.digests: dict[str, str] = {}
        self.timings: dict[str, float] = {}
        self.notes: list[str] = []
        self.total = len(manifest.declared_line_ids)
        self.jobs_used = 0
        self.started = False
        self.announced = 0
        self._queued: list[LineOutcome] = []
        self.engine = ""
        assert manifest.defaults is not None
        self.defaults = manifest.defaults
        model = find_speech_model(config) if animator is None else getattr(animator.neural_model, "path", None)
        if model is not None and not Path(model).is_file():
            raise MienError(f"neural model {model} does not exist (config neural.model); fix the path or leave it "
                            "empty for the bundled model")
        self.speech_model = Path(model) if model is not None else None
        self.inputs = {str(p).casefold(): p for p in manifest.input_files}
        self._rig_digests: dict[str, str] = {}

    # ------------------------------------------------------------------ trust
    def input_at(self, path: Path, folder: Path | None = None) -> Path | None:
        """The manifest's input file at ``path`` (an output's place; ``folder``: its folder, resolved), or None."""
        entry = (folder or Path(os.path.realpath(path.parent))) / path.name
        hit = self.inputs.get(str(entry).casefold())
        if hit is None:
            return None
        if str(hit) == str(entry):
            return hit
        try:  # the same name but for case: the same file on a case-insensitive file system
            return hit if os.path.samefile(hit, entry) else None
        except OSError:
            return None

    def clashes(self) -> list[str]:
        """Outputs of this bake that would replace one of the manifest's inputs, and inputs inside the cache
        folder (which the bake empties and rewrites). Checked before anything is written."""
        out: list[str] = []
        cache_dir = Path(os.path.realpath(self.cache.dir))
        out.extend(f"the input {p} is inside the bake's cache folder {cache_dir}" for p in self.manifest.input_files
                   if p.is_relative_to(cache_dir))
        top, characters = (Path(os.path.realpath(self.out_dir / d)) for d in ("", CHARACTERS_DIR))
        places = [(top, REPORT_FILE, "the bake report")]
        places += [(top, f"{line.id}.{FORMAT_SUFFIX[fmt]}", f"line {line.id}") for line in self.manifest.lines
                   for fmt in self.defaults.formats]
        if self.defaults.per_character_glb:
            places += [(characters, f"{cid}.glb", f"character {cid}") for cid in self.manifest.characters]
        for folder, name, what in places:
            place = folder / name
            hit = self.input_at(place, folder)
            if hit is not None:
                out.append(f"{place} ({what}) would replace the input {hit}")
        return out

    # ------------------------------------------------------------------ bookkeeping
    def finish_line(self, outcome: LineOutcome) -> None:
        self.outcomes[outcome.id] = outcome
        if self.started:
            self._announce(outcome)
        else:
            self._queued.append(outcome)

    def _announce(self, outcome: LineOutcome) -> None:
        self.announced += 1
        self.progress.line(line_id=outcome.id, character=outcome.character, status=outcome.status,
                           error=outcome.error or None, done=self.announced, total=self.total)

    def begin(self, to_bake: int) -> None:
        """Planning is over: announce the start, then the lines already settled (invalid, unchanged)."""
        self.started = True
        self.progress.start(manifest=self.manifest.source, out_dir=str(self.out_dir), total=self.total,
                            to_bake=to_bake, jobs=min(self.options.jobs or _cpu_count(), max(to_bake, 1)))
        for outcome in self._queued:
            self._announce(outcome)
        self._queued.clear()

    def note(self, message: str) -> None:
        self.notes.append(message)
        self.progress.log("warning", message)

    def expected_outputs(self, line_id: str) -> list[str]:
        names = [f"{line_id}.{FORMAT_SUFFIX[fmt]}" for fmt in self.defaults.formats]
        if self.defaults.per_character_glb:
            names.append(f"{CACHE_DIR}/{_CLIPS_DIR}/{line_id}.npy")
        return names

    # ------------------------------------------------------------------ planning
    def rig_digest(self, character: Character) -> str:
        digest = self._rig_digests.get(character.id)
        if digest is None:
            digest = self._rig_digests[character.id] = rig_fingerprint(character.rig)
        return digest

    def line_digest(self, line: Line, character: Character, audio_sha256: str,
                    emotion: Emotion | tuple[EmotionKeyframe, ...], meta: Mapping[str, Any], engine: str) -> str:
        return sha256_hex(canonical_json({
            "engine": engine,
            "id": line.id,
            "audio": audio_sha256,
            "transcript": line.transcript,
            "emotion": emotion_json(emotion),
            "fps": self.defaults.fps,
            "seed": line.seed,
            "mode": line.mode,
            "options": dataclasses.asdict(line.options),
            "rig": self.rig_digest(character),
            "mesh": sha256_hex(character.face_mesh_bytes) if character.face_mesh_bytes else None,
            "mesh_name": character.face_mesh_name,
            "meta": meta,
        }))

    def plan(self) -> list[_Job]:
        started = time.perf_counter()
        for lid in self.manifest.failed_line_ids:
            problems = [str(p) for p in self.manifest.problems if lid in p.line_ids]
            self.finish_line(LineOutcome(lid, "", "failed", "; ".join(problems) or "invalid line (see problems)",
                                         invalid=True))
        resolved = resolve_emotions(self.manifest, self.cache.emotions, self.engine_factory)
        self.timings["emotions_s"] = resolved.seconds
        engine = self.engine = sha256_hex(canonical_json(engine_fingerprint(self.config, self.speech_model)))
        jobs: list[_Job] = []
        hashes: dict[Path, str] = {}  # lines may share an audio file
        for line in self.manifest.lines:
            character = self.manifest.characters[line.character]
            if line.id in resolved.failures:
                self.finish_line(LineOutcome(line.id, line.character, "failed", resolved.failures[line.id]))
                continue
            emotion = resolved.by_line[line.id]
            audio = hashes.get(line.audio)
            if audio is None:
                try:
                    audio = hashes[line.audio] = _file_sha256(line.audio, self.config.limits.max_message_bytes,
                                                              line.audio_ref)
                except (OSError, MienError) as exc:
                    error = f"cannot read {line.audio_ref}: {exc.strerror}" if isinstance(exc, OSError) else str(exc)
                    self.finish_line(LineOutcome(line.id, line.character, "failed", error))
                    continue
            meta = {"line_id": line.id, "character": line.character, "audio": line.audio_ref,
                    "transcript": line.transcript, "emotion": line.emotion_text,
                    "emotion_resolved": emotion_json(emotion)}
            digest = self.line_digest(line, character, audio, emotion, meta, engine)
            self.digests[line.id] = digest
            expected = self.expected_outputs(line.id)
            if not self.options.force and self.cache.is_fresh(self.cache.lines.get(line.id), digest, expected):
                self.finish_line(LineOutcome(line.id, line.character, "skipped", outputs=tuple(expected)))
                continue
            jobs.append(_Job(
                line_id=line.id, character=line.character, audio_path=str(line.audio), audio_sha256=audio,
                transcript=line.transcript, emotion=emotion,
                fps=self.defaults.fps, seed=line.seed, mode=line.mode, options=line.options,
                formats=self.defaults.formats, want_clip=self.defaults.per_character_glb, meta=meta,
            ))
        self.timings["plan_s"] = time.perf_counter() - started
        return jobs

    # ------------------------------------------------------------------ writing
    def write_line(self, job: _Job, outcome: _Outcome) -> bool:
        """Write a worker's result (files, then the cache entry); False to stop (fail-fast)."""
        if isinstance(outcome, _Failed):
            self.finish_line(LineOutcome(job.line_id, job.character, "failed", outcome.error, detail=outcome.detail))
            return not self.options.fail_fast
        sizes: dict[str, int] = {}
        try:
            for fmt, data in outcome.files.items():
                name = f"{job.line_id}.{FORMAT_SUFFIX[fmt]}"
                atomic_write(self.out_dir / name, data, self.cache.tmp_dir)
                sizes[name] = len(data)
            if outcome.clip is not None:
                data = _npy(outcome.clip)
                name = f"{CACHE_DIR}/{_CLIPS_DIR}/{job.line_id}.npy"
                atomic_write(self.out_dir / name, data, self.cache.tmp_dir)
                sizes[name] = len(data)
            self.cache.record_line(job.line_id, CacheEntry(self.digests[job.line_id], sizes))
        except OSError as exc:
            self.finish_line(LineOutcome(job.line_id, job.character, "failed", f"cannot write its files: {exc}"))
            return not self.options.fail_fast
        self.finish_line(LineOutcome(job.line_id, job.character, "done", mode=outcome.mode, warnings=outcome.warnings,
                                     outputs=tuple(sizes), audio_s=outcome.audio_s, seconds=outcome.seconds))
        return True

    def setup(self) -> _Setup:
        rigs = {cid: _RigSpec(c.rig_shipped, c.rig.name, c.rig_text, c.rig_ref)
                for cid, c in self.manifest.characters.items()}
        meshes = {cid: _MeshSpec(c.face_mesh_bytes, c.face_mesh_name, c.face_mesh_ref)
                  for cid, c in self.manifest.characters.items() if c.face_mesh_bytes}
        log = str(self.cache.dir / _WORKER_LOG) if self.options.progress == "json" else None
        inherited = (self.cache.lock_fd,) if self.cache.lock_fd is not None and _start_method() == "fork" else ()
        return _Setup(self.config, str(self.speech_model) if self.speech_model else None, rigs, meshes, log,
                      os.getpid(), inherited)

    def run_jobs(self, jobs: list[_Job]) -> None:
        started = time.perf_counter()
        if self.options.fail_fast and any(o.status == "failed" for o in self.outcomes.values()):
            never_run = jobs  # a line already failed (a manifest problem, the emotion state)
        else:
            never_run = self._run(jobs)
        for job in never_run:
            self.finish_line(LineOutcome(job.line_id, job.character, "cancelled", "not baked: --fail-fast stopped "
                                         "the bake after a failure"))
        self.timings["bake_s"] = time.perf_counter() - started

    def _run(self, jobs: list[_Job]) -> list[_Job]:
        """Bake ``jobs`` here (one job) or in worker processes; returns the jobs never run (fail-fast)."""
        workers = min(self.options.jobs or _cpu_count(), len(jobs), MAX_JOBS)
        self.jobs_used = workers
        if not jobs:
            return []
        if workers > 1:
            return _Scheduler(self.setup(), workers).run(jobs, self.write_line)
        worker = _Worker(self.setup(), self.animator)
        for i, job in enumerate(jobs):
            if not self.write_line(job, worker.bake(job)):
                return jobs[i + 1:]
        return []

    def clip_of(self, line_id: str) -> np.ndarray:
        """A line's exact curves, from the cache (not kept in memory: a manifest may have any number of lines)."""
        return np.load(self.out_dir / CACHE_DIR / _CLIPS_DIR / f"{line_id}.npy", allow_pickle=False)

    def write_characters(self) -> None:
        started = time.perf_counter()
        (self.out_dir / CHARACTERS_DIR).mkdir(exist_ok=True)
        for cid, character in self.manifest.characters.items():
            lines = [line for line in self.manifest.lines if line.character == cid]
            if not lines:
                continue
            name = f"{CHARACTERS_DIR}/{cid}.glb"
            info: dict[str, Any] = {"id": cid, "file": name, "lines": [line.id for line in lines]}
            self.characters[cid] = info
            bad = [line.id for line in lines if self.outcomes[line.id].status not in ("done", "skipped")]
            if bad:
                info.update(status="failed", error=f"not written: its lines {', '.join(bad)} did not bake (the "
                            "file holds every line of the character)")
            else:
                digest = sha256_hex(canonical_json({"engine": self.engine, "lines": [
                    [line.id, self.digests[line.id]] for line in lines]}))
                if not self.options.force and self.cache.is_fresh(self.cache.characters.get(cid), digest, [name]):
                    info["status"] = "skipped"
                else:
                    try:
                        clips = [Clip(line.id, character.rig.channel_names, self.defaults.fps, self.clip_of(line.id))
                                 for line in lines]
                        glb, _ = build_glb(clips, generator=f"Mien {mien.__version__}",
                                           face_mesh=character.face_mesh_bytes or None,
                                           face_mesh_name=character.face_mesh_name,
                                           face_mesh_source=character.face_mesh_ref or None)
                        atomic_write(self.out_dir / name, glb, self.cache.tmp_dir)
                        self.cache.record_character(cid, CacheEntry(digest, {name: len(glb)}))
                        info["status"] = "done"
                    except (MienError, OSError, ValueError) as exc:
                        info.update(status="failed", error=f"cannot write {name}: {exc}")
            self.progress.character(character_id=cid, status=info["status"], file=name, error=info.get("error"))
        self.timings["characters_s"] = time.perf_counter() - started

    def stale(self) -> tuple[list[str], list[str]]:
        declared = set(self.manifest.declared_line_ids)
        lines = sorted(k for k in self.cache.lines if k not in declared)
        characters = sorted(k for k in self.cache.characters if k not in self.manifest.characters)
        return lines, characters

    def prune(self, lines: Sequence[str], characters: Sequence[str]) -> None:
        for table, keys in ((self.cache.lines, lines), (self.cache.characters, characters)):
            for key in keys:
                for name in table[key].outputs:
                    if self.input_at(self.out_dir / name) is not None:
                        self.note(f"--prune kept {name}: it is now an input of the manifest")
                        continue
                    (self.out_dir / name).unlink(missing_ok=True)
                del table[key]
        if lines or characters:
            self.cache.save()


def _counts(outcomes: Mapping[str, LineOutcome]) -> dict[str, int]:
    counts = {status: 0 for status in _STATUSES}
    for outcome in outcomes.values():
        counts[outcome.status] += 1
    counts["lines"] = len(outcomes)
    return counts


def _more(count: int) -> list[str]:
    return [f"    ... and {count - _SHOWN} more (all of them are in {REPORT_FILE})"] if count > _SHOWN else []


def _summary_text(manifest: Manifest, out_dir: Path, counts: Mapping[str, int], outcomes: Sequence[LineOutcome],
                  characters: Sequence[Mapping[str, Any]], seconds: float, report: Path | None,
                  notes: Sequence[str]) -> str:
    rows = [f"mien bake: {manifest.source} -> {out_dir}",
            f"  {counts['lines']} lines: {counts['done']} baked, {counts['skipped']} unchanged, "
            f"{counts['failed']} failed" + (f", {counts['cancelled']} cancelled" if counts["cancelled"] else "")
            + f" in {seconds:.1f} s"]
    if characters:
        written = sum(1 for c in characters if c["status"] == "done")
        failed = sum(1 for c in characters if c["status"] == "failed")
        rows.append(f"  character files: {written} written, {len(characters) - written - failed} unchanged, "
                    f"{failed} failed")
    if manifest.problems:
        rows.append(f"  problems in the manifest ({len(manifest.problems)}):")
        rows.extend(f"    {p}" for p in manifest.problems[:_SHOWN])
        rows.extend(_more(len(manifest.problems)))
    failures = [o for o in outcomes if o.status == "failed"]
    if failures:
        rows.append(f"  failed lines ({len(failures)}):")
        rows.extend(f"    {o.id}: " + ("stopped by the problems above" if o.invalid
                                       else (o.error.splitlines()[0] if o.error else "")) for o in failures[:_SHOWN])
        rows.extend(_more(len(failures)))
    rows.extend(f"  character file {c['file']}: {c['error']}" for c in characters if c["status"] == "failed")
    rows.extend(f"  note: {note}" for note in notes)
    if report is not None:
        rows.append(f"  report: {report}")
    return "\n".join(rows)


def bake(
    manifest: str | Path | Manifest,
    out_dir: str | Path,
    options: BakeOptions | None = None,
    *,
    config: Config | None = None,
    stderr: TextIO | None = None,
    animator: Animator | None = None,
    engine_factory: EngineFactory | None = None,
) -> BakeResult:
    """Bake every line of ``manifest`` into ``out_dir`` (see the module docstring).

    ``animator`` (tests, tools) is used instead of a new one when the bake runs in this process
    (one job); ``engine_factory`` makes the emotion-state engine for ``auto`` lines.
    """
    started = time.perf_counter()
    options = options or BakeOptions()
    config = config or Config()
    progress = make_progress(options.progress, stderr if stderr is not None else sys.stderr)
    out = Path(out_dir)
    if not isinstance(manifest, Manifest):
        manifest = load_manifest(manifest, config, allow_outside_inputs=options.allow_outside_inputs)
    validate_s = time.perf_counter() - started
    for problem in manifest.problems:
        progress.problem(problem.to_json())
    if manifest.fatal:
        text = (f"mien bake: {manifest.source}: the manifest cannot be used ({len(manifest.problems)} problem"
                f"{'s' if len(manifest.problems) != 1 else ''}; nothing was baked):\n"
                + "\n".join(f"  {p}" for p in manifest.problems[:_SHOWN])
                + (f"\n  ... and {len(manifest.problems) - _SHOWN} more" if len(manifest.problems) > _SHOWN else ""))
        counts = {status: 0 for status in _STATUSES} | {"lines": 0}
        progress.summary(exit_code=EXIT_UNUSABLE, counts=counts, report="", seconds=time.perf_counter() - started,
                         text=text)
        report = {"manifest": manifest.source, "exit_code": EXIT_UNUSABLE,
                  "problems": [p.to_json() for p in manifest.problems]}
        return BakeResult(EXIT_UNUSABLE, {}, report, text, None)

    try:
        run = _Bake(manifest, out, options, config, progress, animator, engine_factory)
    except MienError as exc:
        text = f"mien bake: {exc}"
        progress.summary(exit_code=EXIT_UNUSABLE, counts={"lines": 0}, report="",
                         seconds=time.perf_counter() - started, text=text)
        return BakeResult(EXIT_UNUSABLE, {}, {"exit_code": EXIT_UNUSABLE, "error": str(exc)}, text, None)
    run.timings["validate_s"] = validate_s
    clashes = run.clashes()
    if clashes:
        text = (f"mien bake: the output folder {out} holds inputs of {manifest.source}; nothing was baked:\n"
                + "\n".join(f"  {c}" for c in clashes[:20])
                + (f"\n  ... and {len(clashes) - 20} more" if len(clashes) > 20 else "")
                + "\n  Fix: choose an output folder (-o) that holds none of the manifest's files (e.g. a new "
                  "folder), or rename the lines")
        progress.summary(exit_code=EXIT_UNUSABLE, counts={"lines": 0}, report="",
                         seconds=time.perf_counter() - started, text=text)
        return BakeResult(EXIT_UNUSABLE, {}, {"exit_code": EXIT_UNUSABLE, "error": text, "clashes": clashes}, text,
                          None)
    if options.dry_run:
        run.cache.load()
        jobs = run.plan()
        run.begin(len(jobs))
        return _finish(run, jobs, started, dry_run=True)
    try:
        run.cache.dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        text = f"mien bake: cannot use the output folder {out}: {exc}"
        progress.summary(exit_code=EXIT_UNUSABLE, counts={"lines": 0}, report="",
                         seconds=time.perf_counter() - started, text=text)
        return BakeResult(EXIT_UNUSABLE, {}, {"exit_code": EXIT_UNUSABLE, "error": text}, text, None)
    try:
        with _locked(run.cache), _closing(run.cache):
            run.cache.prepare()  # now that no other bake can be writing here
            if run.defaults.per_character_glb:
                (run.cache.dir / _CLIPS_DIR).mkdir(exist_ok=True)
            run.cache.load()
            if run.cache.warning:
                run.note(run.cache.warning)
            jobs = run.plan()
            run.cache.save()  # the resolved auto emotions, before any line is baked
            run.begin(len(jobs))
            run.run_jobs(jobs)
            if run.defaults.per_character_glb:
                run.write_characters()
            stale_lines, stale_characters = run.stale()
            if options.prune:
                run.prune(stale_lines, stale_characters)
            elif stale_lines or stale_characters:
                run.note(f"{len(stale_lines) + len(stale_characters)} earlier outputs belong to lines or characters "
                         f"no longer in the manifest ({', '.join([*stale_lines, *stale_characters][:5])}"
                         f"{' ...' if len(stale_lines) + len(stale_characters) > 5 else ''}); --prune deletes them")
            run.cache.save()  # fold the journal into cache.json
            return _finish(run, jobs, started, dry_run=False)
    except (MienError, OSError) as exc:  # another bake holds the folder; the disk is full or read-only
        text = f"mien bake: {exc}"
        progress.summary(exit_code=EXIT_UNUSABLE, counts={"lines": 0}, report="",
                         seconds=time.perf_counter() - started, text=text)
        return BakeResult(EXIT_UNUSABLE, {}, {"exit_code": EXIT_UNUSABLE, "error": str(exc)}, text, None)


def _finish(run: _Bake, jobs: Sequence[_Job], started: float, *, dry_run: bool) -> BakeResult:
    manifest = run.manifest
    order = {lid: i for i, lid in enumerate(manifest.declared_line_ids)}
    outcomes = sorted(run.outcomes.values(), key=lambda o: order.get(o.id, len(order)))
    counts = _counts(run.outcomes)
    characters = [run.characters[c] for c in manifest.characters if c in run.characters]
    failed = (counts["failed"] or counts["cancelled"] or manifest.problems
              or any(c["status"] == "failed" for c in characters))
    exit_code = EXIT_FAILED if failed else EXIT_OK
    seconds = time.perf_counter() - started
    run.timings["total_s"] = seconds
    report: dict[str, Any] = {
        "manifest": manifest.source,
        "out_dir": str(run.out_dir),
        "exit_code": exit_code,
        "dry_run": dry_run,
        "counts": counts,
        "problems": [p.to_json() for p in manifest.problems],
        "lines": [o.to_json() for o in outcomes],
        "characters": characters,
        "notes": run.notes,
        "jobs": run.jobs_used,
        "timings": {k: round(v, 3) for k, v in sorted(run.timings.items())}
        | {"line_cpu_s": round(sum(o.seconds for o in outcomes), 3)},
        "engine": {"mien": mien.__version__, "fingerprint": run.engine,
                   "speech_model": str(run.speech_model) if run.speech_model else None},
    }
    report_path: Path | None = None
    if dry_run:
        report["would_bake"] = [job.line_id for job in jobs]
    else:
        report_path = run.out_dir / REPORT_FILE
        try:
            doc = json.dumps(report, indent=1, ensure_ascii=False)
            atomic_write(report_path, doc.encode("utf-8", "backslashreplace"), run.cache.tmp_dir)  # odd file names
        except OSError as exc:
            run.note(f"cannot write {report_path}: {exc}")
            report_path = None
    text = _summary_text(manifest, run.out_dir, counts, outcomes, characters, seconds, report_path, run.notes)
    if dry_run:
        text += f"\n  dry run: would bake {len(jobs)} line(s): {', '.join(j.line_id for j in jobs[:10])}" + (
            " ..." if len(jobs) > 10 else "")
    run.progress.summary(exit_code=exit_code, counts=counts, report=str(report_path or ""), seconds=seconds,
                         text=text)
    return BakeResult(exit_code, {o.id: o for o in outcomes}, report, text, report_path)

