"""optbook.char_model: the text, batches, model, one training run, the protocol."""

import pytest
import torch

from optbook.char_model import (
    METHODS,
    CharData,
    CharModel,
    RaceResult,
    corpus,
    race,
    train_run,
)


def test_corpus_is_printable_and_the_same_every_time():
    text = corpus()
    assert len(text) > 20_000 and text == corpus()
    assert all(c == "\n" or 32 <= ord(c) < 127 for c in text)


def test_batches_are_windows_of_the_text():
    data = CharData("abcdefghij" * 40, context=3)
    contexts, targets = data.batch(5, torch.Generator().manual_seed(0))
    assert contexts.shape == (5, 3) and targets.shape == (5,)
    assert ((contexts[:, 1] - contexts[:, 0]) % 10 == 1).all()
    assert ((targets - contexts[:, -1]) % 10 == 1).all()  # the next letter
    with pytest.raises(ValueError, match="too short"):
        CharData("abc", context=8)


def test_model_shapes_and_sparse_embedding():
    model = CharModel(vocab=20, context=4, sparse=True)
    out = model(torch.randint(0, 20, (7, 4)))
    assert out.shape == (7, 20)
    out.sum().backward()
    assert model.embedding.weight.grad.is_sparse


def test_every_method_trains_below_the_uniform_loss():
    data = CharData()
    uniform = torch.log(torch.tensor(float(data.vocab))).item()
    for method, (_, _, grid) in METHODS.items():
        loss = train_run(method, grid[1], seed=0, data=data, steps=40)
        assert loss < uniform, method
    with pytest.raises(ValueError, match="unknown method"):
        train_run("Adagrad2", 0.1, 0, data)


def test_race_extends_the_grid_until_the_chosen_rate_is_inside(monkeypatch):
    import optbook.char_model as cm

    def fake(method, lr, seed, data, steps=250, batch=64):  # best at lr = 1e-5
        return abs(torch.log10(torch.tensor(lr)).item() + 5) + seed * 1e-3

    monkeypatch.setattr(cm, "train_run", fake)
    monkeypatch.setitem(cm.METHODS, "Toy", (None, False, [1e-3, 1e-2, 1e-1]))
    (result,) = race(["Toy"], data=None, max_extensions=3)
    assert isinstance(result, RaceResult) and result.inside_grid
    assert result.chosen_lr == pytest.approx(1e-5) and min(result.sweep) < 1e-5
    assert len(result.final) == 3 and result.sd > 0
