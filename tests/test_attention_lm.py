"""The Zipfian language, the per-band losses and the stacked one-block transformer.

The stacked trainer's promise is that ``L x S`` runs trained as one are the runs one
would get one by one: checked here against single runs, for SGD with momentum, Adam and
sign descent, with a warm-up schedule.
"""

from __future__ import annotations

import math

import pytest
import torch

import optbook.optimizers as opt
from optbook.attention_lm import (
    Runs,
    TinyTransformer,
    block_scales,
    count_spikes,
    linear_warmup,
    train_stacked,
    tune_lr,
)
from optbook.zipf_language import ZipfLanguage, band_losses, frequency_bands

SMALL = TinyTransformer(vocab=32, dim=8, heads=2, context=6, hidden=16)


@pytest.fixture(scope="module")
def language():
    return ZipfLanguage(vocab=32, strength=1.5, seed=3)


def test_the_language_is_seeded_and_heavy_tailed():
    a, b = ZipfLanguage(vocab=64, seed=0), ZipfLanguage(vocab=64, seed=0)
    gen = torch.Generator
    assert torch.equal(a.sample(50, 5, gen().manual_seed(1)),
                       b.sample(50, 5, gen().manual_seed(1)))
    freq = ZipfLanguage(vocab=64, strength=0.0).frequencies(count=2000, length=8)
    expected = 1 / torch.arange(1, 65, dtype=torch.float64)
    expected /= expected.sum()
    # without a grammar the words follow the Zipf weights (a sample of 16,000 words)
    assert (freq - expected).abs().max() < 0.01
    assert freq[:6].sum() > 0.45 and freq[32:].sum() < 0.2


def test_the_grammar_lowers_the_entropy_below_the_word_frequencies():
    language = ZipfLanguage(vocab=64, strength=2.0, seed=0)
    words = language.sample(2000, 8, torch.Generator().manual_seed(0))
    freq = language.frequencies()
    unigram = -(freq[freq > 0] * freq[freq > 0].log()).sum()
    assert language.token_losses(words).mean() < unigram - 0.5


def test_samples_follow_the_conditional_law():
    language = ZipfLanguage(vocab=8, strength=1.0, seed=1)
    words = language.sample(80000, 3, torch.Generator().manual_seed(0))
    pick = (words[:, 0] == 0) & (words[:, 1] == 0)
    counts = torch.bincount(words[pick, 2], minlength=8).double()
    law = torch.softmax(language.next_logits(torch.tensor(0), torch.tensor(0)), -1)
    assert pick.sum() > 1000
    assert (counts / counts.sum() - law).abs().max() < 0.04


def test_bands_split_by_measured_frequency():
    freq = torch.tensor([0.1, 0.4, 0.05, 0.3, 0.15])
    bands = frequency_bands(freq, [2])
    assert bands[0].words.tolist() == [False, True, False, True, False]
    assert math.isclose(bands[0].share, 0.7, rel_tol=1e-6) and bands[1].name == "ranks 3-5"
    losses = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    targets = torch.tensor([1, 0, 3, 2])
    assert band_losses(losses, targets, bands).tolist() == [[2.0, 3.0]]
    with pytest.raises(ValueError, match="increase"):
        frequency_bands(freq, [3, 2])


def test_an_empty_band_is_nan():
    bands = frequency_bands(torch.tensor([0.5, 0.3, 0.2]), [1])
    out = band_losses(torch.ones(1, 2), torch.tensor([0, 0]), bands)
    assert out[0, 0] == 1.0 and math.isnan(out[0, 1])


METHODS = {
    "SGD": lambda groups: opt.SGD(groups, momentum=0.9),
    "Adam": lambda groups: opt.Adam(groups),
    "sign": lambda groups: opt.SignSGD(groups, momentum=0.9),
}


@pytest.mark.parametrize(("name", "lrs"), [("SGD", [0.1, 0.5]), ("Adam", [1e-3, 1e-2]),
                                           ("sign", [1e-3, 3e-3])])
def test_stacked_runs_equal_runs_made_one_by_one(language, name, lrs):
    pool = language.sample(200, 7, torch.Generator().manual_seed(0))
    valid = language.sample(20, 7, torch.Generator().manual_seed(1))
    bands = frequency_bands(language.frequencies(200, 8), [4])
    options = dict(steps=25, batch=4, bands=bands, eval_every=10,
                   schedule=linear_warmup(5))
    stacked = train_stacked(SMALL, METHODS[name], lrs, [0, 1], pool, valid, **options)
    for i, lr in enumerate(lrs):
        for j, seed in enumerate([0, 1]):
            alone = train_stacked(SMALL, METHODS[name], [lr], [seed], pool, valid,
                                  **options)
            assert torch.allclose(stacked.train[:, i, j], alone.train[:, 0, 0],
                                  rtol=1e-4, atol=1e-5)
            assert torch.allclose(stacked.bands[:, i, j], alone.bands[:, 0, 0],
                                  rtol=1e-4, atol=1e-5)
    assert stacked.eval_steps == [0, 10, 20, 25]
    assert stacked.train[-1].mean() < stacked.train[0].mean()  # it learns
    # different seeds are different runs
    assert not torch.allclose(stacked.train[:, 0, 0], stacked.train[:, 0, 1])


