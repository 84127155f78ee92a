"""A small character-level language model, for racing the optimizers after AdamW.

The text is optbook's own source code (it ships with the book, so every reader trains on
the same characters). The model reads 8 characters and predicts the next: an embedding
table (dense or sparse gradients), one hidden weight matrix, an output layer. So it has
the three kinds of parameter the chapter "After AdamW" needs: rows of an embedding
(SparseAdam), weight matrices (Muon, Adafactor's factored moments) and vectors.

:func:`race` runs the comparison chapter's protocol on it: for every method a sweep of
learning rates over several seeds, the chosen rate strictly inside its grid (the grid is
extended while the best rate sits on an edge), then fresh seeds at the chosen rate.
"""

from __future__ import annotations

import importlib
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

import optbook.optimizers as opt

__all__ = ["CharData", "CharModel", "METHODS", "RaceResult", "corpus", "race",
           "train_run"]

SOURCE_MODULES = ("optbook.optimizers.base", "optbook.optimizers.adam",
                  "optbook.optimizers.rmsprop", "optbook.optimizers.adagrad",
                  "optbook.optimizers.sgd", "optbook.verify", "optbook.training",
                  "optbook.landscapes", "optbook.paths")
ALPHABET = "\n" + "".join(chr(c) for c in range(32, 127))


def corpus() -> str:
    """optbook's source code (a fixed list of modules), in printable ASCII."""
    text = "".join(importlib.util.find_spec(name).loader.get_source(name)
                   for name in SOURCE_MODULES)
    return "".join(c if c in ALPHABET else "?" for c in text)


class CharData:
    """The text as character indices, split into training (90 %) and validation text."""

    def __init__(self, text: str | None = None, context: int = 8) -> None:
        text = corpus() if text is None else text
        if len(text) < 20 * context:
            raise ValueError(f"the text is too short ({len(text)} characters)")
        lookup = {c: i for i, c in enumerate(ALPHABET)}
        codes = torch.tensor([lookup.get(c, lookup["?"]) for c in text])
        split = int(0.9 * len(codes))
        self.train, self.valid = codes[:split], codes[split:]
        self.context, self.vocab = context, len(ALPHABET)

    def batch(self, size: int, generator: torch.Generator,
              part: str = "train") -> tuple[Tensor, Tensor]:
        """``size`` random windows: contexts ``[size, context]``, next characters."""
        codes = self.train if part == "train" else self.valid
        last = len(codes) - self.context
        starts = torch.randint(0, last, (size,), generator=generator)
        windows = starts[:, None] + torch.arange(self.context + 1)
        chunk = codes[windows]
        return chunk[:, :-1], chunk[:, -1]


class CharModel(nn.Module):
    """Embedding (vocab x 16) -> hidden matrix (128 -> 96) -> tanh -> output (vocab)."""

    def __init__(self, vocab: int, context: int = 8, dim: int = 16, hidden: int = 96,
                 sparse: bool = False) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim, sparse=sparse)
        self.hidden = nn.Linear(context * dim, hidden, bias=False)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, contexts: Tensor) -> Tensor:
        vectors = self.embedding(contexts).flatten(1)
        return self.out(torch.tanh(self.hidden(vectors)))


def _split(model: CharModel) -> tuple[list[Tensor], list[Tensor]]:
    """The hidden weight matrix, and everything else (embedding, output layer)."""
    matrices = [model.hidden.weight]
    rest = [p for p in model.parameters() if all(p is not m for m in matrices)]
    return matrices, rest


def _one(cls, **options) -> Callable[[CharModel, float], list]:
    return lambda model, lr: [cls(model.parameters(), lr=lr, **options)]


def _muon(model: CharModel, lr: float) -> list:
    """Muon for the hidden matrix; AdamW (lr / 10) for embedding and output layer."""
    matrices, rest = _split(model)
    return [opt.Muon(matrices, lr=lr), opt.AdamW(rest, lr=lr / 10)]


