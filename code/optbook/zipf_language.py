"""A synthetic language whose words follow Zipf's law, for the chapter "When the
optimizer decides".

Natural text is heavy-tailed: the r-th most frequent word has a frequency close to
1 / r (Zipf's law), so a few words make up much of the text and most words are rare.
:class:`ZipfLanguage` builds such a language from a seed, with no download: ``vocab``
words, word ``b`` (its rank, 0 the most frequent) with base weight
``(b + 1) ** -alpha``, and a grammar in which the next word depends on the previous two,

    p(x_t = b | x_{t-1} = a, x_{t-2} = c)  proportional to
        (b + 1) ** -alpha * exp(strength * (G1[a, b] + G2[c, b]) / sqrt 2)

with ``G1``, ``G2`` fixed random tables of rank ``rank`` (each entry about N(0, 1): a
grammar that a small model can represent). The tilt by ``exp(...)`` leaves the words'
overall frequencies heavy-tailed (:meth:`ZipfLanguage.frequencies` measures them), and
gives a model something to learn: the language's own entropy (:meth:`entropy`) is well
below the entropy of the word frequencies. The first word follows the base weights; the
second word uses the first in place of the missing ``x_{t-2}``.

:func:`frequency_bands` splits the words into bands by rank, and :func:`band_losses`
averages a per-token loss over the tokens of each band: the measure that shows *where*
an optimizer loses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Band", "ZipfLanguage", "band_losses", "frequency_bands"]


class ZipfLanguage:
    """A random two-word grammar over a Zipfian vocabulary (see the module doc)."""

    def __init__(self, vocab: int = 512, alpha: float = 1.0, strength: float = 2.0,
                 rank: int = 8, seed: int = 0) -> None:
        if not isinstance(vocab, int) or vocab < 4:
            raise ValueError(f"vocab must be an integer >= 4, got {vocab!r}")
        if not alpha >= 0 or not math.isfinite(alpha):
            raise ValueError(f"alpha (the Zipf exponent) must be >= 0, got {alpha!r}")
        if not strength >= 0 or not math.isfinite(strength):
            raise ValueError(f"strength (of the grammar) must be >= 0, "
                             f"got {strength!r}")
        self.vocab, self.alpha, self.strength = vocab, alpha, strength
        generator = torch.Generator().manual_seed(seed)
        ranks = torch.arange(1, vocab + 1, dtype=torch.float32)
        self.base_logits = -alpha * torch.log(ranks)
        if not isinstance(rank, int) or rank < 1:
            raise ValueError(
                f"rank (of the grammar's tables) must be >= 1, got {rank!r}"
            )

        def table() -> Tensor:  # a rank-`rank` table whose entries are about N(0, 1)
            left = torch.randn(vocab, rank, generator=generator)
            return left @ torch.randn(rank, vocab, generator=generator) / rank**0.5

        self.g1, self.g2 = table(), table()

    def next_logits(self, previous: Tensor, before: Tensor) -> Tensor:
        """Log-probabilities (up to a constant) of the next word, ``[..., vocab]``."""
        tilt = (self.g1[previous] + self.g2[before]) / math.sqrt(2.0)
        return self.base_logits + self.strength * tilt

    def sample(self, count: int, length: int, generator: torch.Generator) -> Tensor:
        """``count`` independent sentences of ``length`` words, ``[count, length]``."""
        if count < 1 or length < 2:
            raise ValueError(f"need count >= 1 and length >= 2, got {count}, {length}")
        words = torch.empty(count, length, dtype=torch.long)
        first = torch.softmax(self.base_logits, 0).cumsum(0)
        words[:, 0] = _inverse_cdf(first.expand(count, -1), generator)
        for t in range(1, length):
            before = words[:, t - 2] if t >= 2 else words[:, 0]
            logits = self.next_logits(words[:, t - 1], before)
            words[:, t] = _inverse_cdf(torch.softmax(logits, -1).cumsum(-1), generator)
        return words

    def token_losses(self, words: Tensor) -> Tensor:
        """The language's own loss, -log p(x_t | past), for ``t >= 1``: ``[count,
        length - 1]`` (the best any model can do on these words, in nats)."""
        before = torch.cat([words[:, :1], words[:, :-2]], dim=1)
        logp = torch.log_softmax(self.next_logits(words[:, :-1], before), -1)
        return -logp.gather(-1, words[:, 1:, None])[..., 0]

    def frequencies(self, count: int = 2048, length: int = 32, seed: int = 1) -> Tensor:
        """Each word's measured share of the text (from a sample), ``[vocab]``."""
        words = self.sample(count, length, torch.Generator().manual_seed(seed))
        counts = torch.bincount(words.flatten(), minlength=self.vocab)
        return counts.double() / words.numel()


def _inverse_cdf(cdf: Tensor, generator: torch.Generator) -> Tensor:
    """One draw per row of the cumulative distributions ``cdf [count, vocab]``."""
    cdf = cdf.contiguous()
    uniform = torch.rand(cdf.shape[0], 1, generator=generator) * cdf[:, -1:]
    return torch.searchsorted(cdf, uniform)[:, 0].clamp(max=cdf.shape[1] - 1)


@dataclass(frozen=True)
class Band:
    """A set of words (``words``, a boolean mask over the vocabulary) and their share of
    the text."""

    name: str
    words: Tensor
    share: float


def frequency_bands(frequencies: Tensor, edges: Sequence[int]) -> list[Band]:
    """Bands by frequency rank: the ``e1`` most frequent words, the next ``e2 - e1``,
    ..., the rest (``frequencies [vocab]``, e.g. :meth:`ZipfLanguage.frequencies`)."""
    vocab = frequencies.shape[0]
    bounds = [0, *edges, vocab]
    if any(b <= a for a, b in zip(bounds, bounds[1:], strict=False)):
        raise ValueError(f"edges must increase strictly inside (0, {vocab}), "
                         f"got {edges}")
    order = torch.argsort(frequencies, descending=True, stable=True)
    bands = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        words = torch.zeros(vocab, dtype=torch.bool)
        words[order[a:b]] = True
        bands.append(Band(f"ranks {a + 1}-{b}", words, float(frequencies[words].sum())))
    return bands


def band_losses(losses: Tensor, targets: Tensor, bands: Sequence[Band]) -> Tensor:
    """Mean of ``losses [..., N]`` over the targets ``[N]`` of each band: ``[...,
    len(bands)]`` (NaN for a band no target falls in)."""
    if losses.shape[-1] != targets.shape[-1]:
        raise ValueError(f"losses {tuple(losses.shape)} and targets "
                         f"{tuple(targets.shape)} must end in the same size")
    columns = []
    for band in bands:
        inside = band.words[targets]
        if not inside.any():
            columns.append(torch.full(losses.shape[:-1], math.nan, dtype=losses.dtype))
        else:
            columns.append(losses[..., inside].mean(-1))
    return torch.stack(columns, -1)
