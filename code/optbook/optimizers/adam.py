"""Adam and AMSGrad, from scratch.

The chapter "Adam" derives these equations; a comment (adam.k) marks the line that
computes the chapter's equation adam-k:

    (adam.0)  g_t = g_t + lambda * theta_{t-1}                  (L2 weight decay)
              theta_{t-1} = (1 - lr * lambda) * theta_{t-1}      (decoupled, as AdamW)
    (adam.1)  m_t = beta1 * m_{t-1} + (1 - beta1) * g_t          (momentum: mean of g)
    (adam.2)  v_t = beta2 * v_{t-1} + (1 - beta2) * g_t**2       (scaling: mean of g**2)
    (adam.3)  theta_t = theta_{t-1} - lr * m_t / (sqrt(v_t) + eps)   (the first form)
    (adam.5)  m_hat = m_t / (1 - beta1**t),  v_hat = v_t / (1 - beta2**t)
    (adam.6)  theta_t = theta_{t-1} - lr * m_hat / (sqrt(v_hat) + eps)
    (adam.7)  theta_t = theta_{t-1} - lr / (1 - beta1**t) * m_t
                                  / (sqrt(v_t) / sqrt(1 - beta2**t) + eps),
              which is (adam.6) in torch's order of operations
    (adam.8)  v_max_t = max(v_max_{t-1}, v_t), used in place of v_t  (AMSGrad)

Reference: torch.optim.Adam (same arguments, same defaults), plus one extra keyword-only
switch, bias_correction, that is not in torch: bias_correction=False drops (adam.5) and
steps with (adam.3), the lecture's first form. Its default, True, is torch's Adam.
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


class Adam(PerParameterOptimizer):
    """Adam (Kingma and Ba, 2015) with optional AMSGrad (Reddi et al., 2018).

    Arguments and defaults are torch.optim.Adam's. weight_decay is an L2 penalty added
    to the gradient (adam.0), or, with decoupled_weight_decay=True, a shrinking of the
    parameters before the step (then this is AdamW). amsgrad=True divides by the running
    maximum of v (adam.8).

    One extra keyword-only argument, not in torch: bias_correction (default True, which
    is torch's Adam). bias_correction=False is the lecture's first Adam slide: the step
    is lr * m_t / (sqrt(v_t) + eps) with the raw, zero-initialised averages (adam.3).

    See the chapter "Adam".
    """

    _bias_correction_switch = True

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
        bias_correction: bool = True,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        if self._bias_correction_switch:  # optbook's Adam only: not AdamW
            defaults["bias_correction"] = bias_correction
        super().__init__(
            params,
            defaults,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A state dict saved by torch.optim.Adam has no "bias_correction": torch always
        # corrects.
        super().__setstate__(state)
        for group in self.param_groups:
            if self._bias_correction_switch:
                group.setdefault("bias_correction", True)
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
        if sum(isinstance(beta, Tensor) for beta in group["betas"]) == 1:
            raise ValueError(
                "betas must be either both floats or both Tensors, got "
                f"{group['betas']!r}"
            )
        check_nonnegative(group, "weight_decay", "the weight-decay coefficient lambda")
        switch = group.get("bias_correction", True)
        if not isinstance(switch, bool):
            raise TypeError(
                "bias_correction must be True (divide the averages by 1 - beta**t, "
                "torch's Adam) or False (the lecture's first form), "
                f"got {switch!r}"
            )

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        fmt = torch.preserve_format
        state = {
            "step": new_step_counter(),
            "exp_avg": torch.zeros_like(param, memory_format=fmt),  # m_0 = 0
            "exp_avg_sq": torch.zeros_like(param, memory_format=fmt),  # v_0 = 0
        }
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = torch.zeros_like(param, memory_format=fmt)
        return state

    def update(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, eps, lam = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        t = advance_step(state)

        if lam != 0:
            if group["decoupled_weight_decay"]:
                param.mul_(1 - lr * lam)  # (adam.0) decoupled: shrink theta
            else:
                grad = grad.add(param, alpha=lam)  # (adam.0) L2: g + lambda * theta
        # A complex entry is a pair of real numbers, as in torch.optim.
        param, grad, m, v = real_views(param, grad, m, v)
        beta1_here = beta1.to(param.dtype) if isinstance(beta1, Tensor) else beta1
        m.lerp_(grad, 1 - beta1_here)  # (adam.1) m = m + (1 - beta1) (g - m)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)  # (adam.2)
        if group["amsgrad"]:
            (v_max,) = real_views(state["max_exp_avg_sq"])
            v = torch.maximum(v_max, v, out=v_max)  # (adam.8)

        if group.get("bias_correction", True):
            # (adam.7): the correction of m folded into the step size,
            # the correction of v into the denominator sqrt(v_hat) + eps
            step_size = lr / (1 - beta1**t)
            denom = (v.sqrt() / (1 - beta2**t) ** 0.5).add_(eps)
        else:
            step_size = lr
            denom = v.sqrt().add_(eps)  # (adam.3) no correction: sqrt(v) + eps
        # (adam.7), or (adam.3) without correction
        param.addcdiv_(m, denom, value=-step_size)
