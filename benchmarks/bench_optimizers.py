"""Time one optimizer step of optbook's from-scratch optimizers against torch.optim's.

Not a test: a benchmark, run side by side in one process. Both optimizers step the same model
of about one million parameters (an MLP with weights and biases, 8 tensors) with fixed
gradients; torch runs its default CPU path (the per-tensor loop: foreach and fused are off on
the CPU by default). The rounds alternate between the two, and the ratio of the medians is
printed: ``ratio = optbook / torch`` (the goal is at most 1.2).

    .venv/bin/python benchmarks/bench_optimizers.py [--rounds 30] [--only Adam,NAdam]
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time

import torch

# (optbook module, class, torch reference, constructor options)
CASES = [
    ("sgd", "SGD", torch.optim.SGD, {"lr": 1e-2, "momentum": 0.9}),
    ("adagrad", "Adagrad", torch.optim.Adagrad, {}),
    ("rmsprop", "RMSprop", torch.optim.RMSprop, {}),
    ("rmsprop", "RMSprop", torch.optim.RMSprop, {"centered": True, "momentum": 0.9}),
    ("adam", "Adam", torch.optim.Adam, {}),
    ("adam", "Adam", torch.optim.Adam, {"amsgrad": True}),
    ("adamw", "AdamW", torch.optim.AdamW, {}),
    ("adamax", "Adamax", torch.optim.Adamax, {}),
    ("nadam", "NAdam", torch.optim.NAdam, {}),
]
try:  # AdaBelief's reference is the authors' package (in the book's environment, not optbook's)
    from adabelief_pytorch import AdaBelief as AuthorsAdaBelief

    CASES.append(("adabelief", "AdaBelief", AuthorsAdaBelief, {"print_change_log": False}))
    CASES.append(("adabelief", "AdaBelief", AuthorsAdaBelief,
                  {"print_change_log": False, "rectify": False, "weight_decouple": False}))
except ImportError:
    pass


def make_parameters(seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    sizes = [512, 1024, 512, 256, 10]
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        for shape in ((fan_out, fan_in), (fan_out,)):
            p = torch.randn(shape, generator=generator) * 0.05
            p.grad = torch.randn(shape, generator=generator) * 1e-2
            params.append(p)
    return params


def time_steps(optimizer: torch.optim.Optimizer, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.step()
    return (time.perf_counter() - start) / steps


def bench(module: str, name: str, reference: type, options: dict, rounds: int, steps: int) -> tuple[float, float]:
    ours_class = getattr(importlib.import_module(f"optbook.optimizers.{module}"), name)
    optimizers = {"optbook": ours_class(make_parameters(), **options),
                  "torch": reference(make_parameters(), **options)}
    for optimizer in optimizers.values():  # warm up: state allocated, caches hot
        time_steps(optimizer, 3)
    times: dict[str, list[float]] = {key: [] for key in optimizers}
    for _ in range(rounds):
        for key, optimizer in optimizers.items():
            times[key].append(time_steps(optimizer, steps))
    return statistics.median(times["optbook"]), statistics.median(times["torch"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--steps", type=int, default=5, help="steps per timed round")
    parser.add_argument("--only", default="", help="comma-separated class names")
    args = parser.parse_args()
    count = sum(p.numel() for p in make_parameters())
    print(f"model: {count:,} parameters in {len(make_parameters())} tensors; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; median of {args.rounds} rounds x {args.steps} steps")
    print(f"{'optimizer':<32} {'optbook ms':>11} {'torch ms':>9} {'ratio':>6}")
    worst = 0.0
    for module, name, reference, options in CASES:
        if args.only and name not in args.only.split(","):
            continue
        try:
            ours, theirs = bench(module, name, reference, options, args.rounds, args.steps)
        except (ImportError, AttributeError) as error:
            print(f"{name:<32} skipped ({error})")
            continue
        shown = {k: v for k, v in options.items() if k != "print_change_log"}
        label = name + (f" {shown}" if shown else "")
        ratio = ours / theirs
        worst = max(worst, ratio)
        print(f"{label:<32} {ours * 1e3:>11.3f} {theirs * 1e3:>9.3f} {ratio:>6.2f}")
    print(f"worst ratio optbook/torch: {worst:.2f} (goal <= 1.2)")


if __name__ == "__main__":
    main()
