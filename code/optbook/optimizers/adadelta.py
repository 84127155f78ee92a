"""Adadelta, from scratch: a step whose units are those of the parameters.

The chapter "After AdamW" derives these equations (Zeiler, 2012):

    (adadelta.0)  g_t = g_t + lambda theta_{t-1}                      (L2 weight decay)
    (adadelta.1)  E[g^2]_t = rho E[g^2]_{t-1} + (1 - rho) g_t^2
    (adadelta.2)  d_t = sqrt(E[d^2]_{t-1} + eps) / sqrt(E[g^2]_t + eps) * g_t
    (adadelta.3)  E[d^2]_t = rho E[d^2]_{t-1} + (1 - rho) d_t^2
    (adadelta.4)  theta_t = theta_{t-1} - lr d_t          (Zeiler's rule is lr = 1)

Reference: torch.optim.Adadelta (same arguments, same defaults).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from optbook.optimizers.base import (
    PerParameterOptimizer,
    advance_step,
    check_in_unit_interval,
    check_nonnegative,
    new_step_counter,
    real_views,
)


class Adadelta(PerParameterOptimizer):
    """Adadelta, as torch.optim.Adadelta: equations (adadelta.0)-(adadelta.4)."""

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize
        )
        super().__init__(
            params,
            defaults,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
        )

    def validate(self, group: dict[str, Any]) -> None:
        check_nonnegative(group, "lr", "the learning rate; Zeiler's rule uses 1")
        check_in_unit_interval(group, "rho", "the decay of both averages", closed=True)
        check_nonnegative(group, "eps", "the constant inside both square roots")
        check_nonnegative(group, "weight_decay", "the L2 penalty lambda")

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {
            "step": new_step_counter(),
            "square_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
            "acc_delta": torch.zeros_like(param, memory_format=torch.preserve_format),
        }

    def update(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        lam = group["weight_decay"]
        advance_step(state)  # counted as torch counts it; the rule does not use t
        if lam != 0:
            grad = grad.add(param, alpha=lam)  # (adadelta.0)
        # A complex entry is a pair of real numbers, as in torch.optim.
        grad, square_avg, acc_delta = real_views(
            grad, state["square_avg"], state["acc_delta"]
        )
        square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)  # (adadelta.1)
        std = square_avg.add(eps).sqrt_()
        delta = acc_delta.add(eps).sqrt_().div_(std).mul_(grad)  # (adadelta.2)
        acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)  # (adadelta.3)
        if torch.is_complex(param):
            delta = torch.view_as_complex(delta)
        param.add_(delta, alpha=-lr)  # (adadelta.4)
