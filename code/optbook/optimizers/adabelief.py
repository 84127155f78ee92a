"""AdaBelief: Adam whose step adapts to the belief in the observed gradient.

From scratch. The chapter "Weight decay, AdamW and AdaBelief" derives these equations;
the labels in the comments are the chapter's:

    (belief.1)  theta <- (1 - lr * lambda) * theta   weight_decouple (1 - lambda if
                                                      fixed_decay)
                g_t <- g_t + lambda * theta           otherwise: an L2 penalty
    (belief.2)  m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
    (belief.3)  s_t = beta2 * s_{t-1} + (1 - beta2) * (g_t - m_t)**2 + eps
                                                      eps stays in s
    (belief.4)  s_max <- max(s_max, s_t)              AMSGrad only
    (belief.5)  theta <- theta - lr / (1 - beta1**t)
                                 * m_t / (sqrt(s_t) / sqrt(1 - beta2**t) + eps)

(belief.3) is Adam's second moment with g_t**2 replaced by the squared distance of g_t
from the prediction m_t: small when the gradient agrees with its running average (the
"belief"), large when it does not. (belief.1)-(belief.5) with rectify=False are the
paper's Algorithm 2 (Zhuang et al. 2020). With rectify=True (the package's default),
(belief.5) is replaced by RAdam's rectified step:

    (belief.6)  rho_inf = 2 / (1 - beta2) - 1
                rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
    (belief.7)  if rho_t >= 5:
                    r_t = sqrt((1 - beta2**t) (rho_t - 4) (rho_t - 2) rho_inf
                               / ((rho_inf - 4) (rho_inf - 2) rho_t))
                    theta <- theta - lr * r_t / (1 - beta1**t) * m_t / (sqrt(s_t) + eps)
                elif degenerated_to_sgd:
                    theta <- theta - lr / (1 - beta1**t) * m_t    SGD with momentum
                else:
                    no step

Reference: adabelief_pytorch.AdaBelief 0.2.1, the authors' package (same arguments, same
defaults, same arithmetic). Where optbook differs, on purpose:

- state["step"] is a 0-d float tensor, as in torch.optim (the package keeps an int); the
  arithmetic uses the integer t, so the results are the same.
- With L2 decay the package adds lambda * theta to p.grad in place; optbook leaves
  p.grad as backward() left it.
- weight_decouple, fixed_decay, rectify and degenerated_to_sgd are stored in each
  parameter group (so they travel with state_dict() and may differ between groups); the
  package keeps them on the optimizer object. The package also caches the rectification
  terms per group (group["buffer"]); optbook recomputes them, with the same numbers.
- print_change_log is accepted, so that code written for the package runs unchanged; the
  package prints a banner about its own changed defaults, optbook prints nothing.
- float16 parameters: the package computes their step in float32; optbook in the
  parameter's own dtype.
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


def rectification(beta2: float, t: int) -> tuple[float, float | None]:
    """RAdam's rho_t, the length of the moving average, and the package's step factor
    r_t sqrt(1 - beta2^t) (belief.6-7).

    r_t is RAdam's rectifier (``optbook.optimizers.radam.rectifier``); the factor
    sqrt(1 - beta2^t) is the bias correction of s_t, which the package folds in.
    Returns (rho_t, r_t sqrt(1 - beta2^t)), with None for the factor while rho_t < 5
    (the package's threshold): no adaptive step is taken yet.
    """
    beta2_t = beta2**t
    rho_inf = 2 / (1 - beta2) - 1  # (belief.6)
    rho_t = rho_inf - 2 * t * beta2_t / (1 - beta2_t)
    if rho_t < 5:
        return rho_t, None
    # (belief.7), in the package's order of operations
    r_t = math.sqrt(
        (1 - beta2_t) * (rho_t - 4) / (rho_inf - 4) * (rho_t - 2) / rho_t
        * rho_inf / (rho_inf - 2)
    )
    return rho_t, r_t


class AdaBelief(PerParameterOptimizer):
    """AdaBelief (Zhuang et al. 2020), as the authors' package adabelief_pytorch 0.2.1.

    Equations (belief.1)-(belief.7) of the chapter "Weight decay, AdamW and AdaBelief".
    rectify=False, weight_decouple=False is the paper's Algorithm 2 with an L2 penalty;
    the defaults (rectify=True, weight_decouple=True, eps=1e-16) are the package's.
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-16,
        weight_decay: float = 0,
        amsgrad: bool = False,
        weight_decouple: bool = True,
        fixed_decay: bool = False,
        rectify: bool = True,
        degenerated_to_sgd: bool = True,
        print_change_log: bool = True,
    ) -> None:
        del print_change_log  # the package's banner about its own history: not needed
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            weight_decouple=weight_decouple,
            fixed_decay=fixed_decay,
            rectify=rectify,
            degenerated_to_sgd=degenerated_to_sgd,
        )
        super().__init__(params, defaults)

    def validate(self, group: dict[str, Any]) -> None:
        check_nonnegative(group, "lr", "the learning rate")
        check_betas(group)
        check_nonnegative(
            group,
            "eps",
            "the small constant added to s at every step and to sqrt(s_hat)",
        )
        check_nonnegative(group, "weight_decay", "the weight decay lambda")
        fixed = group["weight_decouple"] and group["fixed_decay"]
        if fixed and group["weight_decay"] >= 1:
            raise ValueError(
                "with fixed_decay=True each step multiplies the weights by "
                "(1 - weight_decay), "
                f"so weight_decay must be < 1 (got {group['weight_decay']!r}); "
                "typical values are 1e-4 or smaller"
            )

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        keep = torch.preserve_format
        state = {
            "step": new_step_counter(),
            "exp_avg": torch.zeros_like(param, memory_format=keep),  # m_0 = 0
            "exp_avg_var": torch.zeros_like(param, memory_format=keep),  # s_0 = 0
        }
        if group["amsgrad"]:
            state["max_exp_avg_var"] = torch.zeros_like(param, memory_format=keep)
        return state

    def update(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, eps, lam = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        m, s = state["exp_avg"], state["exp_avg_var"]
        # A complex entry is a pair of real numbers, as torch.optim treats it.
        param, grad, m, s = real_views(param, grad, m, s)

        if group["weight_decouple"]:  # (belief.1) decoupled, as in AdamW
            param.mul_(1.0 - (lam if group["fixed_decay"] else lr * lam))
        elif lam != 0:
            grad = grad.add(param, alpha=lam)  # (belief.1) L2, through the gradient

        t = advance_step(state)
        bias_correction1 = 1 - beta1**t
        bias_correction2 = 1 - beta2**t

        m.mul_(beta1).add_(grad, alpha=1 - beta1)  # (belief.2)
        residual = grad - m  # g_t - m_t: how far the gradient is from the belief
        s.mul_(beta2).addcmul_(residual, residual, value=1 - beta2)  # (belief.3) ...
        s.add_(eps)  # (belief.3) ... + eps, kept in s for the next step
        if group["amsgrad"]:
            (s_max,) = real_views(state["max_exp_avg_var"])
            torch.maximum(s_max, s, out=s_max)  # (belief.4)

        if not group["rectify"]:  # the paper's Algorithm 2
            s_used = real_views(state["max_exp_avg_var"])[0] if group["amsgrad"] else s
            # sqrt(s_hat) + eps
            denom = (s_used.sqrt() / math.sqrt(bias_correction2)).add_(eps)
            param.addcdiv_(m, denom, value=-lr / bias_correction1)  # (belief.5)
            return

        # RAdam's rectified step. Like the package, it divides by s itself, not by
        # s_max: with rectify=True, amsgrad changes the state but not the step.
        _, r_t = rectification(beta2, t)  # (belief.6)
        if r_t is not None:
            denom = s.sqrt().add_(eps)
            param.addcdiv_(m, denom, value=-(r_t / bias_correction1) * lr)  # (belief.7)
        elif group["degenerated_to_sgd"]:
            param.add_(m, alpha=-(1.0 / bias_correction1) * lr)  # (belief.7) SGD step
