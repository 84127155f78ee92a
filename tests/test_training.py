"""Tests of optbook.training: the loop, the mini-batches, the metrics, the sweep."""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

from optbook.runtime import FINAL_PROGRESS_VARIABLE
from optbook.training import (
    History,
    MiniBatches,
    SeedBatches,
    Spread,
    Sweep,
    accuracy,
    evaluate,
    evaluate_seeds,
    lr_sweep,
    seedwise,
    stack_models,
    train,
)


def regression_data(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=generator, dtype=torch.float64)
    y = x @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64) + 0.1 * torch.randn(
        n, generator=generator, dtype=torch.float64
    )
    return x, y.unsqueeze(1)


def linear_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Linear(3, 1).double()


mse = nn.MSELoss()


# -- MiniBatches -----------------------------------------------------------------------


def test_minibatches_cover_every_example_once_per_epoch_in_a_new_order():
    x = torch.arange(10.0).unsqueeze(1)
    y = torch.arange(10)
    batches = MiniBatches(x, y, 3, seed=1)
    assert len(batches) == 4
    epochs = [[b[1] for b in batches] for _ in range(3)]
    for epoch in epochs:
        assert [len(b) for b in epoch] == [3, 3, 3, 1]
        assert sorted(torch.cat(epoch).tolist()) == list(range(10))
    orders = [torch.cat(epoch).tolist() for epoch in epochs]
    assert orders[0] != orders[1] and orders[1] != orders[2]  # reshuffled every pass
    for xb, yb in batches:  # inputs and targets stay paired
        assert torch.equal(xb.squeeze(1).long(), yb)


def test_minibatches_are_reproducible_from_the_seed():
    x, y = torch.arange(20.0).unsqueeze(1), torch.arange(20)

    def two_epochs(seed):
        batches = MiniBatches(x, y, 6, seed=seed)
        return [yb.tolist() for _ in range(2) for _, yb in batches]

    assert two_epochs(3) == two_epochs(3)
    assert two_epochs(3) != two_epochs(4)


def test_minibatches_options():
    x, y = torch.arange(10.0).unsqueeze(1), torch.arange(10)
    dropped = MiniBatches(x, y, 3, drop_last=True)
    assert len(dropped) == 3 and [len(b[1]) for b in dropped] == [3, 3, 3]
    ordered = MiniBatches(x, y, 4, shuffle=False)
    assert [b[1].tolist() for b in ordered] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    full = MiniBatches(x, y, 1000)
    assert len(full) == 1 and len(next(iter(full))[1]) == 10


@pytest.mark.parametrize(
    ("x", "y", "batch_size", "message"),
    [
        (torch.zeros(5, 1), torch.zeros(4), 2, "same number of examples"),
        (torch.zeros(0, 1), torch.zeros(0), 2, "no examples"),
        (torch.zeros(5, 1), torch.zeros(5), 0, "positive integer"),
        (torch.zeros(5, 1), torch.zeros(5), 2.5, "positive integer"),
    ],
)
def test_minibatches_reject_bad_arguments(x, y, batch_size, message):
    with pytest.raises(ValueError, match=message):
        MiniBatches(x, y, batch_size)


# -- metrics ---------------------------------------------------------------------------


def test_accuracy_counts_the_largest_score():
    outputs = torch.tensor([[0.1, 0.9], [2.0, -1.0], [0.0, 1.0], [3.0, 4.0]])
    targets = torch.tensor([1, 0, 0, 0])
    assert accuracy(outputs, targets).item() == pytest.approx(0.5)


def test_evaluate_weights_batches_by_size_and_restores_the_mode():
    x, y = regression_data(n=10)
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 1)).double()
    model.train()
    whole = evaluate(model, (x, y), {"mse": mse})
    batched = evaluate(
        model, MiniBatches(x, y, 3), {"mse": mse}
    )  # batches of 3, 3, 3, 1
    assert model.training  # mode restored
    with torch.no_grad():
        model.eval()
        expected = mse(model(x), y).item()
    assert whole["mse"] == pytest.approx(
        expected, rel=1e-12
    )  # dropout was off: eval mode
    assert batched["mse"] == pytest.approx(
        expected, rel=1e-12
    )  # weighted by batch size


def test_evaluate_rejects_no_metrics_and_no_data():
    x, y = regression_data(n=4)
    with pytest.raises(ValueError, match="metrics is empty"):
        evaluate(linear_model(), (x, y), {})
    with pytest.raises(ValueError, match="no examples"):
        evaluate(linear_model(), [], {"mse": mse})


# -- train -----------------------------------------------------------------------------


