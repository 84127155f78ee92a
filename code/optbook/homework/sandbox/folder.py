"""A submission's folder, copied into the grader's own private folder before grading.

Only regular files and folders are copied; a symbolic link, a FIFO, a socket or a
device anywhere in it is refused with a verdict (the grader never follows or opens
one). Files are opened with ``O_NOFOLLOW | O_NONBLOCK`` and checked again after
opening (a file swapped for a link or a FIFO meanwhile is refused too). The copy is
readable by everyone but sits in a folder only the grader can enter; the sandbox sees
it read-only as ``/submission``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_FILES = 1000


class Refused(Exception):
    """The folder holds something that is not a plain file or folder, or too much."""


def copy_submission(source: Path, target: Path, max_bytes: int) -> int:
    """Copy ``source`` into the new folder ``target``; return the bytes copied."""
    budget = [max_bytes, MAX_FILES]
    os.mkdir(target, 0o755)
    _copy_folder(source, target, Path("."), budget)
    return max_bytes - budget[0]


def _copy_folder(source: Path, target: Path, relative: Path, budget: list[int]) -> None:
    with os.scandir(source) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            mode = entry.stat(follow_symlinks=False).st_mode
            name = relative / entry.name
            budget[1] -= 1
            if budget[1] < 0:
                raise Refused(f"more than {MAX_FILES} files")
            if stat.S_ISDIR(mode):
                os.mkdir(target / entry.name, 0o755)
                _copy_folder(Path(entry.path), target / entry.name, name, budget)
            elif stat.S_ISREG(mode):
                _copy_file(Path(entry.path), target / entry.name, name, budget)
            else:
                raise Refused(f"{name} is {_kind(mode)}, not a plain file")


def _copy_file(source: Path, target: Path, name: Path, budget: list[int]) -> None:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(source, flags)
    except OSError as error:
        raise Refused(f"{name} cannot be opened ({error.strerror})") from None
    with os.fdopen(fd, "rb") as reader:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Refused(f"{name} is not a plain file")
        with open(target, "xb") as writer:
            while chunk := reader.read(1 << 20):
                budget[0] -= len(chunk)
                if budget[0] < 0:
                    raise Refused("larger than the size allowed")
                writer.write(chunk)
    os.chmod(target, 0o644)


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device or other special file"
