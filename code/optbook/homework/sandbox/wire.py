"""The bytes between the grader and a sandbox, over one Unix socket.

A message is a kind (one byte), a length (four bytes, little-endian) and that many
bytes. The grader writes ``FRAMES`` (``<II`` frames, symbols, then complex64 samples)
and ``STOP``; the sandbox writes ``BOOTED`` (confined, torch loaded: the
submission's clock starts), ``READY``, ``LOGITS`` (``<III`` shape, then float32
logits) and ``ERROR`` (a one-letter code from :data:`ERROR_CODES`, then UTF-8 text).
No pickle, no JSON: nothing the grader reads can run code or nest.

The sandbox's side (:func:`send`, :func:`receive`) blocks: the grader is trusted. The
grader's side (:func:`read`, :func:`write`) never waits past a deadline and refuses a
message longer than it expects before reading it (the size of a correct reply is
known in advance).
"""

from __future__ import annotations

import select
import socket
import struct
import time

HEADER = struct.Struct("<cI")
BOOTED, READY, LOGITS, ERROR = b"B", b"R", b"L", b"E"
FRAMES, STOP = b"F", b"S"
MAX_ERROR_BYTES = 8192
"""The longest error report the grader reads."""

ERROR_CODES = {
    b"i": "import error",
    b"c": "breaks the contract",
    b"m": "make_detector() failed",
    b"o": "wrong output",
    b"s": "wrong shape",
    b"x": "crashed",
}
"""What a sandbox may report, and the verdict the grader gives each (its only say)."""


class Timeout(Exception):
    """The deadline passed before the message was complete."""


class Closed(Exception):
    """The other end closed the connection (the sandbox ended)."""


class ProtocolError(Exception):
    """A message the grader did not expect: wrong kind, or longer than allowed."""


# -- the sandbox's side (blocking) -----------------------------------------------------


def send(channel: socket.socket, kind: bytes, payload: bytes = b"") -> None:
    channel.sendall(HEADER.pack(kind, len(payload)))
    if payload:
        channel.sendall(payload)


def receive(channel: socket.socket) -> tuple[bytes, bytes]:
    kind, length = HEADER.unpack(_receive_exactly(channel, HEADER.size))
    return kind, _receive_exactly(channel, length)


def _receive_exactly(channel: socket.socket, size: int) -> bytes:
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        count = channel.recv_into(view[got:])
        if count == 0:
            raise Closed
        got += count
    return bytes(buffer)


# -- the grader's side (deadline and size cap) -----------------------------------------


def read(
    channel: socket.socket, deadline: float, max_sizes: dict[bytes, int]
) -> tuple[bytes, bytearray]:
    """One message whose kind is a key of ``max_sizes``, at most that long, by
    ``deadline`` (``time.monotonic()``); else :class:`Timeout`, :class:`Closed` or
    :class:`ProtocolError`."""
    kind, length = HEADER.unpack(_read_exactly(channel, HEADER.size, deadline))
    if kind not in max_sizes:
        raise ProtocolError(f"a message of unknown kind {kind!r}")
    if length > max_sizes[kind]:
        raise ProtocolError(
            f"a message of {length} bytes, more than the {max_sizes[kind]} expected"
        )
    return kind, _read_exactly(channel, length, deadline)


def write(channel: socket.socket, kind: bytes, payload: bytes, deadline: float) -> None:
    """Send one message by ``deadline``: a sandbox that stops reading cannot stall
    us."""
    data = memoryview(HEADER.pack(kind, len(payload)) + payload)
    poller = select.poll()
    poller.register(channel, select.POLLOUT)
    while data:
        _wait(poller, deadline)
        try:
            sent = channel.send(data)
        except BlockingIOError:
            continue
        except OSError as error:
            raise Closed from error
        data = data[sent:]


def _read_exactly(channel: socket.socket, size: int, deadline: float) -> bytearray:
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    poller = select.poll()
    poller.register(channel, select.POLLIN)
    while got < size:
        _wait(poller, deadline)
        try:
            count = channel.recv_into(view[got:])
        except BlockingIOError:
            continue
        except OSError as error:
            raise Closed from error
        if count == 0:
            raise Closed
        got += count
    return buffer


def _wait(poller: select.poll, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0 or not poller.poll(remaining * 1000):
        raise Timeout
