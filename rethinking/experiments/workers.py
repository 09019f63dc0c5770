"""Several local worker processes on one sweep (``rethinking run SWEEP --workers N``).

Each worker is a ``rethinking run`` process of its own: it trains its share of the runs first
(``--worker K/N``), then helps with the others'. A run is claimed by exactly one live process (its
``run.lock``): a run another worker holds is left to it, a finished run is skipped, so every run is
trained once; a run whose worker died is taken over by the next start. Workers on one machine get
disjoint resources: with GPUs, their own device(s) (``CUDA_VISIBLE_DEVICES``; more workers than
GPUs share them, with memory growth on); on CPUs, a disjoint set of cores each (CPU affinity:
TensorFlow sizes its thread pools from it). Plain Python: no TensorFlow in the parent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence


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


def run_workers(args: Sequence[str], workers: int, devices_per_worker: int = 1,
                echo: Callable[[str], None] = print) -> int:
    """Starts ``workers`` processes of ``rethinking run ARGS --worker K/N`` and waits for them.

    Returns:
        The largest exit status of the workers (0 when every one succeeded).
    """
    gpus = visible_gpus()
    resources = worker_resources(workers, devices_per_worker, gpus, sorted(os.sched_getaffinity(0)))
    processes = []
    for k, resource in enumerate(resources):
        env = dict(os.environ)
        cores = resource.get("cores")
        if "gpus" in resource:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(resource["gpus"])  # type: ignore[arg-type]
            if workers * devices_per_worker > len(gpus):
                env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"  # several workers on one GPU: memory as needed
        command = [sys.executable, "-m", "rethinking.cli", "run", *args, "--worker", f"{k}/{workers}"]
        process = subprocess.Popen(  # noqa: S603 (our own command)
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
            preexec_fn=(lambda c=cores: os.sched_setaffinity(0, c)) if cores else None)  # noqa: PLW1509
        what = f"GPU {','.join(resource['gpus'])}" if "gpus" in resource else f"cores {cores[0]}-{cores[-1]}"  # type: ignore[index]
        echo(f"[worker {k}] started (pid {process.pid}, {what})")
        thread = threading.Thread(target=_pipe, args=(process.stdout, f"[worker {k}] ", echo), daemon=True)
        thread.start()
        processes.append((process, thread))
    try:
        codes = [process.wait() for process, _ in processes]
    except KeyboardInterrupt:
        for process, _ in processes:
            process.terminate()
        raise
    for _, thread in processes:
        thread.join(timeout=10)
    return max(codes, default=0)
