"""bf16 autocast against float32 on this machine, and what learned-aug chooses by default.

Times training steps of the evaluation classifier (``ConvNet`` at three widths, batch 64 of
28x28 digits, Adam) and of the generators ``fit`` trains (the VAE and the 10-member per-class
VAE of the README's main job, batch 64): float32 and bf16 autocast alternate round by round
and each keeps its best round (``learned_aug.precision.autocast_speedup``), so load from other
processes hits both alike.

    python benchmarks/bench_precision.py            # a table; --write updates docs/benchmarks.md
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from _docs import bench_args, markdown_table, parse, publish

from learned_aug import create_generator, load_dataset
from learned_aug.evaluation import ConvNet
from learned_aug.precision import choose_autocast, cpu_model, native_bf16


def classifier_steps(width: int, x, y):
    """A step factory for the protocol's ConvNet of ``width`` on the batch ``(x, y)``."""

    def make(bf16: bool):
        torch.manual_seed(0)
        model = ConvNet((1, 28, 28), 10, width=width).to(memory_format=torch.channels_last)
        opt = torch.optim.Adam(model.parameters())
        xb = x.contiguous(memory_format=torch.channels_last)

        def step():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(xb).float()
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return step

    return make


def generator_steps(per_class: bool, data, x, y):
    """A step factory for the VAE (latent 3, as the README job) ``fit`` builds for ``data``."""

    def make(bf16: bool):
        torch.manual_seed(0)
        model = create_generator(
            "vae", data.sample_shape, data.classes, per_class=per_class, latent_dim=3
        )
        opt = torch.optim.Adam(model.parameters())

        def step():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = model.loss(x, y)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return step

    return make


def measure(rounds: int, steps: int, batch: int) -> list[tuple[str, float, float]]:
    """``(workload, float32 steps/s, bf16 steps/s)`` rows."""
    data = load_dataset("mnist-5k")
    x, y = data.x[:batch], data.y[:batch]
    jobs = {f"ConvNet width {w}": classifier_steps(w, x, y) for w in (16, 32, 64)}
    jobs["fit: VAE"] = generator_steps(False, data, x, y)
    jobs["fit: per-class VAE (10 members)"] = generator_steps(True, data, x, y)
    rows = []
    for name, make in jobs.items():
        step32, step16 = make(False), make(True)
        best = {False: float("inf"), True: float("inf")}
        for _ in range(rounds):
            for bf16, step in ((False, step32), (True, step16)):
                best[bf16] = min(best[bf16], _seconds(step, steps))
        rows.append((name, 1 / best[False], 1 / best[True]))
        print(f"{name}: float32 {1 / best[False]:.2f} steps/s, bf16 {1 / best[True]:.2f}")
    return rows


def _seconds(step, steps: int) -> float:
    """Seconds per step after one untimed warm-up step (oneDNN picks kernels on the first)."""
    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def table(rows, batch: int) -> str:
    choice = choose_autocast("cpu")
    flags = ", ".join(native_bf16()) or "none"
    cells = [
        [name, f"{fp32:.2f}", f"{bf16:.2f}", f"{bf16 / fp32:.2f}x"] for name, fp32, bf16 in rows
    ]
    header = ["workload", "float32 (steps/s)", "bf16 autocast (steps/s)", "bf16 / float32"]
    return "\n\n".join(
        [
            f"CPU: {cpu_model()}; native bf16 flags: {flags}; "
            "torch.backends.cpu.get_cpu_capability(): "
            f"{torch.backends.cpu.get_cpu_capability()}; {torch.get_num_threads()} threads. "
            f"Training steps per second, batch {batch} of 28x28 MNIST digits, Adam; best round "
            "of each.",
            markdown_table(header, cells),
            "Default chosen here (`learned_aug.precision.choose_autocast`): "
            f"{'bf16 autocast' if choice.enabled else 'float32'} ({choice.reason}).",
        ]
    )


def main() -> None:
    parser = bench_args(__doc__, threads=2, rounds=3)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    args = parse(parser)
    print(f"CPU {cpu_model()}, {torch.get_num_threads()} threads", flush=True)
    text = table(measure(args.rounds, args.steps, args.batch), args.batch)
    publish(text, "bf16 autocast against float32", args.write)


if __name__ == "__main__":
    main()
