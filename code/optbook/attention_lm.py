"""A one-block transformer on the Zipfian language, many runs at once.

The chapter "When the optimizer decides" needs dozens of training runs (learning rates
times seeds times settings) on 2 CPU cores. A tiny model spends its time in Python and
in kernel launches, not in arithmetic, so :func:`train_stacked` trains ``L x S`` models
*as one*: every weight has a leading run axis, the forward pass is batched over it
(``einsum``), and the loss is the *sum* of the runs' losses. The gradient of that sum
with respect to run ``r``'s weights is run ``r``'s own gradient, and the book's
element-wise optimizers (SGD, Adam, sign descent) never mix coordinates: so the runs are
independent, exactly as :mod:`optbook.races` runs many starts at once
(``tests/test_attention_lm.py`` checks a stacked run against runs made one by one).
Each learning rate is one parameter group holding the ``S`` seeds' weights.

The model (:class:`TinyTransformer`): word and position embeddings, one pre-norm block
(causal self-attention with ``heads`` heads, then a ReLU MLP), a final norm and an
output layer; the norms are RMS norms without gains. Weights start as torch's layers
start them in scale: embeddings N(0, 1), matrices N(0, 1 / fan-in).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.nn import functional as F

from optbook.zipf_language import Band, band_losses

__all__ = ["Runs", "TinyTransformer", "Tuned", "count_spikes", "linear_warmup",
           "block_scales", "train_stacked", "tune_lr"]

Factory = Callable[[list[dict]], torch.optim.Optimizer]


@dataclass(frozen=True)
class TinyTransformer:
    """A one-block transformer's shape; its weights live outside, stacked over runs."""

    vocab: int = 512
    dim: int = 32
    heads: int = 2
    context: int = 16
    hidden: int = 128

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Each weight block's shape (without the run axis), in forward order."""
        d = self.dim
        return {"embedding": (self.vocab, d), "position": (self.context, d),
                "qkv": (d, 3 * d), "proj": (d, d), "mlp_in": (d, self.hidden),
                "mlp_out": (self.hidden, d), "output": (d, self.vocab)}

    def init(self, seed: int) -> dict[str, Tensor]:
        """One run's weights, drawn from ``seed``."""
        generator = torch.Generator().manual_seed(seed)
        weights = {}
        for name, shape in self.shapes().items():
            std = 1.0 if name in ("embedding", "position") else shape[0] ** -0.5
            weights[name] = std * torch.randn(shape, generator=generator)
        return weights

    def forward(self, w: dict[str, Tensor], words: Tensor) -> Tensor:
        """Logits ``[R, B, T, vocab]`` for words ``[R, B, T]``, weights ``[R, ...]``."""
        runs, batch, length = words.shape
        if length > self.context:
            raise ValueError(f"at most {self.context} words, got {length}")
        rows = torch.arange(runs)[:, None, None]
        x = w["embedding"][rows, words] + w["position"][:, None, :length]
        q, k, v = torch.einsum("rbtd,rde->rbte", _norm(x), w["qkv"]).chunk(3, dim=-1)
        heads, size = self.heads, self.dim // self.heads

        def split(t: Tensor) -> Tensor:  # [R, B, T, D] -> [R, B, heads, T, size]
            return t.view(runs, batch, length, heads, size).transpose(2, 3)

        q, k, v = split(q), split(k), split(v)
        scores = q @ k.transpose(-1, -2) / math.sqrt(size)
        causal = torch.ones(length, length, dtype=torch.bool).tril()
        scores = scores.masked_fill(~causal, float("-inf"))
        mixed = (scores.softmax(-1) @ v).transpose(2, 3)
        mixed = mixed.reshape(runs, batch, length, -1)
        x = x + torch.einsum("rbtd,rde->rbte", mixed, w["proj"])
        h = torch.relu(torch.einsum("rbtd,rdh->rbth", _norm(x), w["mlp_in"]))
        x = x + torch.einsum("rbth,rhd->rbtd", h, w["mlp_out"])
        return torch.einsum("rbtd,rdv->rbtv", _norm(x), w["output"])

    def token_losses(self, w: dict[str, Tensor], sentences: Tensor) -> Tensor:
        """Cross-entropy of every next word, ``[R, B, T]``, for sentences ``[R, B,
        T + 1]``."""
        logits = self.forward(w, sentences[..., :-1])
        targets = sentences[..., 1:]
        return F.cross_entropy(logits.flatten(0, 2), targets.flatten(),
                               reduction="none").view(targets.shape)


def _norm(x: Tensor) -> Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)


