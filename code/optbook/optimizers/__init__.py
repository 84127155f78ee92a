"""From-scratch optimizers, one module each, every one proven equal to its reference.

See :mod:`optbook.optimizers.base` for the shared loop. ``TORCH_REFERENCES`` maps each
optimizer to the ``torch.optim`` class it reproduces (same constructor, same state, same
steps); AdaBelief's reference is the authors' package ``adabelief-pytorch``, which is not a
dependency of optbook (the tests import it).
"""

import torch

from optbook.optimizers.adabelief import AdaBelief
from optbook.optimizers.adagrad import Adagrad
from optbook.optimizers.adam import Adam
from optbook.optimizers.adamax import Adamax
from optbook.optimizers.adamw import AdamW
from optbook.optimizers.base import PerParameterOptimizer
from optbook.optimizers.nadam import NAdam
from optbook.optimizers.rmsprop import RMSprop
from optbook.optimizers.sgd import SGD

TORCH_REFERENCES: dict[type[PerParameterOptimizer], type[torch.optim.Optimizer]] = {
    SGD: torch.optim.SGD,
    Adagrad: torch.optim.Adagrad,
    RMSprop: torch.optim.RMSprop,
    Adam: torch.optim.Adam,
    AdamW: torch.optim.AdamW,
    Adamax: torch.optim.Adamax,
    NAdam: torch.optim.NAdam,
}

__all__ = [
    "AdaBelief",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "PerParameterOptimizer",
    "RMSprop",
    "SGD",
    "TORCH_REFERENCES",
]
