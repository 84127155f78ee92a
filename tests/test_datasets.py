"""Tests of optbook.datasets: the digits split is complete, stratified, standardised and
fixed."""

from __future__ import annotations

import pytest
import torch

from optbook.datasets import Split, load_digits_splits


@pytest.fixture(scope="module")
def splits():
    return load_digits_splits()


def test_the_three_sets_partition_the_1797_images(splits):
    sizes = [splits.train.size, splits.validation.size, splits.test.size]
    assert sum(sizes) == 1797
    assert sizes == [1077, 360, 360]  # 60 / 20 / 20 per cent
    assert splits.classes == 10 and splits.features == 64
    labels = torch.cat([splits.train.y, splits.validation.y, splits.test.y])
    from sklearn.datasets import load_digits

    original = torch.as_tensor(load_digits().target)
    assert torch.equal(
        torch.bincount(labels), torch.bincount(original)
    )  # every image used once
    assert (
        str(splits) == "1077 training, 360 validation and 360 test examples; "
        "64 features, 10 classes"
    )


def test_the_split_is_stratified(splits):
    overall = (
        torch.bincount(
            torch.cat([s.y for s in (splits.train, splits.validation, splits.test)])
        )
        / 1797
    )
    for split in (splits.train, splits.validation, splits.test):
        share = torch.bincount(split.y, minlength=10) / split.size
        assert (share - overall).abs().max() < 0.01


def test_inputs_are_standardised_with_training_statistics_only(splits):
    x = splits.train.x.double()
    std = x.std(0)
    varying = std > 1e-6
    assert varying.sum() > 50  # a few border pixels are always blank
    assert x.mean(0).abs().max() < 1e-5
    assert (std[varying] - 1).abs().max() < 1e-5
    assert x[:, ~varying].abs().max() == 0  # constant pixels are only shifted
    # held-out sets are transformed with the training statistics, so they are not
    # exactly standard
    assert splits.test.x.double().mean(0).abs().max() > 1e-3


def test_the_split_is_fixed_by_the_seed():
    first, again, other = (
        load_digits_splits(seed=0),
        load_digits_splits(seed=0),
        load_digits_splits(seed=1),
    )
    assert torch.equal(first.test.x, again.test.x) and torch.equal(
        first.train.y, again.train.y
    )
    assert not torch.equal(first.test.y, other.test.y)


def test_fractions_dtype_and_device():
    splits = load_digits_splits(
        validation=0.1, test=0.3, dtype=torch.float64, device="cpu"
    )
    assert (
        splits.test.size == 540
        and splits.validation.size == 180
        and splits.train.size == 1077
    )
    assert splits.train.x.dtype == torch.float64 and splits.train.y.dtype == torch.long
    x, y = splits.validation  # a pair
    assert (
        isinstance(splits.validation, Split)
        and x.shape == (180, 64)
        and y.shape == (180,)
    )


@pytest.mark.parametrize(
    ("validation", "test"), [(0.0, 0.2), (0.2, 1.0), (0.6, 0.5), (-0.1, 0.2)]
)
def test_bad_fractions_are_refused(validation, test):
    with pytest.raises(ValueError, match="fractions of the data held out"):
        load_digits_splits(validation=validation, test=test)
