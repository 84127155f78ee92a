"""Adagrad (Duchi, Hazan and Singer, 2011), from scratch.

The chapter "Adagrad and RMSProp" derives these equations; the labels in the comments
are the chapter's. All operations are element-wise: every coordinate of every parameter
has its own accumulator G and so its own learning rate.

    (ada.1)  g_t     = grad L(theta_{t-1}) + lambda * theta_{t-1}   (L2 weight decay)
    (ada.2)  eta_t   = lr / (1 + (t - 1) * lr_decay)                (decay of lr)
    (ada.3)  G_t     = G_{t-1} + g_t * g_t,   G_0 = initial_accumulator_value
    (ada.4)  theta_t = theta_{t-1} - eta_t * g_t / (sqrt(G_t) + eps)

The factor `eta_t / (sqrt(G_t) + eps)` is the coordinate's effective learning rate
(ada.5), returned by `Adagrad.effective_lr`.

Reference: `torch.optim.Adagrad` (same arguments, same defaults, same state: `step` and
`sum`). Like torch, the state is created eagerly in `__init__` (`step = 0` and
`sum = initial_accumulator_value` for every parameter), so that `state_dict()` has the
same entries as torch's before the first step, and a state dict saved by either
optimizer loads into the other at any time. Also like torch, the accumulator of every
parameter starts at the *constructor's* `initial_accumulator_value`: a value given in a
parameter group is kept in the group but does not change the start of the accumulator.

Not supported (torch supports them): sparse gradients (`nn.Embedding(sparse=True)`),
and torch's fast implementation paths (`foreach`, `fused`, `differentiable`).
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


class Adagrad(PerParameterOptimizer):
    """Adagrad: a learning rate per coordinate, divided by the root of the sum of the
    coordinate's squared gradients.

    Equations (ada.1)-(ada.4) of the chapter "Adagrad and RMSProp" (module docstring).
    """

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
        )
        super().__init__(params, defaults, foreach=foreach,
                         differentiable=differentiable, fused=fused)
        # torch creates the state here, before any gradient exists; so do we (see the
        # module docstring). Parameter groups added later get theirs on the first step.
        for group in self.param_groups:
            for param in group["params"]:
                self.state[param].update(self.init_state(param, group))

    def validate(self, group: dict[str, Any]) -> None:
        check_nonnegative(group, "lr", "the learning rate")
        check_nonnegative(
            group, "lr_decay",
            "how fast the learning rate decays, lr / (1 + (t - 1) * lr_decay)",
        )
        check_nonnegative(group, "weight_decay", "the L2 penalty lambda")
        check_nonnegative(
            group,
            "initial_accumulator_value",
            "the starting value of the sum of squared gradients, "
            "which can only grow from there",
        )
        check_nonnegative(
            group, "eps",
            "the small number added to sqrt(sum) so that the division is safe",
        )

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        # torch reads the start value from the constructor's defaults, not the group's.
        start = self.defaults["initial_accumulator_value"]
        if torch.is_complex(param):
            start = complex(start, start)
        return {
            "step": new_step_counter(),
            "sum": torch.full_like(  # G_0
                param, start, memory_format=torch.preserve_format
            ),
        }

    def update(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        t = advance_step(state)
        lam, eps = group["weight_decay"], group["eps"]
        g = grad.add(param, alpha=lam) if lam != 0 else grad  # (ada.1)
        eta_t = group["lr"] / (1 + (t - 1) * group["lr_decay"])  # (ada.2)
        G = state["sum"]
        if torch.is_complex(param):  # real and imaginary parts as two real coordinates
            param, g, G = (torch.view_as_real(x) for x in (param, g, G))
        G.addcmul_(g, g, value=1)  # (ada.3) G_t = G_{t-1} + g_t * g_t
        denominator = G.sqrt().add_(eps)  # sqrt(G_t) + eps
        param.addcdiv_(g, denominator, value=-eta_t)  # (ada.4)

    @torch.no_grad()
    def effective_lr(self, param: Tensor) -> Tensor:
        """The per-coordinate learning rate of `param`'s last step (ada.5).

        `eta_t / (sqrt(G_t) + eps)`: the last step moved `param` by exactly this factor
        times the gradient (weight decay included). Before the first step it is the
        factor that a step with a zero gradient would apply: `lr / (sqrt(G_0) + eps)`.
        """
        state = self.state.get(param)
        if not state:
            raise KeyError("this tensor is not one of the optimizer's parameters")
        group = next(g for g in self.param_groups
                     if any(p is param for p in g["params"]))
        t = max(int(state["step"].item()), 1)
        lr_t = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        accumulator = state["sum"]
        if torch.is_complex(accumulator):
            accumulator = torch.view_as_real(accumulator)
        return lr_t / (accumulator.sqrt() + group["eps"])