def linear_warmup(steps: int) -> Callable[[int], float]:
    """The factor on the learning rate at step ``t`` (0-based): ``(t + 1) / steps``
    for the first ``steps`` steps, then 1."""
    if steps < 1:
        raise ValueError(f"a warm-up lasts at least 1 step, got {steps}")
    return lambda t: min(1.0, (t + 1) / steps)


@dataclass
class Runs:
    """``L`` learning rates x ``S`` seeds, trained together.

    ``train [steps, L, S]``: each step's training loss (nats per word);
    ``valid [E, L, S]`` and ``bands [E, L, S, n_bands]``: the validation loss, overall
    and per frequency band, at the steps ``eval_steps``; ``update_rms [steps, L, S]``:
    the root-mean-square size of each step's change of the weights (if recorded).
    A diverged run holds ``inf`` or ``nan``.
    """

    lrs: list[float]
    seeds: list[int]
    train: Tensor
    eval_steps: list[int]
    valid: Tensor
    bands: Tensor
    update_rms: Tensor | None = None
    weights: list[dict[str, Tensor]] = field(default_factory=list, repr=False)

    def final(self) -> Tensor:
        """The last validation loss per run ``[L, S]``; ``inf`` where not finite."""
        last = self.valid[-1]
        return torch.where(torch.isfinite(last), last, torch.inf)


def train_stacked(
    model: TinyTransformer,
    method: Factory,
    lrs: Sequence[float],
    seeds: Sequence[int],
    pool: Tensor,
    valid: Tensor,
    *,
    steps: int,
    batch: int,
    bands: Sequence[Band] = (),
    eval_every: int = 50,
    schedule: Callable[[int], float] | None = None,
    record_updates: bool = False,
) -> Runs:
    """Train ``len(lrs) x len(seeds)`` models at once (see the module docstring).

    ``method(groups)`` builds the optimizer from one parameter group per learning rate
    (each group's ``"lr"`` is set). Seed ``s`` fixes the initial weights and the order
    in which batches of ``batch`` sentences are drawn from ``pool [N, T + 1]``: runs
    with the same seed see the same data at every learning rate. ``schedule(t)``
    multiplies every group's learning rate at step ``t``. ``valid [M, T + 1]``: the
    fixed validation sentences.
    """
    lrs, seeds = [float(lr) for lr in lrs], [int(s) for s in seeds]
    if not lrs or any(not (lr > 0 and math.isfinite(lr)) for lr in lrs):
        raise ValueError(f"learning rates must be positive and finite, got {lrs}")
    if not seeds or steps < 1 or batch < 1:
        raise ValueError("need at least one seed, one step and a batch of 1")
    starts = [model.init(s) for s in seeds]
    groups = [{name: torch.stack([w[name] for w in starts]).requires_grad_(True)
               for name in model.shapes()} for _ in lrs]
    optimizer = method([{"params": list(g.values()), "lr": lr}
                        for g, lr in zip(groups, lrs, strict=True)])
    generators = [torch.Generator().manual_seed(10_000 + s) for s in seeds]
    n_l, n_s = len(lrs), len(seeds)
    train = torch.empty(steps, n_l, n_s)
    update_rms = torch.empty(steps, n_l, n_s) if record_updates else None
    eval_steps, valid_losses, band_rows = [], [], []

    def evaluate(step: int) -> None:
        with torch.no_grad():
            per_group = []
            for g in groups:
                sentences = valid.expand(n_s, *valid.shape)
                per_group.append(model.token_losses(g, sentences).flatten(1))
            losses = torch.stack(per_group)  # [L, S, tokens]
        eval_steps.append(step)
        valid_losses.append(losses.mean(-1))
        targets = valid[:, 1:].flatten()
        band_rows.append(band_losses(losses, targets, bands) if bands
                         else torch.empty(n_l, n_s, 0))

    for step in range(steps):
        if step % eval_every == 0:
            evaluate(step)
        if schedule is not None:
            factor = schedule(step)
            for group, lr in zip(optimizer.param_groups, lrs, strict=True):
                group["lr"] = lr * factor
        rows = torch.stack([torch.randint(0, len(pool), (batch,), generator=g)
                            for g in generators])
        sentences = pool[rows].repeat(n_l, 1, 1)  # [L * S, batch, T + 1]
        stacked = {name: torch.cat([g[name] for g in groups]) for name in groups[0]}
        losses = model.token_losses(stacked, sentences).mean((1, 2))  # [L * S]
        optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        before = ([{n: t.detach().clone() for n, t in g.items()} for g in groups]
                  if record_updates else None)
        optimizer.step()
        train[step] = losses.detach().view(n_l, n_s)
        if before is not None:
            for i, (g, old) in enumerate(zip(groups, before, strict=True)):
                squares = sum((g[n].detach() - old[n]).pow(2).flatten(1).sum(1)
                              for n in g)
                count = sum(t[0].numel() for t in g.values())
                update_rms[step, i] = (squares / count).sqrt()
    evaluate(steps)
    return Runs(lrs, seeds, train, eval_steps, torch.stack(valid_losses),
                torch.stack(band_rows), update_rms,
                [{n: t.detach() for n, t in g.items()} for g in groups])


