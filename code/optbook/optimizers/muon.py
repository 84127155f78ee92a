"""Muon, from scratch: momentum, orthogonalised, for weight matrices.

Muon (Jordan et al., 2024) replaces the momentum M of a weight matrix by the nearest
matrix with all singular values about 1 (its "zeroth power", U V^T of M = U S V^T),
computed by a few Newton-Schulz iterations in bfloat16. The chapter "After AdamW":

    (muon.1)  B_t = mu B_{t-1} + (1 - mu) G_t                     (momentum buffer)
    (muon.2)  M_t = (1 - mu) G_t + mu B_t  (Nesterov)   or   M_t = B_t
    (muon.3)  O_t = NS5(M_t / ||M_t||_F)                            (orthogonalise)
    (muon.4)  theta_t = (1 - lr lambda) theta_{t-1} - lr_adj O_t,
              lr_adj = lr sqrt(max(1, rows / cols))      (torch's default adjustment)

with NS5 the quintic iteration X <- a X + (b A + c A^2) X, A = X X^T. Only 2-D
parameters: the others (biases, embeddings, the output layer) go to another optimizer.
Reference: torch.optim.Muon (same arguments, same defaults).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from optbook.optimizers.base import PerParameterOptimizer, check_nonnegative

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def newton_schulz(
    matrix: Tensor,
    coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
    steps: int = 5,
    eps: float = 1e-7,
) -> Tensor:
    """(muon.3): about U V^T for matrix = U S V^T, in bfloat16, as torch computes it."""
    if matrix.dim() != 2:
        raise ValueError(
            f"Newton-Schulz needs a 2-D matrix, got shape {tuple(matrix.shape)}"
        )
    if not 0 <= steps < 100:
        raise ValueError(f"ns_steps must lie in [0, 100), got {steps}")
    a, b, c = coefficients
    x = matrix.bfloat16()
    tall = matrix.size(0) > matrix.size(1)
    if tall:
        x = x.T  # iterate on the wide side: X X^T is the smaller Gram matrix
    x.div_(x.norm().clamp(min=eps))  # singular values now at most 1
    for _ in range(steps):
        gram = x @ x.T  # A = X X^T
        poly = torch.addmm(gram, gram, gram, beta=b, alpha=c)  # b A + c A^2
        x = torch.addmm(x, poly, x, beta=a)  # a X + (b A + c A^2) X
    return x.T if tall else x


def adjusted_lr(lr: float, adjust_lr_fn: str | None, shape: torch.Size) -> float:
    """(muon.4): torch's learning-rate adjustment for a rows x cols matrix."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, rows / cols))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(rows, cols))  # the RMS of AdamW's typical update
    else:
        ratio = 1.0
    return lr * ratio


class Muon(PerParameterOptimizer):
    """Muon, as torch.optim.Muon: equations (muon.1)-(muon.4), for 2-D parameters."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
        eps: float = 1e-7,
        ns_steps: int = 5,
        adjust_lr_fn: str | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            weight_decay=weight_decay,
            momentum=momentum,
            nesterov=nesterov,
            ns_coefficients=ns_coefficients,
            eps=eps,
            ns_steps=ns_steps,
            adjust_lr_fn=adjust_lr_fn,
        )
        super().__init__(params, defaults)

    def validate(self, group: dict[str, Any]) -> None:
        check_nonnegative(group, "lr", "the learning rate")
        check_nonnegative(group, "momentum", "the momentum coefficient mu")
        check_nonnegative(group, "weight_decay", "the decoupled weight decay lambda")
        if group["adjust_lr_fn"] not in (None, "original", "match_rms_adamw"):
            raise ValueError(
                f"adjust_lr_fn must be None, 'original' or "
                f"'match_rms_adamw', got {group['adjust_lr_fn']!r}"
            )
        for param in group["params"]:
            if param.dim() != 2:
                raise ValueError(
                    f"Muon only supports 2-D parameters (weight matrices), got one of "
                    f"shape {tuple(param.shape)}: give biases, embeddings and the "
                    "output layer to another optimizer (AdamW, say)"
                )

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        if param.is_complex():
            raise RuntimeError("Muon does not support complex parameters (as torch)")
        return {
            "momentum_buffer": torch.zeros_like(
                param, memory_format=torch.preserve_format
            )
        }

    def update(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, mu, lam = group["lr"], group["momentum"], group["weight_decay"]
        buf = state["momentum_buffer"]
        buf.lerp_(grad, 1 - mu)  # (muon.1)
        m = grad.lerp(buf, mu) if group["nesterov"] else buf  # (muon.2)
        o = newton_schulz(
            m, group["ns_coefficients"], group["ns_steps"], group["eps"]
        )  # (muon.3)
        param.mul_(1 - lr * lam)  # (muon.4) decoupled weight decay
        param.add_(o, alpha=-adjusted_lr(lr, group["adjust_lr_fn"], param.shape))
