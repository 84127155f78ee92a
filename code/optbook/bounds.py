"""How far one step of Adam or AdaMax can move a coordinate, in units of the learning
rate.

The chapter "AdaMax and Nadam" derives these; ``tests/test_bounds.py`` checks each one
against ``torch.optim.Adam`` and ``torch.optim.Adamax``. All ignore epsilon (which only
shortens steps) and weight decay.

Adam's step at step t is ``lr * m_hat / sqrt(v_hat)``. By Cauchy-Schwarz,

    |m_t| = (1 - b1) |sum_i b1^(t-i) g_i|
          <= (1 - b1) sqrt(sum_i (b1^2 / b2)^(t-i)) sqrt(sum_i b2^(t-i) g_i^2),

so with q = b1^2 / b2 the step is at most

    (1 - b1) / (1 - b1^t) * sqrt((1 - b2^t) / (1 - b2)) * sqrt((1 - q^t) / (1 - q)),

with equality for gradients g_i proportional to (b1 / b2)^(t-i): gradients that grow by
the factor b2 / b1 at every step. As t grows this tends to the supremum
(1 - b1) / sqrt((1 - b2) (1 - q)) when q < 1, and grows without bound when q >= 1.

Kingma and Ba's (1 - b1) / sqrt(1 - b2) (their section 2.1) is the step after one
gradient that follows a long silence: not a bound. A steady gradient after a long
silence already goes further.
"""

from __future__ import annotations

import math


def _check(beta1: float, beta2: float) -> None:
    if not (0.0 <= beta1 < 1.0 and 0.0 < beta2 < 1.0):
        raise ValueError(
            "betas must satisfy 0 <= beta1 < 1 and 0 < beta2 < 1, "
            f"got ({beta1}, {beta2})"
        )


def adam_step_bound(beta1: float, beta2: float, t: int) -> float:
    """The largest |step| / lr that Adam can take at step t, over all gradients."""
    _check(beta1, beta2)
    if t < 1:
        raise ValueError(f"the step t counts from 1, got {t}")
    q = beta1**2 / beta2
    memory = t if q == 1.0 else (1 - q**t) / (1 - q)  # sum of q^k, k = 0 .. t-1
    return ((1 - beta1) / (1 - beta1**t) * math.sqrt((1 - beta2**t) / (1 - beta2))
            * math.sqrt(memory))


def adam_step_supremum(beta1: float, beta2: float) -> float:
    """The supremum over t of :func:`adam_step_bound`; ``math.inf`` if
    beta1^2 >= beta2."""
    _check(beta1, beta2)
    q = beta1**2 / beta2
    if q >= 1.0:
        return math.inf
    return (1 - beta1) / math.sqrt((1 - beta2) * (1 - q))


def extremal_gradients(beta1: float, beta2: float, t: int) -> list[float]:
    """The t gradients whose step t equals :func:`adam_step_bound`: the last one is 1,
    and each is b2 / b1 times the one before."""
    _check(beta1, beta2)
    return [(beta1 / beta2) ** (t - i) for i in range(1, t + 1)]


def single_spike_after_silence(beta1: float, beta2: float) -> float:
    """Kingma and Ba's (1 - b1) / sqrt(1 - b2): the step of one gradient after a long
    run of zero gradients."""
    _check(beta1, beta2)
    return (1 - beta1) / math.sqrt(1 - beta2)


def steady_after_silence(beta1: float, beta2: float, k: int) -> float:
    """The k-th step of a steady gradient after a long run of zero gradients:
    (1 - b1^k) / sqrt(1 - b2^k), about (1 - b1^k) / sqrt(k (1 - b2))."""
    _check(beta1, beta2)
    return (1 - beta1**k) / math.sqrt(1 - beta2**k)


def adamax_step_bound(beta1: float, beta2: float, t: int | None = None) -> float:
    """The largest |step| / lr of AdaMax at step t (t = None: the limit of large t);
    needs beta1 < beta2."""
    _check(beta1, beta2)
    if beta1 >= beta2:
        raise ValueError(
            f"the AdaMax bound needs beta1 < beta2, got ({beta1}, {beta2})"
        )
    ratio = beta1 / beta2
    if t is None:
        return (1 - beta1) / (1 - ratio)
    return (1 - beta1) / (1 - ratio) * (1 - ratio**t) / (1 - beta1**t)