def _sparse_adam(model: CharModel, lr: float) -> list:
    """SparseAdam for the (sparse) embedding; Adam for the dense rest."""
    table = [model.embedding.weight]
    dense = [p for p in model.parameters() if p is not model.embedding.weight]
    return [opt.SparseAdam(table, lr=lr), opt.Adam(dense, lr=lr)]


# name -> (builder of the optimizers, needs a sparse embedding, learning-rate grid)
METHODS: dict[str, tuple[Callable[[CharModel, float], list], bool, list[float]]] = {
    "SGD+momentum": (_one(opt.SGD, momentum=0.9), False, [0.03, 0.1, 0.3]),
    "Adam": (_one(opt.Adam), False, [3e-3, 1e-2, 3e-2]),
    "AdamW": (_one(opt.AdamW), False, [3e-3, 1e-2, 3e-2]),
    "RAdam": (_one(opt.RAdam), False, [1e-2, 3e-2, 0.1]),
    "Adadelta": (_one(opt.Adadelta), False, [1.0, 3.0, 10.0]),
    "Adafactor": (_one(opt.Adafactor), False, [0.03, 0.1, 0.3]),
    "Lion": (_one(opt.Lion), False, [3e-4, 1e-3, 3e-3]),
    "Muon+AdamW": (_muon, False, [1e-2, 3e-2, 0.1]),
    "SparseAdam+Adam": (_sparse_adam, True, [3e-3, 1e-2, 3e-2]),
}


def train_run(method: str, lr: float, seed: int, data: CharData, steps: int = 200,
              batch: int = 64) -> float:
    """Train one model; its validation loss (nats per character) on fixed windows."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {sorted(METHODS)}")
    build, sparse, _ = METHODS[method]
    torch.manual_seed(seed)
    model = CharModel(data.vocab, data.context, sparse=sparse)
    optimizers = build(model, lr)
    generator = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        contexts, targets = data.batch(batch, generator)
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        loss_fn(model(contexts), targets).backward()
        for optimizer in optimizers:
            optimizer.step()
    with torch.no_grad():
        fixed = torch.Generator().manual_seed(12345)  # the same windows for every run
        contexts, targets = data.batch(2048, fixed, "valid")
        value = loss_fn(model(contexts), targets).item()
    return value if value == value else float("inf")  # a diverged run loses


@dataclass
class RaceResult:
    """One method's sweep (mean validation loss per rate) and its final runs."""

    method: str
    sweep: dict[float, float]
    chosen_lr: float
    final: list[float] = field(default_factory=list)

    @property
    def inside_grid(self) -> bool:
        rates = sorted(self.sweep)
        return rates[0] < self.chosen_lr < rates[-1]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.final)

    @property
    def sd(self) -> float:
        return statistics.stdev(self.final) if len(self.final) > 1 else 0.0


def race(methods: Sequence[str], data: CharData, *, sweep_seeds: Sequence[int] = (0, 1),
         final_seeds: Sequence[int] = (10, 11, 12), steps: int = 200,
         max_extensions: int = 2) -> list[RaceResult]:
    """The comparison chapter's protocol for each method (see the module docstring)."""
    results = []
    for method in methods:
        grid = list(METHODS[method][2])
        sweep: dict[float, float] = {}
        for _ in range(max_extensions + 1):
            for lr in grid:
                if lr not in sweep:
                    sweep[lr] = statistics.fmean(
                        train_run(method, lr, s, data, steps) for s in sweep_seeds)
            best = min(sweep, key=sweep.get)
            rates = sorted(sweep)
            if best == rates[0]:
                grid = [rates[0] * rates[0] / rates[1]]  # one step further down
            elif best == rates[-1]:
                grid = [rates[-1] * rates[-1] / rates[-2]]  # one step further up
            else:
                break
        result = RaceResult(method, dict(sorted(sweep.items())), best)
        result.final = [train_run(method, best, s, data, steps) for s in final_seeds]
        results.append(result)
    return results