def manual_loop(model, optimizer, batches, epochs, scheduler=None):
    losses = []
    for _ in range(epochs):
        for xb, yb in batches:
            optimizer.zero_grad()
            loss = mse(model(xb), yb)
            losses.append(loss.item())
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
    return losses


def test_train_is_exactly_the_textbook_loop():
    x, y = regression_data()
    reference = linear_model()
    ref_opt = torch.optim.Adam(reference.parameters(), lr=0.1)
    ref_sched = torch.optim.lr_scheduler.ExponentialLR(ref_opt, gamma=0.99)
    expected = manual_loop(
        reference, ref_opt, MiniBatches(x, y, 8, seed=5), 10, ref_sched
    )

    model = linear_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.99)
    history = train(
        model,
        optimizer,
        MiniBatches(x, y, 8, seed=5),
        mse,
        epochs=10,
        scheduler=scheduler,
    )

    assert history.steps == 50 and len(history.losses) == 50
    assert history.losses == expected  # bitwise: same arithmetic, same order
    for ours, theirs in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(ours, theirs)
    assert history.losses[-1] < history.losses[0] / 20  # and it did train
    # the learning rate of every step, before that step's scheduler update
    assert history.lrs == pytest.approx([0.1 * 0.99**k for k in range(50)], rel=1e-12)
    assert not history.diverged and not history.stopped_early and history.seconds > 0


def test_a_step_budget_runs_across_epochs():
    x, y = regression_data(n=10)
    history = train(
        linear_model(),
        torch.optim.SGD(linear_model().parameters(), lr=0.1),
        MiniBatches(x, y, 4),
        mse,
        steps=7,
    )
    assert (
        history.steps == 7
    )  # 3 batches per epoch: the third epoch is cut after one step


def test_scheduler_every_epoch():
    x, y = regression_data(n=10)
    model = linear_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = train(
        model,
        optimizer,
        MiniBatches(x, y, 4),
        mse,
        epochs=3,
        scheduler=scheduler,
        scheduler_every="epoch",
    )
    assert history.lrs == pytest.approx([0.1] * 3 + [0.05] * 3 + [0.025] * 3)


def test_evaluations_at_the_start_every_epoch_and_the_end():
    x, y = regression_data(n=10)
    calls = []

    def measure(model):
        calls.append(model.training)
        return {"mse": evaluate(model, (x, y), {"mse": mse})["mse"]}

    model = linear_model()
    history = train(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        MiniBatches(x, y, 4),
        mse,
        epochs=2,
        evaluate=measure,
    )
    assert history.eval_steps == [0, 3, 6]
    assert len(history.metrics["mse"]) == 3 and history.curve("mse").shape == (3,)
    assert history.final("mse") < history.metrics["mse"][0]
    assert all(
        calls
    )  # evaluate receives the model in train mode (evaluate() switches itself)

    stepped = train(
        linear_model(),
        torch.optim.SGD(linear_model().parameters(), lr=0.1),
        MiniBatches(x, y, 4),
        mse,
        steps=7,
        evaluate=measure,
        eval_every=3,
    )
    assert stepped.eval_steps == [0, 3, 6, 7]
    only_ends = train(
        linear_model(),
        torch.optim.SGD(linear_model().parameters(), lr=0.1),
        MiniBatches(x, y, 4),
        mse,
        steps=7,
        evaluate=measure,
    )
    assert only_ends.eval_steps == [0, 7]
    with pytest.raises(KeyError, match="no metric 'accuracy'"):
        history.curve("accuracy")


def test_a_diverging_run_stops_and_says_so():
    x, y = regression_data()
    model = linear_model()
    history = train(
        model,
        torch.optim.SGD(model.parameters(), lr=10.0),
        MiniBatches(x, y, 8),
        mse,
        steps=500,
        evaluate=lambda m: {"mse": evaluate(m, (x, y), {"mse": mse})["mse"]},
    )
    assert history.diverged
    assert history.steps < 500 and len(history.losses) == history.steps + 1
    assert not math.isfinite(history.losses[-1]) and all(
        math.isfinite(v) for v in history.losses[:-1]
    )
    assert history.eval_steps[-1] == history.steps  # evaluated where it stopped
    assert "DIVERGED" in str(history)


