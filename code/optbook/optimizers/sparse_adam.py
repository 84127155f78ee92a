"""SparseAdam ("lazy Adam"), from scratch: Adam on the rows that have a gradient.

An embedding of a large vocabulary gets, on each step, a gradient on the few rows that
the batch used. Adam would decay the averages of every row and move every row;
SparseAdam touches only the rows present in the sparse gradient. The chapter "After
AdamW" writes, for the set R_t of rows with a gradient at step t (the other rows keep
m, v and theta):

    (sparse.1)  m_r = beta1 m_r + (1 - beta1) g_r                    for r in R_t
    (sparse.2)  v_r = beta2 v_r + (1 - beta2) g_r^2                  for r in R_t
    (sparse.3)  theta_r = theta_r - lr sqrt(1 - beta2^t) / (1 - beta1^t)
                                    * m_r / (sqrt(v_r) + eps)          for r in R_t

t counts the optimizer's steps, not the row's. Reference: torch.optim.SparseAdam.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from optbook.optimizers.base import (
    PerParameterOptimizer,
    check_betas,
    check_nonnegative,
)


class SparseAdam(PerParameterOptimizer):
    """Lazy Adam for sparse gradients, as torch.optim.SparseAdam: (sparse.1)-(.3)."""

    sparse_gradients = "require"
    step_is_tensor = False  # torch keeps this optimizer's step as a Python int

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        maximize: bool = False,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, maximize=maximize)
        super().__init__(params, defaults)

    def validate(self, group: dict[str, Any]) -> None:
        check_nonnegative(group, "lr", "the learning rate")
        check_nonnegative(group, "eps", "the constant added to sqrt(v)")
        for name in ("lr", "eps"):
            if float(group[name]) == 0:
                raise ValueError(f"SparseAdam needs {name} > 0, as torch does")
        check_betas(group)
        for param in group["params"]:
            if param.is_sparse or param.is_complex():
                raise ValueError(
                    "SparseAdam needs dense, real (not complex) parameter "
                    "tensors, such as an embedding's weight; its gradient "
                    "is the sparse part"
                )

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {
            "step": 0,
            "exp_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
            "exp_avg_sq": torch.zeros_like(param, memory_format=torch.preserve_format),
        }

    def update(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, eps = group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        state["step"] += 1
        t = state["step"]
        grad = grad.coalesce()  # one entry per row: the update is not linear
        rows, values = grad._indices(), grad._values()
        if values.numel() == 0:
            return

        def on_rows(row_values: Tensor) -> Tensor:
            """A sparse tensor with these values on the gradient's rows."""
            if rows.dim() == 0 or row_values.dim() == 0:
                return grad.new().resize_as_(grad)
            return grad.new(rows, row_values, grad.size())

        m_old = m.sparse_mask(grad)._values()
        # (sparse.1), written as m += (1 - beta1)(g - m)
        m_change = values.sub(m_old).mul_(1 - beta1)
        m.add_(on_rows(m_change))
        v_old = v.sparse_mask(grad)._values()
        v_change = values.pow(2).sub_(v_old).mul_(1 - beta2)  # (sparse.2)
        v.add_(on_rows(v_change))
        m_rows = m_change.add_(m_old)  # the new m_r, without reading m again
        denom = v_change.add_(v_old).sqrt_().add_(eps)  # sqrt(v_r) + eps
        step_size = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)  # (sparse.3)
        param.add_(on_rows(-step_size * m_rows.div_(denom)))  # (sparse.3)
