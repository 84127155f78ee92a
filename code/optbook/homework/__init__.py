"""The homework's assignment side: what a student gets with ``optbook``.

- :mod:`optbook.homework.channel` -- Gray-labelled square QAM over AWGN, the
  closed-form BER, nearest-point and exact MAP bit logits
- :mod:`optbook.homework.grading` -- the data protocol and ``grade`` (the conditional
  Monte Carlo BER estimator by default), with its yardsticks
- :mod:`optbook.homework.symbol_detection` -- the course's baseline, its training
  loop, the per-symbol limit and ``judge``
- :mod:`optbook.homework.limits` -- exact BER curves by quadrature, and reading a BER
  curve (where it crosses a BER, the gap in dB between two curves)
- :mod:`optbook.homework.submissions` -- the submission contract (``detector.py`` with
  ``make_detector()``), writing a submission and checking it as the grader will
- :mod:`optbook.homework.class_grading` -- grading a class, every submission in its
  sandbox, and the results as data; :mod:`optbook.homework.grade_cli` -- the command
  ``scripts/grade-submissions``
- :mod:`optbook.homework.sandbox` -- the bubblewrap sandbox each submission runs in
- :mod:`optbook.homework.recipes` -- Part A: the fixed network, the budget, the training
  recipe's contract, training with a recipe and grading it over seeds
- :mod:`optbook.homework.impairments` -- Part B: the channel with per-frame IQ
  imbalance, compression and phase offset, its genie and its classical yardstick
- :mod:`optbook.homework.marking` -- the weights of the parts and the rungs of each;
  :mod:`optbook.homework.part_grading` -- grading a class on Part A or Part B

The reference solution is not here: it lives in the instructor-side package
``optbook_solution`` (folder ``instructor/`` of the book's repository), which the
students' release leaves out.
"""
