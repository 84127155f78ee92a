"""Grading a class on Part A (recipes, trained in the sandbox) and Part B (impaired)."""

import textwrap

import pytest
import torch

from optbook.homework.class_grading import Protocol
from optbook.homework.grade_cli import parser
from optbook.homework.part_grading import grade_part_a, grade_part_b
from optbook.homework.recipes import RecipeRun, train_with_recipe
from optbook.homework.sandbox.launcher import Limits, sandbox_problem
from optbook.homework.sandbox.recipe_task import IsolatedRecipe

ISOLATED = sandbox_problem() is None
SMALL_BUDGET = 16 * 256 * 10
QUICK = Protocol(num_points=9, target_standard_error=2e-3)

GOOD_RECIPE = """
import torch
from optbook.homework.recipes import Recipe, updates_for

def make_recipe(model, budget):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    steps = updates_for(8, budget)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    return Recipe(optimizer, batch_frames=8, scheduler=scheduler)
"""


def write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text))
    return folder


def test_the_sandbox_trains_exactly_as_in_process(tmp_path):
    folder = write(tmp_path / "good", "recipe.py", GOOD_RECIPE)
    namespace = {}
    exec(GOOD_RECIPE, namespace)  # noqa: S102 - our own text
    local = train_with_recipe(
        namespace["make_recipe"], init_seed=3, data_seed=4, budget=SMALL_BUDGET
    )
    with IsolatedRecipe(folder, Limits(time_limit_s=120), isolated=ISOLATED) as box:
        run = box.train(init_seed=3, data_seed=4, budget=SMALL_BUDGET)
    assert isinstance(run, RecipeRun) and run.updates == local.updates == 20
    for a, b in zip(run.model.parameters(), local.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_part_a_grades_a_class_with_verdicts(tmp_path):
    good = write(tmp_path / "good", "recipe.py", GOOD_RECIPE)
    missing = write(tmp_path / "nofunction", "recipe.py", "x = 1\n")
    broken = write(
        tmp_path / "tinybatch",
        "recipe.py",
        GOOD_RECIPE.replace("batch_frames=8", "batch_frames=1"),
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    grading = grade_part_a(
        [good, missing, broken, empty],
        seed=11,
        runs=2,
        protocol=QUICK,
        budget=SMALL_BUDGET,
        isolated=ISOLATED,
        limits=Limits(time_limit_s=120),
    )
    names = [r.submission for r in grading.yardsticks]
    assert names[0].startswith("(course") and names[1] == "(tuned Adam)"
    rows = {r.submission: r for r in grading.results}
    assert rows["good"].verdict == "ok" and rows["good"].level is not None
    assert "points" in rows["good"].detail and "spread" in rows["good"].detail
    assert 0.18 < rows["good"].ber < 0.5
    assert rows["nofunction"].verdict == "breaks the contract"
    assert rows["tinybatch"].verdict == "breaks the contract"
    assert "batch_frames" in rows["tinybatch"].detail
    assert rows["empty"].verdict == "no recipe.py"


NEAREST = """
from optbook.homework.grading import NearestPointDetector

def make_detector():
    return NearestPointDetector()
"""


def test_part_b_grades_detectors_on_the_impaired_channel(tmp_path):
    nearest = write(tmp_path / "nearest", "detector.py", NEAREST)
    crash = write(
        tmp_path / "crash", "detector.py", "def make_detector():\n    1 / 0\n"
    )
    grading = grade_part_b([nearest, crash], seed=12, protocol=QUICK, isolated=ISOLATED)
    yardsticks = {r.submission: r for r in grading.yardsticks}
    classical = yardsticks["(classical: blind correction + MAP)"]
    genie = yardsticks["(genie MAP: knows the impairments)"]
    rows = {r.submission: r for r in grading.results}
    assert genie.ber < classical.ber < rows["nearest"].ber
    # on the same samples, a submitted nearest-point detector is the yardstick itself
    own = rows["nearest"].grade
    assert own.ber == pytest.approx(own.nearest_point_ber, abs=1e-12)
    assert rows["nearest"].level == 0 and rows["nearest"].detail == "0 points"
    assert rows["crash"].verdict == "make_detector() failed"


def test_the_command_line_knows_the_parts():
    assert parser().parse_args(["x"]).part == "warm-up"
    assert parser().parse_args(["x", "--part", "A"]).part == "A"
    with pytest.raises(SystemExit):
        parser().parse_args(["x", "--part", "C"])