def test_on_step_sees_every_step_and_can_stop_the_run():
    x, y = regression_data()
    seen = []

    def stop_below(step, loss):
        seen.append(step)
        return loss < 0.5

    model = linear_model()
    history = train(
        model,
        torch.optim.SGD(model.parameters(), lr=0.05),
        MiniBatches(x, y, 8),
        mse,
        epochs=100,
        on_step=stop_below,
    )
    assert history.stopped_early and "stopped early" in str(history)
    assert seen == list(range(1, history.steps + 1))
    assert history.losses[-1] < 0.5 and all(v >= 0.5 for v in history.losses[:-1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of steps"),
        ({"steps": 3, "epochs": 1}, "exactly one of steps"),
        ({"steps": 0}, "steps must be a positive integer"),
        ({"epochs": 1.5}, "epochs must be a positive integer"),
        ({"steps": 3, "eval_every": 0}, "eval_every"),
        ({"steps": 3, "scheduler_every": "batch"}, "scheduler_every"),
    ],
)
def test_train_rejects_bad_arguments(kwargs, message):
    x, y = regression_data(n=8)
    model = linear_model()
    with pytest.raises(ValueError, match=message):
        train(
            model,
            torch.optim.SGD(model.parameters(), lr=0.1),
            MiniBatches(x, y, 4),
            mse,
            **kwargs,
        )


def test_train_rejects_one_shot_and_empty_batches():
    x, y = regression_data(n=8)
    model = linear_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="re-iterable"):
        train(model, optimizer, (b for b in MiniBatches(x, y, 4)), mse, epochs=2)
    with pytest.raises(ValueError, match="no batch"):
        train(model, optimizer, [], mse, steps=3)


def visible_text(raw: str) -> str:
    """What a terminal or the book shows: each line after its last carriage return."""
    return "\n".join(line.rsplit("\r", 1)[-1] for line in raw.split("\n"))


def test_progress_is_off_by_default(capsys):
    x, y = regression_data()
    model = linear_model()
    train(
        model,
        torch.optim.SGD(model.parameters(), lr=0.05),
        MiniBatches(x, y, 8),
        mse,
        epochs=3,
    )
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.parametrize("final_only", [True, False])
def test_progress_prints_one_clean_summary_line(capsys, monkeypatch, final_only):
    """Live (Jupyter, a terminal) or drawn once (the book): one finished line."""
    if final_only:
        monkeypatch.setenv(FINAL_PROGRESS_VARIABLE, "1")
    else:
        monkeypatch.delenv(FINAL_PROGRESS_VARIABLE, raising=False)
    x, y = regression_data()
    model = linear_model()
    history = train(
        model,
        torch.optim.SGD(model.parameters(), lr=0.05),
        MiniBatches(x, y, 8),
        mse,
        epochs=3,
        progress=True,
        desc="demo",
        evaluate=lambda m: {"mse": evaluate(m, (x, y), {"mse": mse})["mse"]},
    )
    captured = capsys.readouterr()
    assert captured.err == ""  # stdout only: the book drops stderr
    raw = captured.out
    assert raw.isascii() and "\x1b" not in raw  # no escape codes, no Unicode blocks
    lines = [line for line in visible_text(raw).splitlines() if line.strip()]
    assert len(lines) == 1, lines  # what remains on screen: one line
    line = lines[0]
    assert line.startswith("demo: 100%") and "15/15" in line
    assert (
        f"loss={history.losses[-1]:.4g}" in line
        and f"mse={history.final('mse'):.4g}" in line
    )
    assert len(line) <= 88
    if final_only:
        assert "\r" not in raw and raw.count("\n") == 1  # printed once, finished


# -- lr_sweep --------------------------------------------------------------------------


def test_lr_sweep_collects_a_grid_and_picks_the_best():
    calls = []

    def run(lr, seed):
        calls.append((lr, seed))
        score = -abs(math.log10(lr) + 2) + 0.01 * seed  # best at lr = 1e-2
        return {"score": score, "lr_seen": lr}

    lrs = [1e-4, 1e-3, 1e-2, 1e-1]
    sweep = lr_sweep(run, lrs, seeds=(0, 1, 2))
    assert calls == [(lr, s) for lr in lrs for s in (0, 1, 2)]
    assert (
        sweep.metrics["score"].shape == (4, 3)
        and sweep.metrics["score"].dtype == torch.float64
    )
    assert sweep.mean("lr_seen").tolist() == pytest.approx(lrs)
    assert sweep.best_lr(lambda m: m["score"]) == 1e-2
    assert (
        sweep.best_lr(lambda m: -m["score"]) == 1e-4
    )  # the key decides what "best" means
    assert not sweep.failed().any()


