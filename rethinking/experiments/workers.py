"""Several local worker processes on one sweep (``rethinking run SWEEP --workers N``) or search.

Each worker is a ``rethinking run`` process of its own: it trains its share of the runs first
(``--worker K/N``), then helps with the others'. A run is claimed by exactly one live process (its
``run.lock``): a run another worker holds is left to it, a finished run is skipped, so every run is
trained once; a run whose worker died is taken over by the next start. Workers on one machine get
disjoint resources: with GPUs, their own device(s) (``CUDA_VISIBLE_DEVICES``; more workers than
GPUs share them, with memory growth on); on CPUs, a disjoint set of cores each (CPU affinity:
TensorFlow sizes its thread pools from it). ``rethinking tune --workers N`` starts one keras-tuner
chief and N workers the same way. Plain Python: no TensorFlow in the parent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence


def visible_gpus() -> list[str]:
    """The GPU ids this process may use: ``CUDA_VISIBLE_DEVICES``, else those ``nvidia-smi -L`` lists."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [d for d in listed.split(",") if d.strip() and d.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(line for line in out.splitlines() if line.startswith("GPU "))]


def worker_resources(workers: int, devices_per_worker: int, gpus: Sequence[str],
                     cores: Sequence[int]) -> list[dict[str, object]]:
    """Per worker: ``{"gpus": [...]}`` (round robin when they must share) or ``{"cores": [...]}``.

    Raises:
        ValueError: fewer CPU cores than workers on a machine without GPUs.
    """
    if gpus:
        per = max(1, devices_per_worker)
        return [{"gpus": [gpus[(k * per + j) % len(gpus)] for j in range(per)]} for k in range(workers)]
    cores = sorted(cores)
    if workers > len(cores):
        raise ValueError(f"--workers {workers} needs at least {workers} CPU cores; this machine offers "
                         f"{len(cores)}: use --workers {len(cores)} or fewer.")
    size, extra = divmod(len(cores), workers)
    chunks, start = [], 0
    for k in range(workers):
        end = start + size + (1 if k < extra else 0)
        chunks.append({"cores": cores[start:end]})
        start = end
    return chunks


def _pipe(stream, prefix: str, echo: Callable[[str], None]) -> None:
    for line in iter(stream.readline, ""):
        echo(f"{prefix}{line.rstrip()}")
    stream.close()


def _start(command: Sequence[str], env: dict[str, str], cores: Sequence[int] | None, label: str, what: str,
           echo: Callable[[str], None]) -> tuple[subprocess.Popen, threading.Thread]:
    """One child process whose output lines are echoed with ``[label]`` in front."""
    process = subprocess.Popen(  # noqa: S603 (our own command)
        list(command), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        preexec_fn=(lambda c=cores: os.sched_setaffinity(0, c)) if cores else None)  # noqa: PLW1509
    echo(f"[{label}] started (pid {process.pid}, {what})")
    thread = threading.Thread(target=_pipe, args=(process.stdout, f"[{label}] ", echo), daemon=True)
    thread.start()
    return process, thread


@contextlib.contextmanager
def _stopped_by_sigterm() -> Iterator[None]:
    """Within: SIGTERM (a scheduler's or ``kill``'s stop) acts on this parent as Ctrl-C does, so its
    workers are stopped too instead of being left running without it."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (e.g. a test runner's): nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_status(code: int) -> int:
    """A child's exit status as a shell reports it: a death by signal N is 128 + N (SIGKILL: 137)."""
    return 128 - code if code < 0 else code


