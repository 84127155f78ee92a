"""The base class of every from-scratch optimizer in the book.

A `torch.optim.Optimizer` already does the bookkeeping: parameter groups, per-parameter
state, `state_dict()` / `load_state_dict()`, and the hooks that learning-rate schedulers
use. What is left for an algorithm is one function: how a single parameter tensor is
updated from its gradient and its state. `PerParameterOptimizer` asks a subclass for
exactly that, and for nothing else:

- `validate(group)`: reject bad hyperparameters in clear words;
- `init_state(param, group)`: the state of a parameter before its first step;
- `update(param, grad, state, group)`: one step for one parameter tensor, written so
  that it reads like the chapter's equations.

The state keys are the ones `torch.optim` uses (`step`, `exp_avg`, ...), so a state dict
can be compared with, and even loaded from, the reference implementation.
See the chapter "From gradient descent to adaptive steps".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

# torch's implementation switches. They choose *how* torch computes a step (one kernel
# per tensor, one per group, a fused kernel, CUDA graphs, autograd through the step),
# never *what* it computes. optbook has one plain per-tensor path: it accepts the
# switches, so that code written for torch.optim runs unchanged, and refuses to switch
# them on.
IMPLEMENTATION_SWITCHES = ("foreach", "fused", "capturable", "differentiable")


class PerParameterOptimizer(torch.optim.Optimizer):
    """An optimizer defined by its update of one parameter tensor.

    Subclasses call `super().__init__(params, defaults, **switches)` and implement
    `validate`, `init_state` and `update`.
    """

    # "refuse" (dense gradients only, the default) or "require" (SparseAdam).
    sparse_gradients = "refuse"
    # torch keeps the step count as a tensor (SparseAdam as a Python int: False there).
    step_is_tensor = True

    def __init__(self, params: Any, defaults: dict[str, Any], **switches: Any) -> None:
        refuse_implementation_switches(type(self).__name__, switches)
        super().__init__(params, defaults)

    # -- what a subclass writes ------------------------------------------------------
    def validate(self, group: dict[str, Any]) -> None:
        """Raise `ValueError` if a hyperparameter of `group` is invalid."""

    def init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """The state of `param` before its first step."""
        return {}

    def update(
        self, param: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        """Update `param` in place from `grad` (already negated if `maximize`)."""
        raise NotImplementedError

    # -- the shared loop -------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        self.validate(self.param_groups[-1])

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """Perform one optimization step for every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            hyper = scalar_hyperparameters(group)
            for param in group["params"]:
                if param.grad is None:
                    continue
                check_gradient_layout(type(self).__name__, param.grad,
                                      self.sparse_gradients)
                state = self.state[param]
                if not state:
                    state.update(self.init_state(param, group))
                grad = -param.grad if group.get("maximize", False) else param.grad
                self.update(param, grad, state, hyper)
                if not state:  # nothing to remember (plain SGD): no entry, as in torch
                    del self.state[param]
        return loss


    def __setstate__(self, state: dict[str, Any]) -> None:
        # Older checkpoints hold the step count as a plain number: torch turns it back
        # into a tensor on load, and so does optbook.
        super().__setstate__(state)
        if not self.step_is_tensor:
            return
        for param_state in self.state.values():
            step = param_state.get("step") if isinstance(param_state, dict) else None
            if step is not None and not torch.is_tensor(step):
                counter = new_step_counter()
                param_state["step"] = counter.fill_(float(step))


def check_gradient_layout(name: str, grad: Tensor, sparse_gradients: str) -> None:
    """Sparse gradients only where an optimizer is written for them, in clear words."""
    if grad.is_sparse and sparse_gradients == "refuse":
        raise RuntimeError(
            f"{name} does not support sparse gradients; use a dense embedding "
            "(sparse=False), or SparseAdam for the embedding's parameters"
        )
    if not grad.is_sparse and sparse_gradients == "require":
        raise RuntimeError(
            f"{name} needs sparse gradients (nn.Embedding(..., sparse=True)); for "
            "dense gradients use Adam"
        )


