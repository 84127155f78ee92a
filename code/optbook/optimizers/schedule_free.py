"""Schedule-Free AdamW, from scratch: no schedule, an average instead.

Schedule-Free (Defazio et al., 2024) keeps two sequences and evaluates the gradient at
a third point between them:

    (sf.1)  y_t = (1 - beta1) z_t + beta1 x_t           (where the gradient is taken)
    (sf.2)  v_t = beta2 v_{t-1} + (1 - beta2) g_t**2
            d_t = sqrt(v_t / (1 - beta2**t)) + eps
    (sf.3)  z_{t+1} = z_t - gamma_t (g_t / d_t + lambda y_t)    (the base AdamW step)
    (sf.4)  x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1}      (the running average)
    (sf.5)  c_{t+1} = w_t / (w_1 + ... + w_t),
            w_t = t**r * (largest lr so far)**weight_lr_power
    (sf.6)  gamma_t = lr * min(1, t / warmup_steps)            (linear warm-up)

x is the point to evaluate and to keep; z takes the steps; y is the point the gradient
sees. During training the parameters hold y, and the state holds z; x is never stored:
(sf.1) gives x = (y - (1 - beta1) z) / beta1. ``eval()`` moves the parameters to x,
``train()`` back to y. Writing (sf.3)-(sf.4) in terms of y gives the two lines that
update the parameters in place:

    (sf.7)  y <- y + c (z_t - y);   y <- y + gamma (beta1 (1 - c) - 1) g_hat;
            z <- z - gamma g_hat,   g_hat = g_t / d_t + lambda y_t

Reference: ``schedulefree.AdamWScheduleFree`` (the authors' package ``schedulefree``,
version 1.4.1): same arguments, same defaults, same state (``z``, ``exp_avg_sq``) and
the same per-group counters (``k``, ``weight_sum``, ``lr_max``, ``train_mode``,
``scheduled_lr``), so a state dict moves between the two. Its ``foreach`` chooses how
the arithmetic is batched, never what it computes: optbook accepts it and has one plain
per-tensor path. One difference on purpose: the package divides ``p.grad`` in place;
optbook leaves the gradient as backward() made it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from optbook.optimizers.base import (
    check_betas,
    check_gradient_layout,
    check_nonnegative,
)


class ScheduleFreeAdamW(torch.optim.Optimizer):
    """Schedule-Free AdamW, as schedulefree.AdamWScheduleFree: (sf.1)-(sf.7).

    Call ``optimizer.train()`` before training steps and ``optimizer.eval()`` before
    evaluating, saving or using the model: the parameters hold the gradient point y
    in train mode and the averaged point x in eval mode.
    """

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 0.0025,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        warmup_steps: int = 0,
        r: float = 0.0,
        weight_lr_power: float = 2.0,
        foreach: bool | None = hasattr(torch, "_foreach_mul_"),
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            r=r,
            k=0,  # steps taken by the group
            warmup_steps=warmup_steps,
            train_mode=False,
            weight_sum=0.0,
            lr_max=-1.0,
            scheduled_lr=0.0,
            weight_lr_power=weight_lr_power,
            weight_decay=weight_decay,
            foreach=foreach,  # accepted; one plain path either way
        )
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        check_nonnegative(group, "lr", "the learning rate gamma of the z steps")
        check_nonnegative(group, "eps", "the constant added to sqrt(v_hat)")
        check_betas(group)
        check_nonnegative(group, "weight_decay", "the weight decay lambda, taken at y")
        check_nonnegative(group, "warmup_steps", "the length of the linear warm-up")
        check_nonnegative(group, "weight_lr_power", "the power of lr in the weights")
        if group["betas"][0] == 0:
            raise ValueError(
                "betas[0] must be > 0 for Schedule-Free: eval() recovers x from y, z "
                "by dividing by beta1"
            )

    # -- the two modes --------------------------------------------------------------
    @torch.no_grad()
    def eval(self) -> None:
        """Move the parameters from y to the average x (for evaluation and saving)."""
        for group in self.param_groups:
            beta1 = group["betas"][0]
            if group["train_mode"]:
                for param in group["params"]:
                    state = self.state[param]
                    if "z" in state:  # x = y + (1 - 1/beta1) (z - y), from (sf.1)
                        z = state["z"].to(param.device)
                        param.lerp_(end=z, weight=1 - 1 / beta1)
                group["train_mode"] = False

    @torch.no_grad()
    def train(self) -> None:
        """Move the parameters from x to the gradient point y (before training)."""
        for group in self.param_groups:
            beta1 = group["betas"][0]
            if not group["train_mode"]:
                for param in group["params"]:
                    state = self.state[param]
                    if "z" in state:  # y = x + (1 - beta1) (z - x), which is (sf.1)
                        param.lerp_(end=state["z"].to(param.device), weight=1 - beta1)
                group["train_mode"] = True

    # -- one step ---------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """One Schedule-Free step for every parameter that has a gradient."""
        if not self.param_groups[0]["train_mode"]:
            raise RuntimeError(
                "ScheduleFreeAdamW is in eval mode: call optimizer.train() before "
                "training (and optimizer.eval() before evaluating or saving)"
            )
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _step_group(self, group: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        eps, lam, k = group["eps"], group["weight_decay"], group["k"]
        t = k + 1
        warmup = group["warmup_steps"]
        sched = t / warmup if k < warmup else 1.0
        lr = group["lr"] * sched  # (sf.6)
        group["scheduled_lr"] = lr
        lr_max = group["lr_max"] = max(lr, group["lr_max"])
        weight = (t ** group["r"]) * (lr_max ** group["weight_lr_power"])  # (sf.5)
        weight_sum = group["weight_sum"] = group["weight_sum"] + weight
        c = weight / weight_sum if weight_sum != 0 else 0
        bias_correction2 = 1 - beta2**t

        for y in group["params"]:  # in train mode the parameter holds y
            if y.grad is None:
                continue
            check_gradient_layout(type(self).__name__, y.grad, "refuse")
            state = self.state[y]
            if "z" not in state:
                state["z"] = torch.clone(y, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(
                    y, memory_format=torch.preserve_format
                )
            z, v = state["z"], state["exp_avg_sq"]
            v.mul_(beta2).addcmul_(y.grad, y.grad, value=1 - beta2)  # (sf.2)
            d = v.div(bias_correction2).sqrt_().add_(eps)
            g_hat = y.grad.div(d)
            if lam != 0:
                g_hat.add_(y, alpha=lam)  # weight decay taken at y (sf.3)
            y.lerp_(end=z, weight=c)  # (sf.7), first half of (sf.4)
            y.add_(g_hat, alpha=lr * (beta1 * (1 - c) - 1))  # (sf.7)
            z.sub_(g_hat, alpha=lr)  # (sf.3)
        group["k"] = t