def count_spikes(losses: Tensor, window: int = 20, jump: float = 0.5) -> Tensor:
    """Loss spikes per run of ``losses [steps, N]``: the number of times the loss rises
    more than ``jump`` above the mean of the ``window`` steps before it (a spike that
    lasts several steps counts once). A run that ends non-finite (diverged) counts at
    least one."""
    losses = torch.as_tensor(losses, dtype=torch.float64)
    if losses.dim() != 2 or window < 1 or losses.shape[0] <= window:
        raise ValueError(f"expected losses [steps > {window}, N], got "
                         f"{tuple(losses.shape)}")
    finite = torch.where(torch.isfinite(losses), losses, torch.inf)
    baseline = finite.unfold(0, window, 1)[:-1].mean(-1)  # mean of the window before
    above = finite[window:] > baseline + jump
    starts = above & ~torch.cat([torch.zeros_like(above[:1]), above[:-1]])
    counts = starts.sum(0)
    return counts + (~torch.isfinite(losses[-1]) & (counts == 0)).long()


@dataclass
class Tuned:
    """A learning-rate sweep (mean final validation loss per rate over the sweep's
    seeds) and the rate chosen, strictly inside the grid."""

    sweep: dict[float, float]
    chosen_lr: float

    @property
    def inside_grid(self) -> bool:
        rates = sorted(self.sweep)
        return rates[0] < self.chosen_lr < rates[-1]


def tune_lr(run: Callable[[list[float]], Runs], grid: Sequence[float],
            max_extensions: int = 3) -> Tuned:
    """The comparison chapter's protocol, step 1: run every rate of ``grid`` (``run``
    trains a list of rates, stacked, and returns their :class:`Runs`), choose the rate
    with the lowest mean final validation loss; while it sits on an edge of the grid,
    extend the grid one step (the grid's ratio) in that direction."""
    rates = sorted(float(lr) for lr in grid)
    if len(rates) < 3:
        raise ValueError(f"a grid needs at least 3 rates, got {rates}")
    sweep: dict[float, float] = {}
    todo = rates
    for _ in range(max_extensions + 1):
        runs = run(todo)
        for lr, losses in zip(todo, runs.final(), strict=True):
            mean = losses.mean().item()
            sweep[lr] = mean if math.isfinite(mean) else math.inf
        rates = sorted(sweep)
        best = min(rates, key=sweep.__getitem__)
        if best == rates[0]:
            todo = [rates[0] * rates[0] / rates[1]]
        elif best == rates[-1]:
            todo = [rates[-1] * rates[-1] / rates[-2]]
        else:
            break
    return Tuned(dict(sorted(sweep.items())), best)


def block_scales(loss_fn: Callable[[dict[str, Tensor]], Tensor],
                 weights: dict[str, Tensor], probes: int = 8,
                 seed: int = 0) -> dict[str, tuple[float, float]]:
    """Each block's gradient RMS and mean curvature at ``weights`` (one run's).

    The mean curvature of block ``b`` is ``trace(H_bb) / n_b``, the average diagonal
    entry of the Hessian's block, estimated as Hutchinson does: for random signs ``v``,
    ``E[v_b . (H v)_b] = trace(H_bb)`` (exact for a diagonal Hessian); ``probes``
    Hessian-vector products are averaged.
    """
    if probes < 1:
        raise ValueError(f"probes must be at least 1, got {probes}")
    w = {n: t.detach().clone().requires_grad_(True) for n, t in weights.items()}
    grads = torch.autograd.grad(loss_fn(w), list(w.values()), create_graph=True)
    generator = torch.Generator().manual_seed(seed)
    traces = torch.zeros(len(w), dtype=torch.float64)
    for _ in range(probes):
        signs = [torch.randint(0, 2, t.shape, generator=generator).to(t.dtype) * 2 - 1
                 for t in w.values()]
        dot = sum((g * v).sum() for g, v in zip(grads, signs, strict=True))
        hv = torch.autograd.grad(dot, list(w.values()), retain_graph=True)
        traces += torch.stack([(v * h).sum().double()
                               for v, h in zip(signs, hv, strict=True)])
    return {n: (g.detach().pow(2).mean().sqrt().item(),
                (traces[i] / probes / t.numel()).item())
            for i, ((n, t), g) in enumerate(zip(w.items(), grads, strict=True))}
