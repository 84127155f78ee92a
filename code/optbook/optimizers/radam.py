"""RAdam, from scratch: Adam whose adaptive step waits until it can be trusted.

The chapter "After AdamW" derives these equations (Liu et al., 2020):

    (radam.0)  g_t = g_t + lambda theta  (L2),  or  theta = (1 - lr lambda) theta
               (decoupled)
    (radam.1)  m_t = beta1 m_{t-1} + (1 - beta1) g_t
    (radam.2)  v_t = beta2 v_{t-1} + (1 - beta2) g_t^2
    (radam.3)  m_hat = m_t / (1 - beta1^t)
    (radam.4)  rho_inf = 2 / (1 - beta2) - 1,
               rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
    (radam.5)  r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf
                          / ((rho_inf - 4)(rho_inf - 2) rho_t))
    (radam.6)  theta = theta - lr m_hat r_t sqrt(1 - beta2^t) / (sqrt(v_t) + eps)
               if rho_t > 5, else
    (radam.7)  theta = theta - lr m_hat                    (SGD with momentum)

r_t is the paper's rectifier, without the bias correction sqrt(1 - beta2^t), which
(radam.6) applies separately. The variance of the adaptive step is finite for rho_t > 4
(the paper's condition); the threshold 5 is torch's choice, and the official code's.

Reference: torch.optim.RAdam (same arguments, same defaults).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from optbook.optimizers.base import (
    PerParameterOptimizer,
    advance_step,
    check_betas,
    check_nonnegative,
    new_step_counter,
    real_views,
)


def rho(beta2: float, t: float) -> tuple[float, float]:
    """(radam.4): the length of the SMA, at infinity and at step t."""
    rho_inf = 2 / (1 - beta2) - 1
    return rho_inf, rho_inf - 2 * t * (beta2**t) / (1 - beta2**t)


def rectifier(beta2: float, t: float) -> float | None:
    """(radam.5): the rectifier r_t at step t, or None where torch takes the SGD step
    (rho_t <= 5)."""
    rho_inf, rho_t = rho(beta2, t)
    if rho_t <= 5:
        return None
    return math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                     / ((rho_inf - 4) * (rho_inf - 2) * rho_t))


class RAdam(PerParameterOptimizer):
    """Rectified Adam, as torch.optim.RAdam: equations (radam.0)-(radam.7)."""

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(
            params,
            defaults,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
        )

    def validate(self, group: dict[str, Any]) -> None:
        check_nonnegative(group, "lr", "the learning rate")
        check_nonnegative(group, "eps", "the constant added to sqrt(v)")
        check_betas(group)
        check_nonnegative(group, "weight_decay", "the weight-decay coefficient lambda")

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {
            "step": new_step_counter(),
            "exp_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
            "exp_avg_sq": torch.zeros_like(param, memory_format=torch.preserve_format),
        }

    def update(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, eps, lam = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        # A complex entry is a pair of real numbers, as in torch.optim.
        param, grad, m, v = real_views(param, grad, m, v)
        t = advance_step(state)
        if lam != 0:
            if group["decoupled_weight_decay"]:
                param.mul_(1 - lr * lam)  # (radam.0) decoupled
            else:
                grad = grad.add(param, alpha=lam)  # (radam.0) L2
        m.lerp_(grad, 1 - beta1)  # (radam.1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)  # (radam.2)
        bias_correction2 = 1 - beta2**t
        m_hat = m / (1 - beta1**t)  # (radam.3)
        rho_inf, rho_t = rho(beta2, t)  # (radam.4)
        if rho_t > 5.0:
            r_t = (
                (rho_t - 4)
                * (rho_t - 2)
                * rho_inf
                / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5  # (radam.5)
            adaptive = (bias_correction2**0.5) / v.sqrt().add_(eps)  # 1 / sqrt(v_hat)
            param.add_(m_hat * lr * adaptive * r_t, alpha=-1.0)  # (radam.6)
        else:
            param.add_(m_hat * lr, alpha=-1.0)  # (radam.7)
