"""RMSProp (Tieleman and Hinton, 2012), from scratch, with torch's centered and momentum
variants.

The chapter "Adagrad and RMSProp" derives these equations; the labels in the comments
are the chapter's. All operations are element-wise.

    (rms.1)  g_t     = grad L(theta_{t-1}) + lambda * theta_{t-1}   (L2 weight decay)
    (rms.2)  v_t     = alpha * v_{t-1} + (1 - alpha) * g_t * g_t,   v_0 = 0
    (rms.3)  centered=True:   gbar_t = alpha * gbar_{t-1} + (1 - alpha) * g_t,
                              gbar_0 = 0,  s_t = v_t - gbar_t * gbar_t
             centered=False:  s_t = v_t
    (rms.4)  d_t     = g_t / (sqrt(s_t) + eps)
    (rms.5)  momentum > 0:    b_t = mu * b_{t-1} + d_t,  b_0 = 0,
                              theta_t = theta_{t-1} - lr * b_t
             momentum = 0:    theta_t = theta_{t-1} - lr * d_t

The factor `lr / (sqrt(s_t) + eps)` is the coordinate's effective learning rate
(rms.6), returned by `RMSprop.effective_lr`.

Reference: `torch.optim.RMSprop` (same arguments, same defaults, same state: `step`,
`square_avg`, and `momentum_buffer` / `grad_avg` when momentum / centered is on).
One deliberate difference: torch accepts any `alpha >= 0`, while
optbook refuses ``alpha >= 1``, where the average (rms.2) would stop learning
(alpha = 1) or weigh the newest squared gradient negatively (alpha > 1).

Not supported: sparse gradients (torch's RMSprop refuses them too) and torch's fast
implementation paths (`foreach`, `capturable`, `differentiable`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from optbook.optimizers.base import (
    PerParameterOptimizer,
    check_nonnegative,
    new_step_counter,
)


class RMSprop(PerParameterOptimizer):
    """RMSProp: divide the gradient by the root of a moving average of its squares.

    Equations (rms.1)-(rms.5) of the chapter "Adagrad and RMSProp" (module docstring).
    """

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            maximize=maximize,
        )
        super().__init__(
            params,
            defaults,
            capturable=capturable,
            foreach=foreach,
            differentiable=differentiable,
        )

    def validate(self, group: dict[str, Any]) -> None:
        check_nonnegative(group, "lr", "the learning rate")
        meaning = "the decay rate of the moving average of squared gradients"
        check_nonnegative(group, "alpha", meaning)
        if group["alpha"] >= 1:
            raise ValueError(
                f"alpha ({meaning}) must be < 1, got {group['alpha']!r}: each step "
                "keeps alpha of the old average and adds (1 - alpha) of the new "
                "squared gradient, so alpha = 1 never learns anything (the average "
                "stays 0) and alpha > 1 subtracts it. "
                "Typical values are 0.9 (the lecture) and 0.99 (torch's default)."
            )
        check_nonnegative(
            group, "eps",
            "the small number added to sqrt(average) so that the division is safe",
        )
        check_nonnegative(group, "weight_decay", "the L2 penalty lambda")
        check_nonnegative(group, "momentum", "the momentum coefficient mu")

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        def zeros() -> Tensor:
            return torch.zeros_like(param, memory_format=torch.preserve_format)

        state: dict[str, Any] = {"step": new_step_counter()}
        state["square_avg"] = zeros()  # v_0
        if group["momentum"] > 0:
            state["momentum_buffer"] = zeros()  # b_0
        if group["centered"]:
            state["grad_avg"] = zeros()  # gbar_0
        return state

    def update(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        mu, lam = group["momentum"], group["weight_decay"]
        state["step"] += 1  # counted as torch counts it; RMSProp's rule does not use t
        g = grad.add(param, alpha=lam) if lam != 0 else grad  # (rms.1)
        v = state["square_avg"]
        if torch.is_complex(param):  # real and imaginary parts as two real coordinates
            param, g, v = (torch.view_as_real(x) for x in (param, g, v))
        v.mul_(alpha).addcmul_(g, g, value=1 - alpha)  # (rms.2)
        if group["centered"]:
            g_bar = state["grad_avg"]
            if torch.is_complex(g_bar):
                g_bar = torch.view_as_real(g_bar)
            g_bar.lerp_(g, 1 - alpha)  # (rms.3) gbar_t
            root_s = v.addcmul(g_bar, g_bar, value=-1).sqrt_()  # (rms.3) sqrt(s_t)
        else:
            root_s = v.sqrt()  # (rms.3) sqrt(s_t) = sqrt(v_t)
        denominator = root_s.add_(eps)  # sqrt(s_t) + eps
        if mu > 0:
            b = state["momentum_buffer"]
            if torch.is_complex(b):
                b = torch.view_as_real(b)
            b.mul_(mu).addcdiv_(g, denominator)  # (rms.4), (rms.5) b = mu b + d_t
            param.add_(b, alpha=-lr)  # (rms.5) theta_t = theta_{t-1} - lr b_t
        else:
            param.addcdiv_(g, denominator, value=-lr)  # (rms.4), (rms.5) lr d_t

    @torch.no_grad()
    def effective_lr(self, param: Tensor) -> Tensor:
        """The per-coordinate learning rate of `param`'s last step (rms.6).

        `lr / (sqrt(s_t) + eps)`: without momentum, the last step moved `param` by
        exactly this factor times the gradient (weight decay included); with momentum,
        it is the factor by which the newest gradient entered the momentum buffer,
        times lr.
        """
        state = self.state.get(param)
        if not state:
            raise KeyError(
                "no step has been taken for this tensor yet (or it is not one of the "
                "optimizer's parameters): RMSprop creates its state on the first step"
            )
        group = next(g for g in self.param_groups
                     if any(p is param for p in g["params"]))
        square_avg = state["square_avg"]
        if torch.is_complex(square_avg):
            square_avg = torch.view_as_real(square_avg)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            if torch.is_complex(grad_avg):
                grad_avg = torch.view_as_real(grad_avg)
            square_avg = square_avg.addcmul(grad_avg, grad_avg, value=-1)
        return group["lr"] / (square_avg.sqrt() + group["eps"])
