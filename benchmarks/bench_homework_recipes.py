"""Part A of the homework: the yardstick recipes, a learning-rate sweep, the reference.

Not a test: a benchmark. Every recipe trains the fixed network
(:class:`optbook.homework.recipes.FixedNetwork`) within the budget
(:data:`~optbook.homework.recipes.BUDGET`) from the same ``--runs`` seeds
(:func:`~optbook.homework.recipes.grade_recipe`, as the grading tool does), and each
trained network is graded on the same samples (81 Eb/N0 points, standard error 2e-4).
It prints one row per recipe: mean BER, spread over the runs, standard error of the
mean, the gap to the genie, and the seconds per training run.

The recipes: the lecture's (plain SGD at 0.1, batches of 32 frames), Adam at a
sweep of constant learning rates (batches of 16 frames; the best is the ``TUNED_ADAM``
yardstick, and the script says whether the choice lies inside the grid), and the
instructor's reference recipe (:mod:`optbook_solution.recipe_solution`).

    .venv/bin/python benchmarks/bench_homework_recipes.py [--seed 4242] [--runs 3]
        [--lrs 3e-3 1e-2 3e-2 1e-1] [--no-sweep]
"""

from __future__ import annotations

import argparse
import functools
import time

import torch

from optbook.homework.grading import GradingSamples
from optbook.homework.recipes import COURSE_RECIPE, TUNED_ADAM_LR, Recipe, grade_recipe


def adam_at(model, budget, *, lr):
    return Recipe(torch.optim.Adam(model.parameters(), lr=lr), batch_frames=16)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--lrs", type=float, nargs="+", default=[3e-3, 1e-2, 3e-2, 1e-1]
    )
    parser.add_argument("--no-sweep", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from optbook_solution.recipe_solution import make_recipe as reference

    samples = GradingSamples(args.seed)
    recipes = {"course recipe (SGD 0.1, 32 frames)": COURSE_RECIPE}
    lrs = [TUNED_ADAM_LR] if args.no_sweep else args.lrs
    for lr in lrs:
        recipes[f"Adam lr {lr:g} (16 frames)"] = functools.partial(adam_at, lr=lr)
    recipes["reference recipe (instructor)"] = reference
    print(f"seed {args.seed}, {args.runs} runs per recipe, 81 points, SE target 2e-4")
    print(f"{'recipe':40s} {'mean BER':>9s} {'spread':>8s} {'s.e.':>8s} "
          f"{'gap':>8s} {'s/run':>6s}")  # fmt: skip
    adam = {}
    for name, make in recipes.items():
        start = time.perf_counter()
        result = grade_recipe(make, seed=args.seed, runs=args.runs, samples=samples)
        seconds = (time.perf_counter() - start) / args.runs
        gap = result.ber - result.genie_map_ber
        print(
            f"{name:40s} {result.ber:9.5f} {result.spread:8.5f} "
            f"{result.standard_error:8.5f} {gap:+8.5f} {seconds:6.1f}",
            flush=True,
        )
        if name.startswith("Adam"):
            adam[name] = result.ber
    print(f"genie MAP on these samples: {result.genie_map_ber:.5f}")
    if len(adam) > 2:
        best = min(adam, key=adam.get)
        names = list(adam)
        inside = names[0] != best and names[-1] != best
        print(
            f"best Adam: {best} ({'inside' if inside else 'AT THE EDGE OF'} the grid)"
        )


if __name__ == "__main__":
    main()
