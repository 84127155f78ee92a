"""SOAP, from scratch: Adam, run in the eigenbasis of Shampoo's preconditioner.

Shampoo's statistics L = E[G G^T] and R = E[G^T G] of a weight matrix have
eigenvectors Q_L and Q_R. SOAP (Vyas et al., 2024) rotates the gradient into that basis,
runs Adam's diagonal scaling there, where the curvature is closest to diagonal, and
rotates the step back:

    (soap.1)  L <- L + (1 - b)(G G^T - L), R <- R + (1 - b)(G^T G - R) (b: shampoo_beta)
    (soap.2)  G' = Q_L^T G Q_R                                 (rotate the gradient)
    (soap.3)  m <- beta1 m + (1 - beta1) G,   v <- beta2 v + (1 - beta2) G'**2
    (soap.4)  W <- W - lr sqrt(1 - beta2**s) / (1 - beta1**s)
                       * Q_L (Q_L^T m Q_R / (sqrt v + eps)) Q_R^T
    (soap.5)  W <- (1 - lr lambda) W                           (decoupled weight decay)
    (soap.6)  every precondition_frequency steps: Q <- QR(L Q) (one power iteration),
              the columns and v re-ordered by the estimated eigenvalues

The first gradient only starts L, R and the eigenbases (an exact eigendecomposition);
the parameters first move on the second step, with s = 1. For a tensor of any order
each dimension has its own statistic; a dimension larger than max_precondition_dim, and
a vector unless precondition_1d=True, is left unrotated.

Reference: ``pytorch_optimizer.SOAP`` (package ``pytorch-optimizer``, version 4.1.0):
same arguments and defaults, same state keys (``exp_avg``, ``exp_avg_sq``, ``GG``,
``Q``, ...). One option is not reproduced: ``merge_dims=True`` (which first reshapes a
tensor into fewer, larger dimensions) is refused in words; ``data_format`` only acts
through merge_dims. The package leaves unknown keyword arguments silently unused
(optbook refuses them) and changes ``p.grad`` in place when maximizing (optbook does
not).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import chain
from typing import Any

import torch
from torch import Tensor

from optbook.optimizers.base import (
    check_betas,
    check_gradient_layout,
    check_nonnegative,
)


def rotate(tensor: Tensor, bases: list, back: bool = False) -> Tensor:
    """Q_1^T ... Q_k^T applied along each dimension (soap.2); Q ... applied if `back`.

    Each pass contracts dimension 0 with a basis and moves it last, so after k passes
    the dimensions are back in order. An empty basis leaves its dimension unrotated.
    """
    for basis in bases:
        if len(basis) > 0:
            tensor = torch.tensordot(tensor, basis, dims=[[0], [1 if back else 0]])
        else:
            tensor = tensor.permute([*range(1, tensor.dim()), 0])
    return tensor


def eigenbases(statistics: list) -> list:
    """Eigenvectors of each statistic, largest eigenvalue first."""
    bases: list = []
    for stat in statistics:
        if len(stat) == 0:
            bases.append([])
            continue
        eye = torch.eye(stat.shape[0], device=stat.device, dtype=stat.dtype)
        _, vectors = torch.linalg.eigh(stat + 1e-30 * eye)
        bases.append(torch.flip(vectors, dims=[1]))
    return bases


class SOAP(torch.optim.Optimizer):
    """SOAP, as pytorch_optimizer.SOAP with merge_dims=False: (soap.1)-(soap.6)."""

    def __init__(
        self,
        params: Any,
        lr: float = 3e-3,
        betas: tuple[float, float] = (0.95, 0.95),
        shampoo_beta: float | None = None,
        weight_decay: float = 1e-2,
        precondition_frequency: int = 10,
        max_precondition_dim: int = 10000,
        merge_dims: bool = False,
        precondition_1d: bool = False,
        correct_bias: bool = True,
        normalize_gradient: bool = False,
        data_format: str = "channels_first",
        eps: float = 1e-8,
        maximize: bool = False,
    ) -> None:
        if merge_dims:
            raise ValueError(
                "merge_dims=True is not implemented in optbook's SOAP; reshape the "
                "parameter yourself, or use pytorch_optimizer.SOAP"
            )
        if data_format not in ("channels_first", "channels_last"):
            raise ValueError(
                "data_format must be 'channels_first' or 'channels_last', "
                f"got {data_format!r}"
            )
        self.data_format = data_format  # as in the reference; acts only via merge_dims
        self.maximize = maximize
        defaults = dict(
            lr=lr,
            betas=betas,
            shampoo_beta=shampoo_beta,
            weight_decay=weight_decay,
            precondition_frequency=precondition_frequency,
            max_precondition_dim=max_precondition_dim,
            merge_dims=merge_dims,
            precondition_1d=precondition_1d,
            correct_bias=correct_bias,
            normalize_gradient=normalize_gradient,
            eps=eps,
        )
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        check_nonnegative(group, "lr", "the learning rate")
        check_betas(group)
        if group["shampoo_beta"] is not None:
            check_nonnegative(group, "shampoo_beta", "the decay of L and R")
        check_nonnegative(group, "weight_decay", "the decoupled weight decay lambda")
        check_nonnegative(group, "eps", "the constant added to sqrt(v)")
        for name in ("precondition_frequency", "max_precondition_dim"):
            if group[name] < 1:
                raise ValueError(f"{name} must be >= 1, got {group[name]!r}")

    # -- the preconditioner ----------------------------------------------------------
    def _init_state(self, grad: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        beta2 = group["betas"][1]
        shampoo_beta = group["shampoo_beta"]
        big = group["max_precondition_dim"]
        if grad.dim() == 1:
            rotated = group["precondition_1d"] and grad.shape[0] <= big
            sizes = [grad.shape[0] if rotated else None]
        else:
            sizes = [size if size <= big else None for size in grad.shape]
        return {
            "exp_avg": torch.zeros_like(grad),
            "exp_avg_sq": torch.zeros_like(grad),
            "GG": [
                [] if size is None
                else torch.zeros(size, size, device=grad.device, dtype=grad.dtype)
                for size in sizes
            ],
            "Q": None,
            "precondition_frequency": group["precondition_frequency"],
            "shampoo_beta": shampoo_beta if shampoo_beta is not None else beta2,
        }

    def _update_preconditioner(
        self, grad: Tensor, state: dict[str, Any], step: int, group: dict[str, Any]
    ) -> None:
        weight = 1.0 - state["shampoo_beta"]
        big = group["max_precondition_dim"]
        if grad.dim() == 1:
            if group["precondition_1d"] and grad.shape[0] <= big:
                outer = grad.unsqueeze(1) @ grad.unsqueeze(0)
                state["GG"][0].lerp_(outer.to(state["GG"][0].dtype), weight=weight)
        else:
            for i, size in enumerate(grad.shape):
                if size <= big:  # (soap.1): G G^T along dimension i
                    others = [*chain(range(i), range(i + 1, grad.dim()))]
                    outer = torch.tensordot(grad, grad, dims=[others] * 2)
                    state["GG"][i].lerp_(outer.to(state["GG"][i].dtype), weight=weight)
        if state["Q"] is None:
            state["Q"] = eigenbases(state["GG"])
        if step > 0 and step % state["precondition_frequency"] == 0:
            state["Q"] = self._power_iteration(state)  # (soap.6)

    @staticmethod
    def _power_iteration(state: dict[str, Any]) -> list:
        """One power iteration and a QR per basis, columns sorted by eigenvalue."""
        v = state["exp_avg_sq"]
        bases: list = []
        for i, (stat, basis) in enumerate(zip(state["GG"], state["Q"], strict=True)):
            if len(stat) == 0:
                bases.append([])
                continue
            product = stat @ basis
            eigenvalues = (basis * product).sum(dim=0)  # Rayleigh quotients
            order = torch.argsort(eigenvalues, descending=True)
            v = v.index_select(i, order)  # v follows its columns
            q, _ = torch.linalg.qr(product.index_select(1, order).to(torch.float32))
            bases.append(q.to(product.dtype))
        state["exp_avg_sq"] = v
        return bases

    # -- one step --------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """One SOAP step for every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            group.setdefault("step", 0)
            for param in group["params"]:  # a new parameter starts its statistics
                if param.grad is None or self.state[param]:
                    continue
                check_gradient_layout("SOAP", param.grad, "refuse")
                if param.is_complex():
                    raise RuntimeError("SOAP does not support complex parameters")
                state = self.state[param]
                state.update(self._init_state(param.grad, group))
                self._update_preconditioner(param.grad, state, group["step"], group)
            group["step"] += 1
            if group["step"] == 1:  # the first gradient only starts the statistics
                continue
            self._step_group(group)
        return loss

    def _step_group(self, group: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        lr, eps = group["lr"], group["eps"]
        s = group["step"] - 1
        step_size = lr
        if group["correct_bias"]:
            correction2 = math.sqrt(1.0 - math.pow(beta2, s))
            step_size *= correction2 / (1.0 - math.pow(beta1, s))
        for param in group["params"]:
            if param.grad is None:
                continue
            grad = -param.grad if self.maximize else param.grad
            state = self.state[param]
            m = state["exp_avg"]
            m.lerp_(grad, weight=1.0 - beta1)  # (soap.3) m in the original basis
            rotated = rotate(grad, state["Q"])  # (soap.2)
            state["exp_avg_sq"].lerp_(rotated.square(), weight=1.0 - beta2)  # (soap.3)
            denom = state["exp_avg_sq"].sqrt().add_(eps)
            step = rotate(rotate(m, state["Q"]) / denom, state["Q"], back=True)
            if group["normalize_gradient"]:
                step.div_(torch.mean(step.square()).sqrt_().add_(eps))
            param.add_(step, alpha=-step_size)  # (soap.4)
            if group["weight_decay"] != 0:
                param.mul_(1.0 - group["weight_decay"] * lr)  # (soap.5)
            self._update_preconditioner(grad, state, s, group)  # (soap.1), (soap.6)
