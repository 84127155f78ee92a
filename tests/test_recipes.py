"""Part A: the fixed network, the recipe contract, training with a recipe, its grade."""

import pytest
import torch

from optbook.homework.grading import GradingSamples
from optbook.homework.recipes import (
    BATCH_FRAMES_RANGE,
    BUDGET,
    COURSE_RECIPE,
    TUNED_ADAM,
    FixedNetwork,
    Recipe,
    check_recipe,
    grade_recipe,
    run_seeds,
    train_with_recipe,
    updates_for,
)
from optbook.optimizers.adam import Adam

SMALL = 16 * 256 * 20  # 20 updates of 16 frames


def test_fixed_network_shape_and_symmetry():
    torch.manual_seed(0)
    net = FixedNetwork()
    received = torch.randn(3, 40, dtype=torch.complex64)
    logits = net(received)
    assert logits.shape == (3, 40, 4)
    flipped = net(torch.complex(-received.real, received.imag))
    # the sign of Re y flips b0 and keeps b2
    assert torch.allclose(flipped[..., 0], -logits[..., 0], atol=1e-6)
    assert torch.allclose(flipped[..., 2], logits[..., 2], atol=1e-6)
    assert sum(p.numel() for p in net.parameters()) == 1218


def test_budget_and_updates():
    assert updates_for(16) == 800 and updates_for(32) == 400
    assert updates_for(BATCH_FRAMES_RANGE[0]) * BATCH_FRAMES_RANGE[0] * 256 == BUDGET


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda m: "adam", "must return a Recipe"),
        (lambda m: Recipe(FakeOptimizer(m.parameters(), {})), "torch.optim or optbook"),
        (
            lambda m: Recipe(torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], 0.1)),
            "model's own parameters",
        ),
        (
            lambda m: Recipe(torch.optim.SGD(m.parameters(), 0.1), batch_frames=2),
            "4 to",
        ),
        (lambda m: Recipe(torch.optim.SGD(m.parameters(), 0.1), init="zeros"), "init"),
        (
            lambda m: Recipe(torch.optim.SGD(m.parameters(), 0.1), clip_grad_norm=-1),
            "clip",
        ),
    ],
)
def test_bad_recipes_are_refused_with_a_reason(make, message):
    net = FixedNetwork()
    with pytest.raises(ValueError, match=message):
        check_recipe(make(net), net)


class FakeOptimizer(torch.optim.Optimizer):
    def step(self, closure=None):
        return None


def test_a_scheduler_of_another_optimizer_is_refused():
    net = FixedNetwork()
    other = torch.optim.SGD(FixedNetwork().parameters(), lr=0.1)
    recipe = Recipe(
        torch.optim.SGD(net.parameters(), lr=0.1),
        scheduler=torch.optim.lr_scheduler.StepLR(other, 10),
    )
    with pytest.raises(ValueError, match="scheduler"):
        check_recipe(recipe, net)


def adam_cosine(model, budget):
    optimizer = Adam(model.parameters(), lr=1e-2)
    steps = updates_for(8, budget)
    return Recipe(
        optimizer,
        batch_frames=8,
        scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps),
        init="kaiming_uniform",
        clip_grad_norm=1.0,
    )


def test_training_is_reproducible_and_follows_the_recipe():
    first = train_with_recipe(adam_cosine, init_seed=1, data_seed=2, budget=SMALL)
    again = train_with_recipe(adam_cosine, init_seed=1, data_seed=2, budget=SMALL)
    other = train_with_recipe(adam_cosine, init_seed=1, data_seed=3, budget=SMALL)
    assert first.updates == updates_for(8, SMALL) == 40 and not first.diverged
    assert len(first.losses) == 40
    for a, b in zip(first.model.parameters(), again.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert any(
        not torch.equal(a, b)
        for a, b in zip(first.model.parameters(), other.model.parameters(), strict=True)
    )
    assert first.losses[-1] < first.losses[0]


def test_a_recipe_that_sets_the_weights_is_refused():
    def cheat(model, budget):
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
        return Recipe(torch.optim.SGD(model.parameters(), lr=0.1))

    with pytest.raises(ValueError, match="changed the network's weights"):
        train_with_recipe(cheat, init_seed=0, data_seed=0, budget=SMALL)


def test_divergence_is_recorded():
    def blow_up(model, budget):
        return Recipe(torch.optim.SGD(model.parameters(), lr=1e30))

    run = train_with_recipe(blow_up, init_seed=0, data_seed=0, budget=SMALL)
    assert run.diverged


def test_grade_recipe_trains_each_seed_and_grades_on_the_same_samples():
    samples = GradingSamples(9, num_points=5, low_db=-10, high_db=10)
    seen = []

    def trainer(make, *, init_seed, data_seed, budget):
        seen.append((init_seed, data_seed))
        return train_with_recipe(
            make, init_seed=init_seed, data_seed=data_seed, budget=budget
        )

    result = grade_recipe(
        COURSE_RECIPE,
        seed=9,
        runs=2,
        samples=samples,
        budget=SMALL,
        target_standard_error=2e-3,
        trainer=trainer,
    )
    assert seen == [run_seeds(9, 0), run_seeds(9, 1)] and seen[0] != seen[1]
    assert len(result.bers) == 2 and result.spread >= 0
    assert result.genie_map_ber < result.ber < 0.5
    assert result.standard_error > 0
    assert "mean BER" in str(result)


def test_yardstick_recipes_keep_the_contract():
    for make in (COURSE_RECIPE, TUNED_ADAM):
        net = FixedNetwork()
        check_recipe(make(net, BUDGET), net)