def test_best_lr_breaks_ties_with_the_key_and_avoids_failed_runs():
    metrics = {
        "acc": torch.tensor(
            [[0.9, 0.9], [0.95, 0.95], [0.95, 0.95], [0.99, math.nan]],
            dtype=torch.float64,
        ),
        "loss": torch.tensor(
            [[0.5, 0.5], [0.3, 0.3], [0.2, 0.2], [0.1, 0.1]], dtype=torch.float64
        ),
    }
    sweep = Sweep([1e-3, 1e-2, 1e-1, 1.0], [0, 1], metrics)
    assert sweep.failed().tolist() == [False, False, False, True]
    assert (
        sweep.best_lr(lambda m: m["acc"]) == 1e-2
    )  # tie between 1e-2 and 1e-1: the first
    assert (
        sweep.best_lr(lambda m: (m["acc"], -m["loss"])) == 1e-1
    )  # the tie broken by the loss
    all_failed = Sweep(
        [1.0], [0], {"acc": torch.tensor([[math.nan]], dtype=torch.float64)}
    )
    with pytest.raises(ValueError, match="every learning rate"):
        all_failed.best_lr(lambda m: m["acc"])


def test_lr_sweep_rejects_bad_grids_and_changing_metrics():
    with pytest.raises(ValueError, match="at least one"):
        lr_sweep(lambda lr, s: {"a": 1.0}, [])
    with pytest.raises(ValueError, match="positive and finite"):
        lr_sweep(lambda lr, s: {"a": 1.0}, [0.1, -1.0])
    with pytest.raises(ValueError, match="returned metrics"):
        lr_sweep(lambda lr, s: {"a": 1.0} if lr < 0.5 else {"b": 1.0}, [0.1, 1.0])


def test_a_real_sweep_finds_the_usable_learning_rate():
    """SGD on least squares: too small crawls, too large diverges; the sweep picks."""
    x, y = (
        t.float() for t in regression_data(n=64)
    )  # float32: a diverging run overflows soon

    def run(lr, seed):
        model = linear_model(seed).float()
        history = train(
            model,
            torch.optim.SGD(model.parameters(), lr=lr),
            MiniBatches(x, y, 16, seed=seed),
            mse,
            epochs=5,
        )
        if history.diverged:
            return {"loss": math.nan}
        return {"loss": evaluate(model, (x, y), {"loss": mse})["loss"]}

    lrs = [1e-3, 1e-2, 1e-1, 1.0, 10.0]
    sweep = lr_sweep(run, lrs, seeds=(0, 1))
    assert sweep.failed().tolist() == [
        False,
        False,
        False,
        False,
        True,
    ]  # lr=10 diverges
    best = sweep.best_lr(lambda m: -m["loss"])
    assert best in (1e-1, 1.0)
    assert (
        sweep.mean("loss")[0] > 10 * sweep.mean("loss")[lrs.index(best)]
    )  # 1e-3 crawls


def test_history_summary():
    history = History(
        losses=[2.0, 1.0],
        lrs=[0.1, 0.1],
        eval_steps=[0, 2],
        metrics={"acc": [0.1, 0.9]},
        steps=2,
        seconds=0.5,
    )
    text = str(history)
    assert re.search(r"2 steps in 0\.50 s, last loss 1, acc 0\.9", text)
    assert history.curve("loss").tolist() == [2.0, 1.0] and history.final("acc") == 0.9


# -- the protocol's checks: a choice inside the grid, the spread over seeds ------------


def test_best_lr_inside_refuses_a_choice_at_the_edge_of_the_grid():
    lrs = [1e-3, 1e-2, 1e-1]
    rising = Sweep(
        lrs, [0, 1], {"acc": torch.tensor([[0.1, 0.2], [0.5, 0.6], [0.9, 0.8]])}
    )
    assert rising.best_lr(lambda m: m["acc"]) == 1e-1  # without the check: the edge
    with pytest.raises(ValueError, match="largest of the grid.*widen the grid"):
        rising.best_lr(lambda m: m["acc"], inside=True)
    with pytest.raises(ValueError, match="smallest of the grid"):
        rising.best_lr(lambda m: -m["acc"], inside=True)
    peaked = Sweep(lrs, [0], {"acc": torch.tensor([[0.5], [0.9], [0.7]])})
    assert peaked.best_lr(lambda m: m["acc"], inside=True) == 1e-2


