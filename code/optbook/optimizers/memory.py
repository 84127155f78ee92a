"""How much memory an optimizer keeps per parameter, read off its actual state tensors.

:func:`state_numbers` builds the optimizer on one parameter of a given shape, takes
one step with a gradient of the layout the optimizer wants (sparse for SparseAdam), and
counts the numbers held in the state: every tensor's ``numel()``, the 0-d step counter
included.
:func:`state_per_parameter` divides by the parameter's size: Adam keeps 2 numbers per
parameter (plus one for the step), SGD with momentum 1, Adafactor on an n x m matrix
n + m (plus the step), which per parameter falls as the matrix grows.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["state_numbers", "state_per_parameter"]


def state_numbers(optimizer_class: type[torch.optim.Optimizer], shape: tuple[int, ...],
                  **options: Any) -> int:
    """The numbers in ``optimizer_class``'s state for one parameter of ``shape``."""
    if not shape or any(int(n) < 1 for n in shape):
        raise ValueError(f"shape must be a tuple of positive sizes, got {shape!r}")
    param = torch.nn.Parameter(torch.zeros(shape))
    optimizer = optimizer_class([param], **options)
    if getattr(optimizer_class, "sparse_gradients", "refuse") == "require" or (
        optimizer_class is torch.optim.SparseAdam
    ):
        rows = torch.arange(min(2, shape[0]))
        torch.nn.functional.embedding(rows, param, sparse=True).sum().backward()
    else:
        param.grad = torch.ones(shape)
    optimizer.step()
    state = optimizer.state.get(param, {})
    return sum(value.numel() for value in state.values() if torch.is_tensor(value))


def state_per_parameter(optimizer_class: type[torch.optim.Optimizer],
                        shape: tuple[int, ...], **options: Any) -> float:
    """:func:`state_numbers` divided by the number of entries of the parameter."""
    return state_numbers(optimizer_class, shape, **options) / torch.Size(shape).numel()
