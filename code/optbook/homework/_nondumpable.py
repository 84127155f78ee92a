"""Make the importing process non-dumpable (preloaded by the grader's forkserver).

A non-dumpable process's ``/proc/<pid>/mem``, ``environ`` and ``ptrace`` are closed to
other processes of the same user, so a submission cannot look into its forkserver.
Each submission's own process makes itself dumpable again: it holds no secret.
"""

import ctypes

_PR_SET_DUMPABLE = 4

ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
