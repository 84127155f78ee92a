"""Lion, from scratch: the sign of an interpolated momentum.

Lion (Chen et al., 2023) was found by a program search. It keeps one buffer, m, and
every coordinate moves by exactly lr per step (before weight decay):

    (lion.0)  theta = (1 - lr lambda) theta                   (decoupled weight decay)
    (lion.1)  c_t = sign(beta1 m_{t-1} + (1 - beta1) g_t)     (interpolate, take sign)
    (lion.2)  theta_t = theta - lr c_t
    (lion.3)  m_t = beta2 m_{t-1} + (1 - beta2) g_t           (then update the buffer)

Reference: the authors' package ``lion-pytorch`` (``lion_pytorch.Lion``, version 0.2.5):
same arguments, same defaults. Its ``decoupled_weight_decay=True`` divides lambda by the
initial learning rate, so that the decay does not follow a learning-rate schedule; its
``use_triton`` selects a GPU kernel (refused here, like torch's implementation
switches).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from optbook.optimizers.base import (
    PerParameterOptimizer,
    check_betas,
    check_nonnegative,
    real_views,
    refuse_implementation_switches,
)


class Lion(PerParameterOptimizer):
    """Lion (EvoLved Sign Momentum), as lion_pytorch.Lion: (lion.0)-(lion.3)."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
        use_triton: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        refuse_implementation_switches("Lion", {"fused": use_triton})
        self._initial_lr = lr
        defaults = dict(lr=lr, betas=betas, weight_decay=weight_decay)
        self.decoupled_weight_decay = decoupled_weight_decay
        super().__init__(params, defaults)

    def validate(self, group: dict[str, Any]) -> None:
        check_nonnegative(group, "lr", "the size of every coordinate's step")
        if float(group["lr"]) == 0:
            raise ValueError("Lion needs lr > 0, as its reference does")
        check_betas(group)
        check_nonnegative(group, "weight_decay", "the decoupled weight decay lambda")

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"exp_avg": torch.zeros_like(param)}

    def update(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, lam = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if self.decoupled_weight_decay:
            lam = lam / self._initial_lr
        # A complex entry is a pair of real numbers, as torch.optim treats it.
        param, grad, m = real_views(param, grad, state["exp_avg"])
        param.mul_(1.0 - lr * lam)  # (lion.0)
        c = m.clone().mul_(beta1).add(grad, alpha=1.0 - beta1).sgn_()  # (lion.1)
        param.add_(c, alpha=-lr)  # (lion.2)
        m.mul_(beta2).add_(grad, alpha=1.0 - beta2)  # (lion.3)
