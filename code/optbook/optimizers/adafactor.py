"""Adafactor, from scratch: Adam's second moment in factored form, no first moment.

For an n x m weight matrix Adam keeps n m second moments; Adafactor (Shazeer and
Stern, 2018) keeps a row average R (n numbers) and a column average C (m numbers) of
the squared gradient and rebuilds the matrix of second moments from them. The chapter
"After AdamW" derives the step as torch.optim.Adafactor computes it (c = beta2_decay):

    (adafactor.1)  1 - beta2_t = t^c          (the averages forget more slowly with t)
    (adafactor.2)  rho_t = min(lr, 1 / sqrt(t))                  (relative step size)
    (adafactor.3)  alpha_t = max(eps2, RMS(theta_{t-1})) rho_t   (scaled by the weights)
    (adafactor.4)  R_t = beta2_t R_{t-1} + (1 - beta2_t) mean_cols(g_t^2)
                   C_t = beta2_t C_{t-1} + (1 - beta2_t) mean_rows(g_t^2)
    (adafactor.5)  V_t = R_t C_t / mean(R_t)     (rank one; a vector keeps V_t in full)
    (adafactor.6)  U_t = g_t / sqrt(max(V_t, eps1^2))
    (adafactor.7)  theta_t = theta_{t-1} - alpha_t U_t / max(1, RMS(U_t) / d)   (clip)

Weight decay, if any, shrinks theta by (1 - lr lambda) first. Reference:
torch.optim.Adafactor (same arguments, same defaults).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from optbook.optimizers.base import (
    PerParameterOptimizer,
    advance_step,
    check_nonnegative,
    new_step_counter,
)


class Adafactor(PerParameterOptimizer):
    """Adafactor, as torch.optim.Adafactor: equations (adafactor.1)-(adafactor.7)."""

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            beta2_decay=beta2_decay,
            eps=eps,
            d=d,
            weight_decay=weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults, foreach=foreach)

    def validate(self, group: dict[str, Any]) -> None:
        check_nonnegative(group, "lr", "the learning rate, the largest relative step")
        if not group["beta2_decay"] <= 0:
            raise ValueError(
                "beta2_decay (the exponent c in 1 - beta2_t = t^c) must be "
                f"<= 0, got {group['beta2_decay']!r}"
            )
        eps1, eps2 = group["eps"]
        if eps1 is not None and not eps1 >= 0:
            raise ValueError(
                f"eps[0] (the floor of sqrt(V)) must be >= 0, got {eps1!r}"
            )
        if not eps2 >= 0:
            raise ValueError(
                f"eps[1] (the floor of RMS(theta)) must be >= 0, got {eps2!r}"
            )
        if not group["d"] >= 1:
            raise ValueError(
                f"d (the clipping threshold) must be >= 1, got {group['d']!r}"
            )
        check_nonnegative(group, "weight_decay", "the decoupled weight decay lambda")

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        if param.is_complex():
            raise RuntimeError(
                "Adafactor does not support complex parameters (as torch)"
            )
        state: dict[str, Any] = {"step": new_step_counter()}
        if param.dim() > 1:  # factored: one number per row and one per column
            state["row_var"] = param.new_zeros((*param.shape[:-1], 1))
            state["col_var"] = param.new_zeros((*param.shape[:-2], 1, param.shape[-1]))
        else:
            state["variance"] = torch.zeros_like(
                param, memory_format=torch.preserve_format
            )
        return state

    def update(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, lam, d = group["lr"], group["weight_decay"], group["d"]
        eps1, eps2 = group["eps"]
        if eps1 is None:
            eps1 = torch.finfo(param.dtype).eps
        t = advance_step(state)
        one_minus_beta2 = t ** group["beta2_decay"]  # (adafactor.1)
        rho_t = min(lr, 1 / (t**0.5))  # (adafactor.2)
        rms_theta = param.norm(2).item() / (param.numel() ** 0.5)
        alpha = max(eps2, rms_theta) * rho_t  # (adafactor.3)
        if lam != 0:
            param.mul_(1 - lr * lam)
        if grad.dim() > 1:
            row_var, col_var = state["row_var"], state["col_var"]
            row_mean = (
                torch.norm(grad, dim=-1, keepdim=True).square_().div_(grad.size(-1))
            )
            row_var.lerp_(row_mean, one_minus_beta2)  # (adafactor.4) R_t
            col_mean = (
                torch.norm(grad, dim=-2, keepdim=True).square_().div_(grad.size(-2))
            )
            col_var.lerp_(col_mean, one_minus_beta2)  # (adafactor.4) C_t
            v_hat = row_var @ col_var  # (adafactor.5) R_t C_t ...
            v_hat.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))  # / mean(R)
        else:
            state["variance"].lerp_(grad * grad, one_minus_beta2)  # unfactored
            v_hat = state["variance"].clone()
        u = v_hat.clamp_(min=eps1 * eps1).rsqrt_().mul_(grad)  # (adafactor.6)
        clip = max(1.0, u.norm(2).item() / ((u.numel() ** 0.5) * d))  # (adafactor.7)
        param.add_(u, alpha=-alpha / clip)  # (adafactor.7)
