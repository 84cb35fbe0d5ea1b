"""``mien bake --executor dask``: one bake across a Dask cluster (the optional ``distributed`` extra).

The bake process plans, restores from line stores and writes every file exactly as with local workers (the
same :meth:`runner._Bake.write_line`); only the computation of the lines moves: each line is a Dask task that
returns the line's files' bytes. A worker loads one Animator per engine (the first task it gets) and keeps it.

* ``--scheduler tcp://host:8786``: an existing cluster (``dask scheduler`` and ``dask worker`` on the machines,
  each with the same Mien installed). The audio travels with each task, so workers need no shared folder.
  A worker whose Mien engine differs from the bake's (another version, other code, another model: the engine
  fingerprint of :mod:`.cache`) fails its lines with a message saying so, instead of baking different files.
* no address: a local cluster of ``--jobs`` worker processes (what the tests run).

At most two tasks per worker are in flight, so the bake process holds only their audio, whatever the manifest's
size. Ctrl-C cancels the tasks not yet finished; finished lines are kept (a rerun resumes).
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mien.config import NeuralConfig
from mien.errors import MienError
from mien.files import read_limited

from .cache import canonical_json, engine_fingerprint, sha256_hex
from .runner import _Failed, _Job, _Outcome, _Setup, _Worker, find_speech_model

__all__ = ["run_on_dask"]

_INFLIGHT_PER_WORKER = 2
_CONNECT_TIMEOUT_S = 30
_BUNDLED = "<bundled>"
"""In the setup sent to workers: the neural model bundled with Mien (each worker's own installed copy)."""
_WORKERS: dict[str, _Worker] = {}
"""In each Dask worker process: the loaded animator per engine fingerprint."""


def _bake_remote(setup: _Setup, job: _Job, engine: str) -> _Outcome:
    """A Dask task: one line, on whatever machine the scheduler picked."""
    worker = _WORKERS.get(engine)
    if worker is None:
        model: Path | None = None
        if setup.speech_model == _BUNDLED:  # this machine's own copy of the bundled model
            model = find_speech_model(dataclasses.replace(setup.config, neural=NeuralConfig()))
        elif setup.speech_model:
            model = Path(setup.speech_model)
        local = dataclasses.replace(setup, speech_model=str(model) if model else None)
        mine = sha256_hex(canonical_json(engine_fingerprint(setup.config, model)))
        if mine != engine:
            return _Failed(job.line_id, f"the Dask worker on {socket.gethostname()} runs another Mien engine than "
                           f"the bake (fingerprint {mine[:12]}, the bake's {engine[:12]}: another Mien version, "
                           "code or neural model); install the same Mien on every worker")
        worker = _WORKERS[engine] = _Worker(local)
    return worker.bake(job)


def _with_audio(job: _Job, setup: _Setup) -> _Job:
    with open(job.audio_path, "rb") as handle:
        data = read_limited(handle, setup.config.limits.max_message_bytes, str(job.meta["audio"]))
    return dataclasses.replace(job, audio=data)


def run_on_dask(setup: _Setup, jobs: Sequence[_Job], handle: Callable[[_Job, _Outcome], bool], *, address: str,
                workers: int, engine: str) -> list[_Job]:
    """Bake ``jobs`` on a Dask cluster; ``handle`` gets each outcome (False stops). Returns the jobs never run."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise MienError("--executor dask needs Dask: pip install 'mien[distributed]' (dask[distributed])") from None
    model = setup.speech_model
    if model and not setup.config.neural.model:
        model = _BUNDLED
    remote_setup = dataclasses.replace(setup, speech_model=model, worker_log=None, parent_pid=0, inherited_fds=())
    cluster: Any = None
    try:
        if address:
            client = Client(address, timeout=_CONNECT_TIMEOUT_S)
        else:
            cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.WARNING)
            client = Client(cluster)
    except OSError as exc:
        raise MienError(f"cannot reach the Dask scheduler {address or '(local cluster)'}: {exc}") from None
    pending = deque(jobs)
    inflight: dict[Any, _Job] = {}
    stop = False
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})) or workers)
        [setup_future] = client.scatter([remote_setup], broadcast=True)
        done = as_completed()

        def submit() -> None:
            job = pending.popleft()
            try:
                shipped = _with_audio(job, setup)
            except (OSError, MienError) as exc:
                stop_now = not handle(job, _Failed(job.line_id, f"cannot read {job.meta['audio']}: {exc}"))
                if stop_now:
                    raise _Stop from None
                return
            future = client.submit(_bake_remote, setup_future, shipped, engine, pure=False,
                                   key=f"mien-bake-{job.line_id}-{sha256_hex(job.line_id.encode())[:8]}")
            inflight[future] = job
            done.add(future)

        try:
            while pending and len(inflight) < _INFLIGHT_PER_WORKER * n_workers:
                submit()
            for future in done:
                job = inflight.pop(future)
                try:
                    outcome = future.result()
                except Exception as exc:  # noqa: BLE001 - a lost worker or a task error fails this line only
                    outcome = _Failed(job.line_id, f"the Dask task failed ({type(exc).__name__}: {exc})")
                if not handle(job, outcome):
                    stop = True
                    break
                while pending and len(inflight) < _INFLIGHT_PER_WORKER * n_workers:
                    submit()
        except _Stop:
            stop = True
        if stop:
            client.cancel(list(inflight))
        return [*inflight.values(), *pending] if stop else []
    except BaseException:
        client.cancel(list(inflight))
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


class _Stop(Exception):
    """--fail-fast: a line failed before its task was submitted."""