def real_views(*tensors: Tensor) -> tuple[Tensor, ...]:
    """Complex tensors as real ones, each entry a pair (re, im), as torch.optim does.

    ``torch.view_as_real`` shares the storage: updating the view updates the complex
    tensor. Real tensors pass unchanged.
    """
    return tuple(torch.view_as_real(t) if t.is_complex() else t for t in tensors)


def to_scalar(value: Any) -> Any:
    """A one-element tensor hyperparameter as a 0-d tensor (torch's ``_to_scalar``)."""
    if isinstance(value, Tensor) and value.dim() != 0:
        return value.squeeze()
    return value


def scalar_hyperparameters(group: dict[str, Any]) -> dict[str, Any]:
    """``group`` with ``lr`` and ``betas`` as torch's step sees them (0-d tensors)."""
    hyper = dict(group)
    if "lr" in hyper:
        hyper["lr"] = to_scalar(hyper["lr"])
    if isinstance(hyper.get("betas"), (tuple, list)):
        hyper["betas"] = tuple(to_scalar(beta) for beta in hyper["betas"])
    return hyper


def refuse_implementation_switches(name: str, switches: dict[str, Any]) -> None:
    """Accept torch's implementation switches at their defaults, and only there."""
    for key, value in switches.items():
        if key not in IMPLEMENTATION_SWITCHES:
            raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
        if value:
            raise ValueError(
                f"{name}: {key}={value!r} selects one of torch's fast "
                "implementation paths; optbook has a single plain implementation, "
                f"so leave {key} at its default "
                "(use torch.optim for the fast paths)"
            )


def new_step_counter() -> Tensor:
    """A step counter as torch keeps it: a 0-d float tensor (float64 if that is the
    default dtype, float32 otherwise)."""
    default_is_double = torch.get_default_dtype() == torch.float64
    dtype = torch.float64 if default_is_double else torch.float32
    return torch.tensor(0.0, dtype=dtype)


def advance_step(state: dict[str, Any]) -> int:
    """Add one to `state["step"]`; return the new step number t (1.0 first).

    t is a Python float, as torch's step functions read it.
    """
    state["step"] += 1
    return state["step"].item()


# -- validation: clear words for the student -------------------------------------------
def _number(name: str, value: Any, meaning: str) -> float:
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} ({meaning}) must be a single number, "
                             f"got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} ({meaning}) must be a number, got {value!r}")
    if math.isnan(value):
        raise ValueError(f"{name} ({meaning}) must be a number, got NaN")
    return float(value)


def check_nonnegative(group: dict[str, Any], name: str, meaning: str) -> None:
    """`group[name] >= 0`, or a `ValueError` that says what the value means."""
    value = _number(name, group[name], meaning)
    if value < 0:
        hint = ""
        if name == "lr":
            hint = (" A negative learning rate would climb the loss; "
                    "use maximize=True to climb.")
        raise ValueError(f"{name} ({meaning}) must be >= 0, got {group[name]!r}.{hint}")


def check_in_unit_interval(
    group: dict[str, Any], name: str, meaning: str, *, closed: bool = False
) -> None:
    """`0 <= group[name] < 1` (`<= 1` if `closed`), or a `ValueError`."""
    value = _number(name, group[name], meaning)
    ok = 0.0 <= value <= 1.0 if closed else 0.0 <= value < 1.0
    if not ok:
        interval = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(
            f"{name} ({meaning}) must lie in {interval}, got {group[name]!r}"
        )


def check_betas(group: dict[str, Any]) -> None:
    """`betas` is a pair of averaging coefficients, each in [0, 1)."""
    betas = group["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    meanings = ("the decay of the gradient average",
                "the decay of the squared-gradient average")
    for index, (beta, meaning) in enumerate(zip(betas, meanings, strict=True)):
        check_in_unit_interval({f"betas[{index}]": beta}, f"betas[{index}]", meaning)
