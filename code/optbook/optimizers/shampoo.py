"""Shampoo, from scratch: one small preconditioner per dimension of a tensor.

Full-matrix Adagrad would precondition a weight matrix W (m x n) with the mn x mn
matrix (sum of g g^T)^(-1/2). Shampoo (Gupta et al., 2018) keeps one statistic per
dimension instead, L (m x m) and R (n x n), whose Kronecker product stands in for it:

    (sh.1)  L_t = L_{t-1} + G_t G_t^T,   R_t = R_{t-1} + G_t^T G_t   (L_0 = R_0 = eps I)
    (sh.2)  W_t = W_{t-1} - lr L_t^(-1/4) G_t R_t^(-1/4)

For a tensor of order k, each dimension i has its own statistic, the gradient
unfolded along i times its transpose, and the root is -1/(2k) (k = 2: -1/4; a vector,
k = 1: Adagrad-like -1/2 with a full matrix). The inverse roots are computed every
``preconditioning_compute_steps`` steps by an SVD (for these symmetric positive
matrices, an eigendecomposition).

Reference: ``pytorch_optimizer.Shampoo`` (package ``pytorch-optimizer``, version 4.1.0),
the plain Shampoo that package ships (no grafting, no blocking; its ScalableShampoo is
another optimizer): same arguments and defaults, same state keys (``pre_cond_i``,
``inv_pre_cond_i``, ``momentum_buffer``), the step count in the group. Its momentum is
its own: the gradient is mixed, g <- (1 - momentum) g + momentum b, with the buffer b,
which holds the previous *preconditioned* step (the first gradient on step one).
Two differences on purpose: the package leaves unknown keyword arguments silently
unused (optbook refuses them), and it changes ``p.grad`` in place (optbook does not).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from optbook.optimizers.base import check_gradient_layout, check_nonnegative


def inverse_root(matrix: Tensor, power: float) -> Tensor:
    """matrix^(-1/power) for a symmetric positive definite matrix, through its SVD."""
    dtype = torch.float64 if matrix.dtype == torch.float64 else torch.float32
    u, s, vh = torch.linalg.svd(matrix.to(dtype), full_matrices=False)
    s.pow_(-1.0 / power)
    return ((u * s.unsqueeze(-2)) @ vh).to(matrix.dtype)


class Shampoo(torch.optim.Optimizer):
    """Shampoo, as pytorch_optimizer.Shampoo: (sh.1)-(sh.2) for tensors of any order."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        weight_decouple: bool = False,
        fixed_decay: bool = False,
        preconditioning_compute_steps: int = 1,
        matrix_eps: float = 1e-6,
        maximize: bool = False,
    ) -> None:
        if not isinstance(preconditioning_compute_steps, int) or (
            preconditioning_compute_steps < 1
        ):
            raise ValueError(
                "preconditioning_compute_steps (how often the inverse roots are "
                f"recomputed) must be a whole number >= 1, got "
                f"{preconditioning_compute_steps!r}"
            )
        # Kept outside the groups, as in the reference (state dicts move both ways).
        self.preconditioning_compute_steps = preconditioning_compute_steps
        self.maximize = maximize
        defaults = dict(
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            weight_decouple=weight_decouple,
            fixed_decay=fixed_decay,
            matrix_eps=matrix_eps,
        )
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        check_nonnegative(group, "lr", "the learning rate")
        check_nonnegative(group, "weight_decay", "the weight decay lambda")
        check_nonnegative(group, "matrix_eps", "the multiple of I that starts L, R")
        if not 0 <= group["momentum"] < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {group['momentum']!r}")

    def init_state(self, grad: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state: dict[str, Any] = {}
        if group["momentum"] > 0:
            state["momentum_buffer"] = grad.clone()
        for i, size in enumerate(grad.shape):
            eye = torch.eye(size, device=grad.device).to(grad.dtype)
            state[f"pre_cond_{i}"] = eye.mul_(group["matrix_eps"])  # (sh.1) eps I
            state[f"inv_pre_cond_{i}"] = grad.new(size, size).zero_()
        return state

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """One Shampoo step for every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            group["step"] = group.get("step", 0) + 1
            for param in group["params"]:
                if param.grad is None:
                    continue
                check_gradient_layout("Shampoo", param.grad, "refuse")
                if param.is_complex():
                    raise RuntimeError("Shampoo does not support complex parameters")
                state = self.state[param]
                if not state:  # the buffer starts at the raw gradient (the package's)
                    state.update(self.init_state(param.grad, group))
                grad = -param.grad if self.maximize else param.grad.clone()
                self._update(param, grad, state, group)
        return loss

    def _update(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, lam = group["lr"], group["weight_decay"]
        if group["momentum"] > 0:
            grad.lerp_(state["momentum_buffer"], weight=group["momentum"])
        if lam != 0:
            if group["weight_decouple"]:
                param.mul_(1.0 - lam * (1.0 if group["fixed_decay"] else lr))
            elif lam > 0:
                grad.add_(param, alpha=lam)

        order, shape = grad.dim(), grad.shape
        statistics = grad
        recompute = group["step"] % self.preconditioning_compute_steps == 0
        for i, size in enumerate(shape):
            stat, inv_root = state[f"pre_cond_{i}"], state[f"inv_pre_cond_{i}"]
            unfolded = statistics.movedim(i, 0).reshape(size, -1)
            stat.addmm_(unfolded, unfolded.t())  # (sh.1): G G^T along dimension i
            if recompute:
                inv_root.copy_(inverse_root(stat, 2 * order))  # stat^(-1/(2k))
            # Multiply dimension i of the step by its inverse root (sh.2).
            grad = grad.transpose(0, i).contiguous()
            transposed_shape = grad.shape
            grad = grad.view(size, -1)
            if i == order - 1:
                grad = (grad.t() @ inv_root).view(shape)
            else:
                grad = (inv_root @ grad).view(transposed_shape)
        state["momentum_buffer"] = grad
        param.add_(grad, alpha=-lr)  # (sh.2)
