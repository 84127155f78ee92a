"""optbook: the shared code of the course book *Adaptive learning-rate optimizers for
deep learning, from derivation to practice*.

One topic per module:

- :mod:`optbook.optimizers` -- from-scratch optimizers, one module each (chapters 1-5)
- :mod:`optbook.verify` -- side-by-side runs that prove them equal to ``torch.optim``
- :mod:`optbook.landscapes` -- 2-D test functions
- :mod:`optbook.paths` -- running an optimizer on a 2-D function
- :mod:`optbook.plots` -- contour plots of paths, loss curves
- :mod:`optbook.races` -- many optimizers from many starts at once, the race measures
- :mod:`optbook.animation` -- animated paths that play in the built page
- :mod:`optbook.source` -- showing optbook's own source in the book
- :mod:`optbook.problems` -- small synthetic problems (sparse features, curve fits)
- :mod:`optbook.training` -- the training loop for ``nn.Module`` models, lr sweeps
- :mod:`optbook.datasets` -- data sets that ship with packages (scikit-learn's digits)
- :mod:`optbook.schedules` -- recording and plotting learning-rate schedules
- :mod:`optbook.char_model` -- a character-level model for racing optimizers
- :mod:`optbook.homework` -- the homework's assignment side: the channel, the grader,
  the course's baseline and the exact limits (the reference solution is instructors'
  only)
- :mod:`optbook.book` -- glued numbers and Markdown tables for the chapters
- :mod:`optbook.runtime` -- seeding, device selection and progress bars
"""

__version__ = "0.1.0"
