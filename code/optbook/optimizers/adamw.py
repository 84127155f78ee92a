"""AdamW: Adam with decoupled weight decay, from scratch.

The chapter "Weight decay, AdamW and AdaBelief" derives AdamW; in its labels one step is

    (adamw.1)  theta <- (1 - lr * lambda) * theta              decoupled weight decay
    (adamw.2)  m_t = beta1 * m_{t-1} + (1 - beta1) * g_t       first moment
    (adamw.3)  v_t = beta2 * v_{t-1} + (1 - beta2) * g_t**2    second moment
    (adamw.4)  v_t <- max(v_max, v_t)                          AMSGrad only
    (adamw.5)  theta <- theta - lr / (1 - beta1**t)
                                * m_t / (sqrt(v_t) / sqrt(1 - beta2**t) + eps)

(adamw.2)-(adamw.5) are Adam's step, unchanged. Only (adamw.1) is new, and it is the
decoupled branch of Adam's weight decay (adam.0). So, as torch.optim.AdamW is
torch.optim.Adam with decoupled_weight_decay=True, this class is optbook's Adam with
decoupled_weight_decay=True: the update is Adam.update, whose comments carry the labels
(adam.0), (adam.1), (adam.2), (adam.8) and (adam.7) for (adamw.1)-(adamw.5).

Unlike an L2 penalty, the decay (adamw.1) never enters m or v: every weight shrinks by
the same factor 1 - lr * lambda, whatever the size of its gradients.

Reference: torch.optim.AdamW (same arguments, same defaults: weight_decay 1e-2).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from optbook.optimizers.adam import Adam


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter), as torch.optim.AdamW.

    One step is (adamw.1)-(adamw.5) of the chapter "Weight decay, AdamW and AdaBelief":
    the decay (adamw.1), then Adam's step. The update is Adam.update with
    decoupled_weight_decay=True.
    """

    _bias_correction_switch = False  # torch.optim.AdamW has no such argument

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,  # (adamw.1): the one difference from Adam
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        # As torch.optim.AdamW: whatever state is loaded, AdamW's decay stays decoupled.
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
