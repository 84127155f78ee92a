"""Sign descent with momentum, from scratch: every coordinate moves by exactly lr.

Sign descent takes the sign of the gradient (or of a momentum average of it) and
throws its size away (Balles and Hennig, 2018; Kunstner et al., 2023). It is Adam's
normalisation pushed to the end: Adam's m / sqrt(v) is +-1 when the gradient is the
same at every step, and sign descent is +-1 always. The chapter "When the optimizer
decides" runs it beside Adam and SGD to ask how much of Adam's lead the sign explains.

    (sign.0)  theta = (1 - lr lambda) theta                 (decoupled weight decay)
    (sign.1)  m_t = beta m_{t-1} + (1 - beta) g_t,  m_0 = 0  (momentum, an average)
    (sign.2)  theta_t = theta - lr sign(m_t)

With ``momentum=0`` the step is ``-lr sign(g_t)``: plain sign descent.

Reference: there is none in torch. The rule is Lion's (``lion_pytorch.Lion``) with its
two betas equal: Lion steps with sign(beta1 m_{t-1} + (1 - beta1) g_t) and then sets
m_t = beta2 m_{t-1} + (1 - beta2) g_t, which is the same average when beta1 = beta2.
tests/test_sign_descent.py proves ``SignSGD(momentum=b)`` equal to
``Lion(betas=(b, b))`` (weight decay included) over hundreds of steps.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from optbook.optimizers.base import (
    PerParameterOptimizer,
    check_in_unit_interval,
    check_nonnegative,
    real_views,
)


class SignSGD(PerParameterOptimizer):
    """Sign descent with an averaged momentum and decoupled weight decay."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def validate(self, group: dict[str, Any]) -> None:
        check_nonnegative(group, "lr", "the size of every coordinate's step")
        check_in_unit_interval(group, "momentum",
                               "the decay beta of the gradient average")
        check_nonnegative(group, "weight_decay", "the decoupled weight decay lambda")

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        if group["momentum"] == 0:
            return {}  # plain sign descent keeps nothing
        return {"momentum_buffer": torch.zeros_like(param)}

    def update(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, beta, lam = group["lr"], group["momentum"], group["weight_decay"]
        # A complex entry is a pair of real numbers, as torch.optim treats it.
        param, grad = real_views(param, grad)
        if lam != 0:
            param.mul_(1.0 - lr * lam)  # (sign.0)
        if beta == 0:
            direction = grad.sign()
        else:
            (m,) = real_views(state["momentum_buffer"])
            m.mul_(beta).add_(grad, alpha=1.0 - beta)  # (sign.1)
            direction = m.sign()
        param.add_(direction, alpha=-lr)  # (sign.2)