def test_spread_of_values_and_of_a_sweep_point():
    spread = Spread.of([0.90, 0.94, 0.92])
    assert spread.mean == pytest.approx(0.92) and spread.std == pytest.approx(0.02)
    assert (spread.low, spread.high, spread.n) == (0.90, 0.94, 3)
    assert f"{spread:.3f}" == "0.920 ± 0.020"
    assert Spread.of([0.5]).std == 0.0
    assert spread.overlaps(Spread.of([0.93, 0.99])) and not spread.overlaps(
        Spread.of([0.95, 0.99])
    )
    with pytest.raises(ValueError, match="at least one value"):
        Spread.of([])
    sweep = Sweep([0.1, 1.0], [0, 1], {"acc": torch.tensor([[0.5, 0.7], [0.8, 0.8]])})
    assert sweep.spread("acc", 0.1).mean == pytest.approx(0.6)
    assert sweep.spread("acc", 0.1).std == pytest.approx(math.sqrt(0.02))
    with pytest.raises(ValueError, match="not a point of the grid"):
        sweep.spread("acc", 0.5)


def test_lr_sweep_together_gives_the_same_sweep_as_one_seed_at_a_time():
    def one(lr, seed):
        return {"score": lr * 10 + seed, "other": -lr}

    def together(lr, seeds):
        return {"score": [lr * 10 + s for s in seeds], "other": [-lr] * len(seeds)}

    lrs, seeds = [0.1, 0.2, 0.3], [4, 5]
    a, b = lr_sweep(one, lrs, seeds), lr_sweep(together, lrs, seeds, together=True)
    for name in ("score", "other"):
        assert torch.equal(a.metrics[name], b.metrics[name])
    with pytest.raises(ValueError, match="one value per seed"):
        lr_sweep(lambda lr, s: {"score": [1.0]}, lrs, seeds, together=True)


# -- several seeds at once -------------------------------------------------------------


def mlp(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()


def classification_data(n: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = regression_data(n)
    return x, (y.squeeze(1) > 0).long()


def test_seed_batches_are_each_seeds_minibatches_side_by_side():
    x, y = classification_data(10)
    stacked = list(SeedBatches(x, y, 4, seeds=[3, 7]))
    assert len(SeedBatches(x, y, 4, seeds=[3, 7])) == 3 == len(stacked)
    for s, seed in enumerate([3, 7]):
        alone = list(MiniBatches(x, y, 4, seed=seed))
        for (xs, ys), (xa, ya) in zip(stacked, alone, strict=True):
            assert torch.equal(xs[s], xa) and torch.equal(ys[s], ya)
    with pytest.raises(ValueError, match="at least one seed"):
        SeedBatches(x, y, 4, seeds=[])


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
        (torch.optim.Adam, {"lr": 0.01}),
        (torch.optim.AdamW, {"lr": 0.01}),
        (torch.optim.Adagrad, {"lr": 0.1}),
    ],
)
def test_a_stacked_run_takes_exactly_the_steps_of_runs_one_by_one(cls, kwargs):
    """One optimizer on the stacked weights = one optimizer per seed (elementwise)."""
    x, y = classification_data()
    seeds = [0, 1, 2]
    loss_fn = nn.CrossEntropyLoss()
    stacked = stack_models([mlp(seed) for seed in seeds])
    train(
        stacked,
        cls(stacked.parameters(), **kwargs),
        SeedBatches(x, y, 8, seeds),
        seedwise(loss_fn),
        epochs=3,
    )
    metrics = {"loss": loss_fn, "accuracy": accuracy}
    together = evaluate_seeds(stacked, (x, y), metrics)
    for s, seed in enumerate(seeds):
        alone = mlp(seed)
        train(
            alone,
            cls(alone.parameters(), **kwargs),
            MiniBatches(x, y, 8, seed=seed),
            loss_fn,
            epochs=3,
        )
        torch.testing.assert_close(stacked[0].weight[s], alone[0].weight)
        torch.testing.assert_close(stacked[2].bias[s], alone[2].bias)
        measured = evaluate(alone, (x, y), metrics)
        assert together["loss"][s].item() == pytest.approx(measured["loss"], rel=1e-9)
        assert together["accuracy"][s].item() == measured["accuracy"]


def test_stack_models_rejects_what_it_cannot_stack():
    with pytest.raises(ValueError, match="at least one model"):
        stack_models([])
    with pytest.raises(ValueError, match="BatchNorm1d"):
        stack_models([nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))])
    with pytest.raises(ValueError, match="shapes differ"):
        stack_models([nn.Sequential(nn.Linear(3, 4)), nn.Sequential(nn.Linear(3, 5))])
    with pytest.raises(ValueError, match="with a bias"):
        stack_models([nn.Sequential(nn.Linear(3, 4, bias=False))])
    with pytest.raises(ValueError, match="metrics is empty"):
        evaluate_seeds(stack_models([mlp(0)]), classification_data(), {})
