"""Proving a from-scratch optimizer equal to its reference: both run side by side.

:func:`compare_with_reference` trains the same small network twice from the same start,
once with each optimizer, on the same stream of mini-batches, and records after every
step how far apart the two sets of parameters are. The run is built to exercise
everything an optimizer has to get right:

- three parameter tensors of different shapes in two parameter groups (the second
  group can override hyperparameters, a different learning rate say), and a fourth
  parameter that only gets a gradient on every third step (``p.grad is None`` on the
  others);
- optionally a learning-rate scheduler, stepped after every optimizer step;
- optionally a ``state_dict()`` save and load in the middle of the run: both
  optimizers (and schedulers) are serialised to bytes, thrown away, rebuilt and loaded,
  and the run goes on.

Used by the tests and shown in every optimizer chapter.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

OptimizerFactory = Callable[[list[dict[str, Any]]], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], Any]


@dataclass
class Comparison:
    """What a side-by-side run found."""

    steps: int
    # max over steps and tensors of ||ours - ref||_inf / ||ref||_inf
    max_rel_diff: float
    max_abs_diff: float
    # ||theta_T - theta_0|| of the reference: the run was not trivial
    distance_travelled: float
    first_loss: float
    last_loss: float
    rel_diff_per_step: list[float] = field(repr=False, default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.steps} steps: max relative difference {self.max_rel_diff:.2e}, "
            f"max absolute difference {self.max_abs_diff:.2e}; "
            f"parameters moved {self.distance_travelled:.3g}, "
            f"loss {self.first_loss:.4g} -> {self.last_loss:.4g}"
        )


def _make_parameters(generator: torch.Generator, dtype: torch.dtype) -> list[Tensor]:
    shapes = [(8, 5), (8,), (8,), (5,)]
    return [
        torch.randn(shape, generator=generator, dtype=dtype) * 0.5 for shape in shapes
    ]


def _loss(params: list[Tensor], x: Tensor, y: Tensor, step: int) -> Tensor:
    weight, bias, head, extra = params
    prediction = torch.tanh(x @ weight.T + bias) @ head
    if step % 3 == 0:  # the fourth parameter only takes part on every third step
        prediction = prediction + x @ extra
    return torch.mean((prediction - y) ** 2)


def _groups(
    params: list[Tensor], second_group: dict[str, Any] | None
) -> list[dict[str, Any]]:
    if second_group is None:
        return [{"params": params}]
    return [{"params": params[:2]}, {"params": params[2:], **second_group}]


def _reload(
    optimizer: torch.optim.Optimizer,
    make: OptimizerFactory,
    params: list[Tensor],
    second_group: dict[str, Any] | None,
    scheduler: Any,
    make_scheduler: SchedulerFactory | None,
):
    """Save optimizer (and scheduler) to bytes, rebuild both afresh and load them."""
    buffer = io.BytesIO()
    torch.save(
        {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
        },
        buffer,
    )
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=False)
    fresh = make(_groups(params, second_group))
    fresh.load_state_dict(saved["optimizer"])
    fresh_scheduler = None
    if make_scheduler is not None:
        fresh_scheduler = make_scheduler(fresh)
        fresh_scheduler.load_state_dict(saved["scheduler"])
    return fresh, fresh_scheduler


def compare_with_reference(
    make_ours: OptimizerFactory,
    make_reference: OptimizerFactory,
    *,
    steps: int = 500,
    second_group: dict[str, Any] | None = None,
    make_scheduler: SchedulerFactory | None = None,
    reload_at: int | None = None,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
) -> Comparison:
    """Run two optimizers side by side on the same problem and measure how far apart
    they get.

    ``make_ours`` and ``make_reference`` take a list of parameter-group dicts and return
    an optimizer, for example ``lambda groups: torch.optim.Adam(groups, lr=1e-2)``.
    ``second_group`` (say ``{"lr": 3e-3}``) splits the parameters into two groups and
    overrides these options in the second. ``reload_at=k`` saves and reloads both
    optimizers (and schedulers) after step ``k``.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if reload_at is not None and not 0 < reload_at < steps:
        raise ValueError(
            f"reload_at must lie strictly between 0 and steps={steps}, got {reload_at}"
        )
    generator = torch.Generator().manual_seed(seed)
    start = _make_parameters(generator, dtype)
    teacher = torch.randn(5, generator=generator, dtype=dtype)
    runs = {}
    for name, make in (("ours", make_ours), ("reference", make_reference)):
        params = [tensor.clone().requires_grad_(True) for tensor in start]
        optimizer = make(_groups(params, second_group))
        scheduler = make_scheduler(optimizer) if make_scheduler is not None else None
        runs[name] = {
            "make": make,
            "params": params,
            "optimizer": optimizer,
            "scheduler": scheduler,
        }

    rel_diffs: list[float] = []
    max_abs = 0.0
    losses = []
    for step in range(1, steps + 1):
        x = torch.randn(16, 5, generator=generator, dtype=dtype)
        y = torch.sin(x @ teacher) + 0.1 * torch.randn(
            16, generator=generator, dtype=dtype
        )
        for name, run in runs.items():
            run["optimizer"].zero_grad(set_to_none=True)
            loss = _loss(run["params"], x, y, step)
            loss.backward()
            run["optimizer"].step()
            if run["scheduler"] is not None:
                run["scheduler"].step()
            if name == "reference":
                losses.append(loss.item())
            if step == reload_at:
                run["optimizer"], run["scheduler"] = _reload(
                    run["optimizer"],
                    run["make"],
                    run["params"],
                    second_group,
                    run["scheduler"],
                    make_scheduler,
                )
        step_rel = 0.0
        for ours, ref in zip(
            runs["ours"]["params"], runs["reference"]["params"], strict=True
        ):
            diff = (ours.detach() - ref.detach()).abs().max().item()
            scale = ref.detach().abs().max().item()
            if (
                diff != diff or scale != scale
            ):  # NaN anywhere is a difference, not a pass
                diff, scale = float("inf"), 1.0
            max_abs = max(max_abs, diff)
            step_rel = max(step_rel, diff / max(scale, 1e-300))
        rel_diffs.append(step_rel)

    moved = torch.sqrt(
        sum(
            ((p.detach() - s) ** 2).sum()
            for p, s in zip(runs["reference"]["params"], start, strict=True)
        )
    ).item()
    return Comparison(
        steps=steps,
        max_rel_diff=max(rel_diffs),
        max_abs_diff=max_abs,
        distance_travelled=moved,
        first_loss=losses[0],
        last_loss=losses[-1],
        rel_diff_per_step=rel_diffs,
    )
