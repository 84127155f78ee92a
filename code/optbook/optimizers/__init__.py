"""From-scratch optimizers, one module each, every one equal to its torch.optim reference.

See :mod:`optbook.optimizers.base` for the shared loop.
"""

from optbook.optimizers.base import PerParameterOptimizer
from optbook.optimizers.sgd import SGD

__all__ = ["PerParameterOptimizer", "SGD"]
