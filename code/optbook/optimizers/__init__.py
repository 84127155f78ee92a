"""From-scratch optimizers, one module each, every one proven equal to its reference.

See :mod:`optbook.optimizers.base` for the shared loop. ``TORCH_REFERENCES`` maps each
optimizer to the ``torch.optim`` class it reproduces (same constructor, same state, same
steps); AdaBelief's and Lion's references are their authors' packages
(``adabelief-pytorch``, ``lion-pytorch``), which are not dependencies of optbook (the
tests import them). ``SignSGD`` (sign descent with momentum) has no reference of its
own: it is proven equal to Lion with its two betas equal. ``ScheduleFreeAdamW``,
``Shampoo`` and ``SOAP`` are proven equal to packages from the index
(``schedulefree.AdamWScheduleFree``, ``pytorch_optimizer.Shampoo`` and
``pytorch_optimizer.SOAP``; tests/test_frontier_optimizers.py).
"""

import torch

from optbook.optimizers.adabelief import AdaBelief
from optbook.optimizers.adadelta import Adadelta
from optbook.optimizers.adafactor import Adafactor
from optbook.optimizers.adagrad import Adagrad
from optbook.optimizers.adam import Adam
from optbook.optimizers.adamax import Adamax
from optbook.optimizers.adamw import AdamW
from optbook.optimizers.base import PerParameterOptimizer
from optbook.optimizers.lion import Lion
from optbook.optimizers.muon import Muon
from optbook.optimizers.nadam import NAdam
from optbook.optimizers.radam import RAdam
from optbook.optimizers.rmsprop import RMSprop
from optbook.optimizers.schedule_free import ScheduleFreeAdamW
from optbook.optimizers.sgd import SGD
from optbook.optimizers.shampoo import Shampoo
from optbook.optimizers.sign import SignSGD
from optbook.optimizers.soap import SOAP
from optbook.optimizers.sparse_adam import SparseAdam

TORCH_REFERENCES: dict[type[PerParameterOptimizer], type[torch.optim.Optimizer]] = {
    SGD: torch.optim.SGD,
    Adagrad: torch.optim.Adagrad,
    RMSprop: torch.optim.RMSprop,
    Adam: torch.optim.Adam,
    AdamW: torch.optim.AdamW,
    Adamax: torch.optim.Adamax,
    NAdam: torch.optim.NAdam,
    RAdam: torch.optim.RAdam,
    Adadelta: torch.optim.Adadelta,
    SparseAdam: torch.optim.SparseAdam,
    Adafactor: torch.optim.Adafactor,
    Muon: torch.optim.Muon,
}

__all__ = [
    "AdaBelief",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Lion",
    "Muon",
    "NAdam",
    "RAdam",
    "PerParameterOptimizer",
    "RMSprop",
    "SGD",
    "SOAP",
    "ScheduleFreeAdamW",
    "Shampoo",
    "SignSGD",
    "SparseAdam",
    "TORCH_REFERENCES",
]