def test_recorded_update_size_of_sign_descent_is_lr(language):
    pool = language.sample(100, 7, torch.Generator().manual_seed(0))
    runs = train_stacked(SMALL, lambda g: opt.SignSGD(g, momentum=0.0), [1e-3], [0],
                         pool, pool[:10], steps=1, batch=4, record_updates=True)
    start = SMALL.init(0)
    moved = torch.cat([(runs.weights[0][n][0] - start[n]).abs().flatten()
                       for n in start])
    # every coordinate moves by lr (or not at all, where its gradient is 0)
    assert torch.all((moved < 1e-7) | ((moved - 1e-3).abs() < 1e-6))
    share = (moved > 1e-7).double().mean()
    assert torch.isclose(runs.update_rms[0, 0, 0].double(), 1e-3 * share.sqrt(),
                         rtol=1e-3)


def test_a_wild_run_leaves_the_others_alone(language):
    pool = language.sample(100, 7, torch.Generator().manual_seed(0))
    both = train_stacked(SMALL, METHODS["SGD"], [0.1, 1e6], [0], pool, pool[:10],
                         steps=20, batch=4)
    alone = train_stacked(SMALL, METHODS["SGD"], [0.1], [0], pool, pool[:10],
                          steps=20, batch=4)
    assert both.final()[1, 0] > 100 * both.final()[0, 0]
    assert torch.allclose(both.train[:, 0], alone.train[:, 0], rtol=1e-5)
    both.valid[-1, 1, 0] = math.nan
    assert both.final()[1, 0] == math.inf


def test_bad_arguments_are_refused():
    pool = torch.zeros(4, 7, dtype=torch.long)
    with pytest.raises(ValueError, match="positive"):
        train_stacked(SMALL, METHODS["SGD"], [-1.0], [0], pool, pool, steps=1, batch=1)
    with pytest.raises(ValueError, match="at most"):
        SMALL.forward(SMALL.init(0) | {}, torch.zeros(1, 1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="at least 1"):
        linear_warmup(0)


def test_spikes_are_counted_once_each():
    flat = torch.full((100, 3), 2.0)
    flat[50:53, 1] = 4.0  # one spike of three steps
    flat[30, 2], flat[70, 2] = 3.0, 3.0  # two spikes
    flat[90:, 0] = math.nan  # diverged
    assert count_spikes(flat, window=10, jump=0.5).tolist() == [1, 1, 2]
    assert linear_warmup(4)(0) == 0.25 and linear_warmup(4)(10) == 1.0


def fake_runs(lrs, best):
    """Runs whose final loss is (log10 lr - log10 best)^2 for two seeds."""
    final = torch.tensor([[math.log10(lr / best) ** 2] * 2 for lr in lrs])
    return Runs(list(lrs), [0, 1], torch.zeros(1, len(lrs), 2), [0],
                final[None], torch.zeros(1, len(lrs), 2, 0))


def test_tuning_extends_the_grid_until_the_choice_is_inside():
    calls = []

    def run(lrs):
        calls.append(list(lrs))
        return fake_runs(lrs, best=1e-4)

    tuned = tune_lr(run, [1e-2, 1e-1, 1.0])
    assert math.isclose(tuned.chosen_lr, 1e-4) and tuned.inside_grid
    assert len(calls) == 4 and all(len(c) == 1 for c in calls[1:])
    inside = tune_lr(lambda lrs: fake_runs(lrs, best=0.1), [1e-2, 1e-1, 1.0])
    assert inside.chosen_lr == 0.1 and len(inside.sweep) == 3
    with pytest.raises(ValueError, match="at least 3"):
        tune_lr(run, [0.1, 1.0])


def test_a_diverged_rate_is_never_chosen():
    def run(lrs):
        out = fake_runs(lrs, best=1.0)
        out.valid[-1, [i for i, lr in enumerate(lrs) if lr >= 1.0]] = math.nan
        return out

    tuned = tune_lr(run, [0.01, 0.1, 1.0, 10.0])
    assert tuned.sweep[1.0] == math.inf and tuned.chosen_lr == 0.1


def test_block_scales_on_a_quadratic_with_known_curvature():
    a = torch.tensor([1.0, 2.0, 3.0])
    b = torch.tensor([[10.0, 30.0]])

    def loss(w):
        return 0.5 * (a * w["a"] ** 2).sum() + 0.5 * (b * w["b"] ** 2).sum()

    scales = block_scales(loss, {"a": torch.ones(3), "b": torch.ones(1, 2)}, probes=3)
    assert math.isclose(scales["a"][1], 2.0, rel_tol=1e-6)  # mean diagonal of block a
    assert math.isclose(scales["b"][1], 20.0, rel_tol=1e-6)
    assert math.isclose(scales["b"][0], math.sqrt((100 + 900) / 2), rel_tol=1e-6)


def test_block_scales_of_the_model_are_finite_and_positive(language):
    words = language.sample(16, 7, torch.Generator().manual_seed(0))
    scales = block_scales(
        lambda w: SMALL.token_losses({n: t[None] for n, t in w.items()},
                                     words[None]).mean(),
        SMALL.init(0), probes=2)
    assert list(scales) == list(SMALL.shapes())
    assert all(g > 0 and math.isfinite(c) for g, c in scales.values())
