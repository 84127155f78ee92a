"""Import (almost) the whole standard library: preloaded by the grader's forkserver.

When the grader runs as root, each submission runs as ``nobody``, which may be unable to
read the Python installation (for example under ``/root/.pyenv``). Modules imported
before the fork are already in memory, so a submission can still use them. Modules that
print, open windows or are platform-specific are left out.
"""

import contextlib
import io
import sys
import warnings

_LEFT_OUT = {
    "__main__", "_curses", "_curses_panel", "_dbm", "_gdbm", "_msi", "_overlapped",
    "_tkinter", "_winapi", "antigravity", "curses", "dbm", "ensurepip", "idlelib",
    "lib2to3", "msilib", "msvcrt", "nt", "pty", "pydoc_data", "readline", "sqlite3",
    "test", "this", "tkinter", "tty", "turtle", "turtledemo", "winreg", "winsound",
    "xxlimited", "xxlimited_35", "xxsubtype",
}
_SUBMODULES = (
    "concurrent.futures", "email.mime.text", "importlib.metadata", "json.decoder",
    "logging.handlers", "multiprocessing.connection", "numpy.random",
    "torch.nn.functional", "unittest.mock", "urllib.request", "xml.etree.ElementTree",
)

with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
    warnings.simplefilter("ignore")
    for _name in sorted(sys.stdlib_module_names - _LEFT_OUT) + list(_SUBMODULES):
        try:
            __import__(_name)
        except Exception:  # noqa: BLE001, S110 - what does not import is not offered
            pass
