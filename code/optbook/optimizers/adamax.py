"""AdaMax, from scratch: Adam with the infinity norm in place of the L2 norm.

The chapter "AdaMax and Nadam" derives these equations; a comment (adamax.k) marks the
line that computes the chapter's equation adamax-k:

    (adamax.0)  g_t = g_t + lambda * theta_{t-1}                  (L2 weight decay)
    (adamax.1)  m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
    (adamax.4)  u_t = max(beta2 * u_{t-1}, |g_t| + eps)    (the L-infinity average)
    (adamax.5)  theta_t = theta_{t-1} - lr / (1 - beta1**t) * m_t / u_t

Only m is bias-corrected: u_t starts at |g_1| (plus eps), it is not pulled towards zero.
torch puts eps inside the max (Kingma and Ba's Algorithm 2 has no eps at all).

Reference: torch.optim.Adamax (same arguments, same defaults).
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


class Adamax(PerParameterOptimizer):
    """AdaMax (Kingma and Ba, 2015, section 7.1) with optional L2 weight decay.

    Arguments and defaults are torch.optim.Adamax's. See the chapter "AdaMax and Nadam".
    """

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize
        )
        super().__init__(
            params,
            defaults,
            foreach=foreach,
            differentiable=differentiable,
            capturable=capturable,
        )

    def validate(self, group: dict[str, Any]) -> None:
        check_nonnegative(group, "lr", "the learning rate, the size of the steps")
        check_nonnegative(
            group, "eps", "the small constant added to |g| so that u never becomes zero"
        )
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        check_in_unit_interval(
            {"betas[0]": betas[0]}, "betas[0]", "the decay of the gradient average m"
        )
        check_in_unit_interval(
            {"betas[1]": betas[1]},
            "betas[1]",
            "the decay of the running maximum u of |g|",
        )
        check_nonnegative(group, "weight_decay", "the weight-decay coefficient lambda")

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        fmt = torch.preserve_format
        return {
            "step": new_step_counter(),
            "exp_avg": torch.zeros_like(param, memory_format=fmt),  # m_0 = 0
            "exp_inf": torch.zeros_like(param, memory_format=fmt),  # u_0 = 0
        }

    def update(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, eps, lam = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        m, u = state["exp_avg"], state["exp_inf"]
        t = advance_step(state)

        if lam != 0:
            grad = grad.add(param, alpha=lam)  # (adamax.0)
        # A complex entry is a pair of real numbers, as in torch.optim.
        param, grad, m, u = real_views(param, grad, m, u)
        m.lerp_(grad, 1 - beta1)  # (adamax.1)
        torch.maximum(u.mul_(beta2), grad.abs().add_(eps), out=u)  # (adamax.4)
        step_size = lr / (1 - beta1**t)  # (adamax.5) only m is bias-corrected
        param.addcdiv_(m, u, value=-step_size)  # (adamax.5)
