"""Time one optimizer step of optbook's from-scratch optimizers against torch.optim's.

Not a test: a benchmark, run side by side in one process. Both optimizers step the same
model of about one million parameters (an MLP with weights and biases, 8 tensors) with
fixed gradients. The rounds alternate between them, and the ratio of the medians is
printed: ``ratio = optbook / torch``.

On the CPU, torch runs its default path, the per-tensor loop (foreach and fused are off
on the CPU by default): the goal there is a ratio of at most 1.2.

On a GPU (``--device cuda``, the default when CUDA is present) torch's default is the
multi-tensor ``foreach`` path, and ``fused=True`` is faster still. optbook writes the
per-tensor loop that the chapters derive: one small kernel per tensor and per operation,
against a few kernels over all tensors at once. The GPU run shows the price for 8 to 200
tensors (the same million parameters, split into more tensors); there is no goal.

    .venv/bin/python benchmarks/bench_optimizers.py [--rounds 30] [--only Adam,NAdam]
    .venv/bin/python benchmarks/bench_optimizers.py --device cuda [--tensors 8,50,200]
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
# AdaBelief's reference is the authors' package (in the book's environment only)
try:
    from adabelief_pytorch import AdaBelief as AuthorsAdaBelief

    CASES.append(
        ("adabelief", "AdaBelief", AuthorsAdaBelief, {"print_change_log": False})
    )
    CASES.append(
        (
            "adabelief",
            "AdaBelief",
            AuthorsAdaBelief,
            {"print_change_log": False, "rectify": False, "weight_decouple": False},
        )
    )
except ImportError:
    pass


def make_parameters(
    seed: int = 0, tensors: int = 8, device: str = "cpu"
) -> list[torch.Tensor]:
    """About a million parameters: the MLP's 8 tensors, or the same split into more."""
    generator = torch.Generator().manual_seed(seed)
    sizes = [512, 1024, 512, 256, 10]
    shapes = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        shapes += [(fan_out, fan_in), (fan_out,)]
    if tensors != len(shapes):
        total = sum(torch.Size(shape).numel() for shape in shapes)
        shapes = [(total // tensors,)] * tensors
    params = []
    for shape in shapes:
        p = torch.randn(shape, generator=generator) * 0.05
        grad = torch.randn(shape, generator=generator) * 1e-2
        p, grad = p.to(device), grad.to(device)
        p.grad = grad
        params.append(p)
    return params


def time_steps(optimizer: torch.optim.Optimizer, steps: int, device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.step()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def bench(contenders: dict, rounds: int, steps: int, device: str) -> dict[str, float]:
    """The median time of one step of each optimizer, the rounds alternating."""
    for optimizer in contenders.values():  # warm up: state allocated, caches hot
        time_steps(optimizer, 3, device)
    times: dict[str, list[float]] = {key: [] for key in contenders}
    for _ in range(rounds):
        for key, optimizer in contenders.items():
            times[key].append(time_steps(optimizer, steps, device))
    return {key: statistics.median(values) for key, values in times.items()}


def label_of(name: str, options: dict) -> str:
    shown = {k: v for k, v in options.items() if k != "print_change_log"}
    return name + (f" {shown}" if shown else "")


def run_cpu(args: argparse.Namespace) -> None:
    count = sum(p.numel() for p in make_parameters())
    print(
        f"model: {count:,} parameters in {len(make_parameters())} tensors; torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads; median of "
        f"{args.rounds} rounds x {args.steps} steps"
    )
    print(f"{'optimizer':<32} {'optbook ms':>11} {'torch ms':>9} {'ratio':>6}")
    worst = 0.0
    for module, name, reference, options in CASES:
        if args.only and name not in args.only.split(","):
            continue
        ours_class = getattr(
            importlib.import_module(f"optbook.optimizers.{module}"), name
        )
        times = bench(
            {
                "optbook": ours_class(make_parameters(), **options),
                "torch": reference(make_parameters(), **options),
            },
            args.rounds,
            args.steps,
            "cpu",
        )
        ratio = times["optbook"] / times["torch"]
        worst = max(worst, ratio)
        print(
            f"{label_of(name, options):<32} {times['optbook'] * 1e3:>11.3f} "
            f"{times['torch'] * 1e3:>9.3f} {ratio:>6.2f}"
        )
    print(f"worst ratio optbook/torch: {worst:.2f} (goal <= 1.2)")


def run_cuda(args: argparse.Namespace) -> None:
    print(
        f"GPU: {torch.cuda.get_device_name()}; torch {torch.__version__}; median of "
        f"{args.rounds} rounds x {args.steps} steps; about 1.0 M parameters"
    )
    print(
        f"{'optimizer':<28} {'tensors':>7} {'optbook':>9} {'foreach':>9} "
        f"{'fused':>9} {'/foreach':>8} {'/fused':>7}"
    )
    for module, name, reference, options in CASES:
        if args.only and name not in args.only.split(","):
            continue
        if reference.__module__.startswith("adabelief"):
            continue  # the authors' package has no multi-tensor path to compare with
        ours_class = getattr(
            importlib.import_module(f"optbook.optimizers.{module}"), name
        )
        for tensors in [int(n) for n in args.tensors.split(",")]:

            def params(t=tensors):
                return make_parameters(tensors=t, device="cuda")

            contenders = {
                "optbook": ours_class(params(), **options),
                "foreach": reference(params(), **options, foreach=True),
            }
            try:
                fused = reference(params(), **options, fused=True)
                fused.step()  # some refuse CUDA only at the first step (Adagrad)
                contenders["fused"] = fused
            except (RuntimeError, TypeError, ValueError):
                pass  # no fused kernel for this optimizer or option
            times = bench(contenders, args.rounds, args.steps, "cuda")
            fused = times.get("fused")
            print(
                f"{label_of(name, options):<28} {tensors:>7} "
                f"{times['optbook'] * 1e3:>8.3f}ms {times['foreach'] * 1e3:>7.3f}ms "
                + (f"{fused * 1e3:>7.3f}ms" if fused else f"{'-':>9}")
                + f" {times['optbook'] / times['foreach']:>8.1f}"
                + (f" {times['optbook'] / fused:>7.1f}" if fused else f" {'-':>7}")
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--steps", type=int, default=5, help="steps per timed round")
    parser.add_argument("--only", default="", help="comma-separated class names")
    parser.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default="cuda" if torch.cuda.is_available() else "cpu",
    )
    parser.add_argument(
        "--tensors",
        default="8,50,200",
        help="GPU only: the numbers of tensors to split the model into",
    )
    args = parser.parse_args()
    if args.device == "cuda":
        run_cuda(args)
    else:
        run_cpu(args)


if __name__ == "__main__":
    main()
