"""Small real data sets that need no download, split once and for all.

:func:`load_digits_splits` serves scikit-learn's handwritten digits (1797 images of 8x8
pixels, ten classes), which ship inside scikit-learn itself: no network, no cache, the
same numbers on every machine. The images are split into a training, a validation and a
test set, stratified by class, and standardised with the *training* set's statistics
only, so that nothing about the held-out images leaks into training. Used by the chapter
"Comparing optimizers honestly".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor


class Split(NamedTuple):
    """Inputs ``x`` ``[n, features]`` and integer class labels ``y`` ``[n]``.

    A pair, so that ``x, y = splits.train`` works and :func:`optbook.training.evaluate`
    takes it as one batch.
    """

    x: Tensor
    y: Tensor

    @property
    def size(self) -> int:
        """The number of examples."""
        return len(self.y)


@dataclass(frozen=True)
class Splits:
    """A data set cut into training, validation and test sets."""

    train: Split
    validation: Split
    test: Split
    classes: int

    @property
    def features(self) -> int:
        return self.train.x.shape[1]

    def __str__(self) -> str:
        return (
            f"{self.train.size} training, {self.validation.size} validation and "
            f"{self.test.size} test examples; {self.features} features, "
            f"{self.classes} classes"
        )


def load_digits_splits(
    *,
    validation: float = 0.2,
    test: float = 0.2,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Splits:
    """scikit-learn's digits, split (stratified), standardised by the training set.

    ``validation`` and ``test`` are the fractions of the 1797 images held out for
    choosing hyperparameters and for the final, once-only evaluation; the rest is for
    training. ``seed`` fixes which images go where. Every pixel is shifted and scaled by
    the mean and standard deviation it has over the *training* images (a pixel that is
    constant there is only shifted).
    """
    if not (0 < validation < 1 and 0 < test < 1 and validation + test < 1):
        raise ValueError(
            "validation and test are the fractions of the data held out for each, so "
            "both must lie in (0, 1) and leave some data for training; got "
            f"validation={validation}, "
            f"test={test}"
        )
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as error:  # pragma: no cover - the book's environment has it
        raise ImportError(
            "load_digits_splits needs scikit-learn: pip install scikit-learn"
        ) from error

    images, labels = load_digits(return_X_y=True)
    x_rest, x_test, y_rest, y_test = train_test_split(
        images, labels, test_size=test, stratify=labels, random_state=seed
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest,
        y_rest,
        test_size=validation / (1 - test),
        stratify=y_rest,
        random_state=seed,
    )

    def tensors(x, y) -> tuple[Tensor, Tensor]:
        return (
            torch.as_tensor(x, dtype=torch.float64),
            torch.as_tensor(y, dtype=torch.long),
        )

    (xt, yt), (xv, yv), (xs, ys) = (
        tensors(x_train, y_train),
        tensors(x_val, y_val),
        tensors(x_test, y_test),
    )
    mean = xt.mean(0)
    std = xt.std(0)
    std = torch.where(std > 0, std, torch.ones_like(std))

    def split(x: Tensor, y: Tensor) -> Split:
        return Split(
            ((x - mean) / std).to(dtype=dtype, device=device), y.to(device=device)
        )

    return Splits(
        split(xt, yt), split(xv, yv), split(xs, ys), classes=int(labels.max()) + 1
    )