def _ending(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"ended with status {code}"


def _wait(processes: Sequence[tuple[subprocess.Popen, threading.Thread]],
          restart: Callable[[int], tuple[subprocess.Popen, threading.Thread]] | None = None,
          echo: Callable[[str], None] = print, poll_seconds: float = 0.2) -> int:
    """Waits for every process, reaping each as it ends (stopping them all on Ctrl-C or SIGTERM).

    Reaped at once, a dead worker leaves no zombie whose PID would keep its run's lock looking
    alive. A worker that failed or was killed is replaced once by ``restart(K)`` (the same share),
    which takes over its runs: their locks are stale now.

    Returns:
        The largest exit status (``exit_status``) of any worker that did not succeed, else 0.
    """
    live = dict(enumerate(processes))
    replaced: set[int] = set()
    worst = 0
    try:
        with _stopped_by_sigterm():
            while live:
                for k, (process, thread) in list(live.items()):
                    code = process.poll()
                    if code is None:
                        continue
                    del live[k]
                    thread.join(timeout=10)
                    if code == 0:
                        continue
                    worst = max(worst, exit_status(code))
                    if restart is not None and k not in replaced:
                        replaced.add(k)
                        echo(f"[worker {k}] {_ending(code)}; a replacement takes over its runs")
                        live[k] = restart(k)
                    else:
                        echo(f"[worker {k}] {_ending(code)}")
                if live:
                    time.sleep(poll_seconds)
    except KeyboardInterrupt:
        _stop([process for process, _ in live.values()])
        raise
    return worst


def _worker_env(resource: dict[str, object], shared_gpus: bool) -> tuple[dict[str, str], list[int] | None, str]:
    """A worker's environment, CPU cores (or None) and a description of what it got."""
    env = dict(os.environ)
    if "gpus" in resource:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(resource["gpus"])  # type: ignore[arg-type]
        if shared_gpus:
            env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"  # several workers on one GPU: memory as needed
        return env, None, f"GPU {env['CUDA_VISIBLE_DEVICES']}"
    cores = list(resource["cores"])  # type: ignore[call-overload]
    return env, cores, f"cores {cores[0]}-{cores[-1]}"


def _worker_envs(workers: int, devices_per_worker: int) -> list[tuple[dict[str, str], list[int] | None, str]]:
    """Per worker on this machine: its environment, CPU cores (or None) and what it got."""
    gpus = visible_gpus()
    resources = worker_resources(workers, devices_per_worker, gpus, sorted(os.sched_getaffinity(0)))
    return [_worker_env(resource, workers * devices_per_worker > len(gpus)) for resource in resources]


def run_workers(args: Sequence[str], workers: int, devices_per_worker: int = 1,
                echo: Callable[[str], None] = print) -> int:
    """Starts ``workers`` processes of ``rethinking run ARGS --worker K/N`` and waits for them.

    A worker that dies (killed, out of memory) is replaced once by a worker of the same share, so
    its runs are still trained; the sweep then exits non-zero all the same, naming what happened.

    Returns:
        The largest exit status of the workers (0 when every one succeeded; 137 for SIGKILL).
    """
    slots = _worker_envs(workers, devices_per_worker)

    def start(k: int, label: str) -> tuple[subprocess.Popen, threading.Thread]:
        env, cores, what = slots[k]
        command = [sys.executable, "-m", "rethinking.cli", "run", *args, "--worker", f"{k}/{workers}"]
        return _start(command, env, cores, label, what, echo)

    processes = [start(k, f"worker {k}") for k in range(len(slots))]
    return _wait(processes, restart=lambda k: start(k, f"worker {k}"), echo=echo)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the operating system's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


CHIEF_GONE = 3  # exit status of a search worker whose chief stopped answering (the search may be over)


def tune_workers(args: Sequence[str], workers: int, devices_per_worker: int = 1,
                 echo: Callable[[str], None] = print, poll_seconds: float = 0.5) -> int:
    """Runs one keras-tuner search as a chief and ``workers`` worker processes on this machine.

    The chief (``KERASTUNER_TUNER_ID=chief``) holds the search's state and hands out trials over
    gRPC on 127.0.0.1; the workers (``tuner0``, ``tuner1``, ...) train them, each on its own
    GPU(s) or CPU cores. The chief gets no GPU: it trains nothing. The chief ends the search: once
    it has ended, workers still starting have nothing to do and are stopped, and a worker that
    lost the chief (exit status ``CHIEF_GONE``) is not a failure. A worker that fails otherwise
    stops the search (its trial would keep the chief waiting); rerunning resumes it.

    Returns:
        The chief's exit status, or a failed worker's.
    """
    envs = _worker_envs(workers, devices_per_worker)  # before the chief: too many workers fail here, not later
    address = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(free_port())}
    command = [sys.executable, "-m", "rethinking.cli", "tune", *args]
    chief_env = {**os.environ, **address, "KERASTUNER_TUNER_ID": "chief", "CUDA_VISIBLE_DEVICES": ""}
    chief = _start(command, chief_env, None, "chief", f"port {address['KERASTUNER_ORACLE_PORT']}", echo)
    tuners = []
    for k, (env, cores, what) in enumerate(envs):
        env.update(address, KERASTUNER_TUNER_ID=f"tuner{k}")
        tuners.append(_start(command, env, cores, f"tuner{k}", what, echo))
    everyone = [chief, *tuners]
    try:
        with _stopped_by_sigterm():
            code = _watch_search(chief[0], [process for process, _ in tuners], poll_seconds)
            if code == 0:  # workers that got the chief's "stop" are ending; give them time to say so
                _wait_quietly([process for process, _ in tuners], seconds=15.0)
    finally:
        _stop([process for process, _ in everyone])
    for _, thread in everyone:
        thread.join(timeout=10)
    return code


def _watch_search(chief: subprocess.Popen, tuners: Sequence[subprocess.Popen], poll_seconds: float) -> int:
    """Waits until the chief ends (its status) or a worker fails (its status)."""
    while True:
        if chief.poll() is not None:
            return chief.returncode
        failed = [p.returncode for p in tuners if p.poll() not in (None, 0, CHIEF_GONE)]
        if failed:
            return failed[0]
        time.sleep(poll_seconds)


def _wait_quietly(processes: Sequence[subprocess.Popen], seconds: float) -> None:
    """Waits up to ``seconds`` in all for the processes to end by themselves."""
    deadline = time.monotonic() + seconds
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return


def _stop(processes: Sequence[subprocess.Popen], grace_seconds: float = 10.0) -> None:
    """Terminates the processes still running (killing those that outlive ``grace_seconds``)."""
    alive = [p for p in processes if p.poll() is None]
    for process in alive:
        process.terminate()
    for process in alive:
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
