"""Mixed precision (``amp``): is autocast faster on this machine?

bf16 autocast halves the arithmetic of convolutions and matrix products where the hardware has
bf16 units: CUDA GPUs of compute capability 8.0 and later, x86 CPUs with AVX512-BF16 or AMX,
Arm CPUs with the BF16 extension. A CPU without them (a plain AVX2 machine) emulates bf16, and a
training step then runs several times *slower* than in float32 (docs/benchmarks.md measures
it). So ``fit`` and ``learned-aug evaluate`` turn autocast on by default only where it pays,
decided in this order:

1. an explicit choice: the caller's ``amp=`` (``--fp32`` / ``--bf16`` on the command line),
   then the environment variable ``LEARNED_AUG_BF16`` (``1``/``0``);
2. CUDA: on (for bf16, where the GPU has bf16 units); other accelerators: off;
3. a CPU without native bf16 (none of the flags in ``NATIVE_BF16_FLAGS``): off, at no cost;
4. a CPU with them: a few timed steps of the real workload in both precisions, once per CPU
   model, torch version and workload; the verdict is kept for the process and in a small JSON
   file under the user cache directory (``LEARNED_AUG_CACHE``, else ``$XDG_CACHE_HOME`` or
   ``~/.cache``, then ``learned-aug/precision.json``), so the next run decides at once and the
   same way.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

ENV_VAR = "LEARNED_AUG_BF16"
CACHE_ENV_VAR = "LEARNED_AUG_CACHE"
# /proc/cpuinfo flags of native bf16 arithmetic: x86 AVX512-BF16 and AMX, the Arm BF16 extension.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_decided: dict[str, bool] = {}  # this process's verdicts, by cache key

# Builds one training step in float32 (amp=False) or under bf16 autocast (amp=True).
StepFactory = Callable[[bool], Callable[[], object]]


@dataclass(frozen=True)
class PrecisionChoice:
    """Whether to train under autocast, and why (commands print the reason).

    Example:
        >>> from learned_aug.precision import choose_autocast
        >>> choice = choose_autocast("cpu", override=False)
        >>> choice.enabled, choice.reason
        (False, 'asked for float32')
    """

    enabled: bool
    reason: str


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:  # not Linux
        return ""


def cpu_model() -> str:
    """The CPU's name (``model name`` in /proc/cpuinfo), else what ``platform`` knows."""
    for line in _cpuinfo().splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (x86 ``flags``, Arm ``Features``); empty where unknown."""
    for line in _cpuinfo().splitlines():
        key = line.split(":", 1)[0].strip().lower()
        if key in ("flags", "features"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def native_bf16(flags: frozenset[str] | None = None) -> list[str]:
    """The native bf16 flags among ``flags`` (default: this CPU's), sorted."""
    return sorted(NATIVE_BF16_FLAGS & (cpu_flags() if flags is None else flags))


def env_override() -> bool | None:
    """``LEARNED_AUG_BF16`` as a bool, or None when unset or empty."""
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if not value:
        return None
    if value in _TRUE + _FALSE:
        return value in _TRUE
    raise ValueError(
        f"{ENV_VAR}={os.environ[ENV_VAR]!r} is not understood; accepted: "
        f"{', '.join(_TRUE)} (autocast on) or {', '.join(_FALSE)} (float32), or unset"
    )


def cache_path() -> Path:
    """The JSON file that keeps measured verdicts across processes."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]) / "precision.json"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "learned-aug" / "precision.json"


def cache_key(workload: str) -> str:
    """What a verdict depends on: the CPU model, the torch version and the workload."""
    return f"{cpu_model()} | torch {torch.__version__} | {workload}"


def autocast_speedup(make_step: StepFactory, *, rounds: int = 3, steps: int = 3) -> float:
    """float32 seconds per step over bf16-autocast seconds per step (> 1: bf16 is faster).

    The two precisions alternate round by round and each keeps its best round, so load from
    other processes hits both alike. Each round starts with one untimed warm-up step.
    """
    best = {False: float("inf"), True: float("inf")}
    runs = {amp: make_step(amp) for amp in (False, True)}
    for _ in range(rounds):
        for amp, step in runs.items():
            step()  # warm-up: oneDNN picks its kernels on the first call of a shape
            start = time.perf_counter()
            for _ in range(steps):
                step()
            best[amp] = min(best[amp], (time.perf_counter() - start) / steps)
    return best[False] / best[True]


def _read_cache(path: Path) -> dict[str, bool]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, bool)} if isinstance(data, dict) else {}


def _write_cache(path: Path, key: str, value: bool) -> None:
    data = _read_cache(path)
    data[key] = value
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, path)
    except OSError:  # a read-only home: the verdict still holds for this process
        pass


def measured_verdict(workload: str, make_step: StepFactory, *, threshold: float = 1.1) -> bool:
    """Whether bf16 autocast beats float32 by ``threshold`` on ``workload``: from this
    process's memory, else from the cache file, else timed now and remembered in both."""
    key = cache_key(workload)
    if key not in _decided:
        path = cache_path()
        cached = _read_cache(path).get(key)
        if cached is None:
            cached = autocast_speedup(make_step) >= threshold
            _write_cache(path, key, cached)
        _decided[key] = cached
    return _decided[key]


def choose_autocast(
    device: str | torch.device,
    *,
    override: bool | None = None,
    dtype: torch.dtype = torch.bfloat16,
    workload: str | None = None,
    make_step: StepFactory | None = None,
    flags: frozenset[str] | None = None,
) -> PrecisionChoice:
    """Whether to run ``workload`` on ``device`` under autocast of ``dtype`` (see the module).

    Args:
        device: where the work runs.
        override: True/False decides; None chooses.
        dtype: the autocast dtype (``torch.float16`` is always fast on CUDA).
        workload: names what ``make_step`` times, for the cache (``"PaperCNN 0.5 1x28x28 b32"``).
        make_step: builds one training step in either precision (see ``autocast_speedup``);
            None trusts the CPU flags without timing.
        flags: the CPU flags to judge (default: this CPU's); tests pass their own.

    Returns:
        A ``PrecisionChoice``: the decision and its reason.
    """
    if override is not None:
        return PrecisionChoice(bool(override), f"asked for {'autocast' if override else 'float32'}")
    if env_override() is not None:
        return PrecisionChoice(bool(env_override()), f"{ENV_VAR}={os.environ[ENV_VAR]}")
    device = torch.device(device)
    if device.type == "cuda":
        fast = dtype != torch.bfloat16 or torch.cuda.is_bf16_supported(including_emulation=False)
        return PrecisionChoice(fast, "CUDA" if fast else "this GPU has no bf16 units")
    if device.type != "cpu":
        return PrecisionChoice(False, f"no autocast default for {device.type}")
    native = native_bf16(flags)
    if not native:
        return PrecisionChoice(False, "the CPU has no native bf16 (AVX512-BF16/AMX): float32")
    if make_step is None or workload is None:
        return PrecisionChoice(True, f"native bf16 on the CPU ({', '.join(native)})")
    fast = measured_verdict(workload, make_step)
    return PrecisionChoice(fast, f"bf16 measured {'faster' if fast else 'not faster'} here")


def training_steps(
    model: torch.nn.Module, loss_of: Callable[[torch.nn.Module], torch.Tensor], device_type: str
) -> StepFactory:
    """A ``StepFactory`` of Adam steps on ``loss_of(copy)``, for a fresh copy of ``model`` per
    precision: the model itself and the global random state are left as they were."""

    def make(amp: bool) -> Callable[[], None]:
        twin = copy.deepcopy(model).train()
        opt = torch.optim.Adam(twin.parameters())

        def step() -> None:
            with torch.random.fork_rng(devices=[]):
                with torch.autocast(device_type, dtype=torch.bfloat16, enabled=amp):
                    loss = loss_of(twin)
                opt.zero_grad(set_to_none=True)
                loss.float().backward()
                opt.step()

        return step

    return make
