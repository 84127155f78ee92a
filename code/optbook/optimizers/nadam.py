"""Nadam, from scratch: Adam with Nesterov momentum and Dozat's momentum schedule.

The chapter "AdaMax and Nadam" derives these equations; a comment (nadam.k) marks the
line that computes the chapter's equation nadam-k:

    (nadam.0)  g_t = g_t + lambda * theta_{t-1}                   (L2 weight decay)
               theta_{t-1} = (1 - lr * lambda) * theta_{t-1}       (decoupled)
    (nadam.3)  mu_t = beta1 * (1 - 0.5 * 0.96**(t * psi))    (psi = momentum_decay)
    (nadam.4)  P_t = mu_1 * mu_2 * ... * mu_t                      (state "mu_product")
    (nadam.1)  m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
    (nadam.2)  v_t = beta2 * v_{t-1} + (1 - beta2) * g_t**2
               d_t = sqrt(v_t / (1 - beta2**t)) + eps
    (nadam.5)  theta_t = theta_{t-1} - lr * (1 - mu_t) / (1 - P_t) * g_t / d_t
                                     - lr * mu_{t+1} / (1 - P_t * mu_{t+1}) * m_t / d_t

torch keeps mu_product as a 0-d tensor of the default scalar dtype (float32 unless the
default dtype is float64) and multiplies it in place; this module does the same, so the
rounding is the same.

Reference: torch.optim.NAdam (same arguments, same defaults).
"""

from __future__ import annotations

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


def momentum_schedule(t: float, beta1: float, momentum_decay: float) -> float:
    """Dozat's momentum coefficient at step t (nadam.3).

    mu_t = beta1 * (1 - 0.5 * 0.96**(t * psi)), with psi = momentum_decay. It warms up
    from about beta1 / 2 at t = 1 towards beta1 as t * psi grows.
    """
    return beta1 * (1.0 - 0.5 * (0.96 ** (t * momentum_decay)))


class NAdam(PerParameterOptimizer):
    """Nadam (Dozat, 2016), with torch's momentum schedule and weight-decay options.

    Arguments and defaults are torch.optim.NAdam's. momentum_decay is psi in (nadam.3).
    See the chapter "AdaMax and Nadam".
    """

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
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
            momentum_decay=momentum_decay,
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

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("decoupled_weight_decay", False)

    def validate(self, group: dict[str, Any]) -> None:
        check_nonnegative(group, "lr", "the learning rate, the size of the steps")
        check_nonnegative(
            group,
            "eps",
            "the small constant added to sqrt(v_hat) so that the step never divides "
            "by zero",
        )
        check_betas(group)
        check_nonnegative(group, "weight_decay", "the weight-decay coefficient lambda")
        check_nonnegative(
            group,
            "momentum_decay",
            "psi, how fast the momentum coefficient mu_t warms up from beta1/2 "
            "towards beta1",
        )

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        step = new_step_counter()
        fmt = torch.preserve_format
        return {
            "step": step,
            "mu_product": torch.ones((), dtype=step.dtype),  # P_0 = 1, torch's dtype
            "exp_avg": torch.zeros_like(param, memory_format=fmt),  # m_0 = 0
            "exp_avg_sq": torch.zeros_like(param, memory_format=fmt),  # v_0 = 0
        }

    def update(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, eps, lam = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        psi = group["momentum_decay"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        # A complex entry is a pair of real numbers, as in torch.optim.
        param, grad, m, v = real_views(param, grad, m, v)
        t = advance_step(state)
        bias_correction2 = 1 - beta2**t

        if lam != 0:
            if group["decoupled_weight_decay"]:
                param.mul_(1 - lr * lam)  # (nadam.0) decoupled
            else:
                grad = grad.add(param, alpha=lam)  # (nadam.0) L2
        mu = momentum_schedule(t, beta1, psi)  # (nadam.3) mu_t
        mu_next = momentum_schedule(t + 1, beta1, psi)  # (nadam.3) mu_{t+1}
        state["mu_product"] *= mu  # (nadam.4) P_t = P_{t-1} * mu_t, in its dtype

        m.lerp_(grad, 1 - beta1)  # (nadam.1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)  # (nadam.2)
        denom = v.div(bias_correction2).sqrt().add_(eps)  # (nadam.2) d_t

        mu_product = state["mu_product"].item()  # P_t
        mu_product_next = mu_product * mu_next  # P_{t+1}
        # (nadam.5), first the gradient term, then the momentum term
        param.addcdiv_(grad, denom, value=-lr * (1.0 - mu) / (1.0 - mu_product))
        param.addcdiv_(m, denom, value=(-lr * mu_next) / (1.0 - mu_product_next))
