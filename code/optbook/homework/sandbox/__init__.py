"""Running a homework submission in a sandbox a hostile class cannot break.

- :mod:`.launcher` -- starts one sandbox: bubblewrap's namespaces and read-only
  mounts, a fresh user id as root, the limits, a memory watchdog, the end of every
  process it started (:class:`~.launcher.Sandbox`, :class:`~.launcher.Limits`)
- :mod:`.inside` -- the code that runs inside: confines its own process, then serves
  one *task kind* (today ``"detector"``; :data:`~.inside.TASKS`)
- :mod:`.wire` -- the bytes between the two: typed, length-prefixed messages read with
  a deadline and a size cap
- :mod:`.folder` -- the submission copied into the grader's private folder, refusing
  links and special files
- :mod:`.client` -- the grader's side of the ``"detector"`` task
  (:class:`~.client.IsolatedDetector`) and the verdicts
  (:class:`~.client.SubmissionFailed`)

This package imports nothing at its top, so that the code inside the sandbox loads only
what it needs.
"""
