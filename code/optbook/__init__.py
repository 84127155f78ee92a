"""optbook: the shared code of the course book *Adaptive learning-rate optimizers for
deep learning, from derivation to practice*.

One topic per module:

- :mod:`optbook.optimizers` -- from-scratch optimizers, one module each (chapters 1-5)
- :mod:`optbook.verify` -- side-by-side runs that prove them equal to ``torch.optim``
- :mod:`optbook.landscapes` -- 2-D test functions
- :mod:`optbook.paths` -- running an optimizer on a 2-D function
- :mod:`optbook.plots` -- contour plots of paths, loss curves
- :mod:`optbook.source` -- showing optbook's own source in the book
- :mod:`optbook.problems` -- small synthetic problems (sparse features, curve fits)
- :mod:`optbook.training` -- the training loop for ``nn.Module`` models, learning-rate sweeps
- :mod:`optbook.datasets` -- data sets that ship with installed packages (scikit-learn's digits)
- :mod:`optbook.schedules` -- recording and plotting learning-rate schedules
- :mod:`optbook.channel` -- QAM over AWGN, the homework's channel model
- :mod:`optbook.grading` -- the homework's data protocol and ``grade``
- :mod:`optbook.symbol_detection` -- the homework's baseline, training and per-symbol limit
- :mod:`optbook.frame_detection` -- the homework's reference solution: detectors that use the whole frame
- :mod:`optbook.runtime` -- seeding and device selection
"""

__version__ = "0.1.0"
