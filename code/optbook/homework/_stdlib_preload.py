"""Import (almost) the whole standard library: preloaded by the grader's forkserver.

When the grader runs as root, each submission runs as ``nobody``, which may be unable to
read the Python installation (for example under ``/root/.pyenv``). Modules imported
before the fork are already in memory, so a submission can still use them. Modules that
print, open windows or are platform-specific are left out.
"""

import contextlib
import io
import pkgutil
import sys
import warnings

_LEFT_OUT = {
    "__main__",
    "_curses",
    "_curses_panel",
    "_dbm",
    "_gdbm",
    "_msi",
    "_overlapped",
    "_tkinter",
    "_winapi",
    "antigravity",
    "curses",
    "dbm",
    "ensurepip",
    "idlelib",
    "lib2to3",
    "msilib",
    "msvcrt",
    "nt",
    "pty",
    "pydoc_data",
    "readline",
    "sqlite3",
    "test",
    "this",
    "tkinter",
    "tty",
    "turtle",
    "turtledemo",
    "winreg",
    "winsound",
    "xxlimited",
    "xxlimited_35",
    "xxsubtype",
}
_SUBMODULES = (
    "concurrent.futures",
    "email.mime.text",
    "importlib.metadata",
    "json.decoder",
    "logging.handlers",
    "multiprocessing.connection",
    "numpy.random",
    "torch.nn.functional",
    "unittest.mock",
    "urllib.request",
    "xml.etree.ElementTree",
)


def _submodules(package) -> list[str]:
    """The names of a standard-library package's submodules (tests left out)."""
    path = getattr(package, "__path__", None)
    if path is None:
        return []
    names = []
    for info in pkgutil.walk_packages(path, package.__name__ + ".", onerror=id):
        if not any(
            part in _LEFT_OUT or part.startswith("test")
            for part in info.name.split(".")
        ):
            names.append(info.name)
    return names


with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
    warnings.simplefilter("ignore")
    for _name in sorted(sys.stdlib_module_names - _LEFT_OUT) + list(_SUBMODULES):
        try:
            _module = __import__(_name)
        except Exception:  # noqa: BLE001, S110 - what does not import is not offered
            continue
        if _name in sys.stdlib_module_names:
            for _sub in _submodules(_module):
                try:
                    __import__(_sub)
                except Exception:  # noqa: BLE001, S110
                    pass
