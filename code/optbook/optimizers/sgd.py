"""Stochastic gradient descent with momentum, from scratch.

The chapter "From gradient descent to adaptive steps" derives these equations; the
labels in the comments are the chapter's equations gd-1 ... gd-4:

    (gd.1)  g_t = grad L(theta_{t-1}) + lambda * theta_{t-1}     (L2 weight decay)
    (gd.2)  b_t = mu * b_{t-1} + (1 - tau) * g_t,  b_1 = g_1      (momentum, dampening)
    (gd.3)  d_t = g_t + mu * b_t  (Nesterov)  or  d_t = b_t       (heavy ball)
    (gd.4)  theta_t = theta_{t-1} - lr * d_t

Without momentum (mu = 0) there is no buffer and d_t = g_t: plain (stochastic) gradient
descent. With `maximize=True` the gradient is negated before (gd.1).

Reference: `torch.optim.SGD` (same arguments, same defaults).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from optbook.optimizers.base import PerParameterOptimizer, check_nonnegative


class SGD(PerParameterOptimizer):
    """SGD with optional (Nesterov) momentum, dampening and L2 weight decay."""

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float | Tensor = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults, foreach=foreach,
                         differentiable=differentiable, fused=fused)

    def validate(self, group: dict[str, Any]) -> None:
        check_nonnegative(group, "lr", "the learning rate")
        check_nonnegative(group, "momentum", "the momentum coefficient mu")
        check_nonnegative(group, "weight_decay", "the L2 penalty lambda")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "nesterov=True needs momentum > 0 and dampening = 0 "
                f"(got momentum={group['momentum']!r}, "
                f"dampening={group['dampening']!r})"
            )

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {}  # the momentum buffer is created on the first step: b_1 = g_1

    def update(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, mu, tau = group["lr"], group["momentum"], group["dampening"]
        lam = group["weight_decay"]
        if isinstance(lr, Tensor) and lr.dim() != 0:
            lr = lr.squeeze()  # a 1-element tensor learning rate, as torch accepts it
        g = grad.add(param, alpha=lam) if lam != 0 else grad  # (gd.1)
        if mu != 0:
            if "momentum_buffer" not in state:  # (gd.2) on the first step: b_1 = g_1
                state["momentum_buffer"] = g.detach().clone()
            else:  # (gd.2) b_t = mu b_{t-1} + (1 - tau) g_t
                state["momentum_buffer"].mul_(mu).add_(g, alpha=1 - tau)
            b = state["momentum_buffer"]
            d = g.add(b, alpha=mu) if group["nesterov"] else b  # (gd.3)
        else:
            d = g  # no momentum: plain (stochastic) gradient descent
        param.add_(d, alpha=-lr)  # (gd.4) theta_t = theta_{t-1} - lr d_t
