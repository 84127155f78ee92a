"""The grader's side of the sandbox without a sandbox: fast, and run on every host.

The wire's deadline and size cap, the safe copy, results as data, every exception a
verdict, and frames whose position tells nothing about N0. The hostile class in the
real sandbox is tests/test_sandbox_attacks.py.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path

import pytest
import torch

from optbook.homework import class_grading
from optbook.homework.channel import QAM, ebn0_db_to_n0, map_bit_logits
from optbook.homework.class_grading import (
    Protocol,
    csv_cell,
    grade_one,
    markdown_text,
)
from optbook.homework.grading import FRAMES_PER_ROUND, grade
from optbook.homework.sandbox import wire
from optbook.homework.sandbox.client import clean_text
from optbook.homework.sandbox.folder import Refused, copy_submission
from optbook.homework.sandbox.launcher import Limits

TINY = Protocol(num_points=5, target_standard_error=5e-3)


def test_a_reply_is_read_with_a_deadline():
    grader, child = socket.socketpair()
    grader.setblocking(False)
    child.sendall(struct.pack("<cI", wire.LOGITS, 100) + b"xx")  # then silence
    start = time.monotonic()
    with pytest.raises(wire.Timeout):
        wire.read(grader, time.monotonic() + 0.3, {wire.LOGITS: 100})
    assert time.monotonic() - start < 2


def test_a_reply_longer_than_expected_is_refused_unread():
    grader, child = socket.socketpair()
    grader.setblocking(False)
    child.sendall(struct.pack("<cI", wire.LOGITS, 1 << 30))
    with pytest.raises(wire.ProtocolError, match="more than the 1000 expected"):
        wire.read(grader, time.monotonic() + 5, {wire.LOGITS: 1000})
    child.sendall(struct.pack("<cI", b"Z", 0))
    with pytest.raises(wire.ProtocolError, match="unknown kind"):
        wire.read(grader, time.monotonic() + 5, {wire.LOGITS: 1000})


def test_a_short_reply_is_a_closed_connection():
    grader, child = socket.socketpair()
    grader.setblocking(False)
    child.sendall(b"R")
    child.close()
    with pytest.raises(wire.Closed):
        wire.read(grader, time.monotonic() + 5, {wire.READY: 0})


def test_a_child_that_stops_reading_cannot_stall_the_grader():
    grader, child = socket.socketpair()
    grader.setblocking(False)
    with pytest.raises(wire.Timeout):
        wire.write(grader, wire.FRAMES, bytes(50 << 20), time.monotonic() + 0.5)


def test_links_fifos_and_size_are_refused(tmp_path):
    source = tmp_path / "sub"
    source.mkdir()
    (source / "detector.py").write_text("x = 1\n")
    copy_submission(source, tmp_path / "copy1", 1 << 20)
    assert (tmp_path / "copy1" / "detector.py").read_text() == "x = 1\n"
    (source / "output.log").symlink_to("/etc/passwd")
    with pytest.raises(Refused, match="output.log is a symbolic link"):
        copy_submission(source, tmp_path / "copy2", 1 << 20)
    (source / "output.log").unlink()
    os.mkfifo(source / "pipe")
    with pytest.raises(Refused, match="pipe is a FIFO"):
        copy_submission(source, tmp_path / "copy3", 1 << 20)
    (source / "pipe").unlink()
    (source / "big.pt").write_bytes(bytes(2 << 20))
    with pytest.raises(Refused, match="larger"):
        copy_submission(source, tmp_path / "copy4", 1 << 20)


def test_results_are_data():
    assert clean_text("a\x1b[31mb\rc\u202ed\n") == "a[31mbcd\n"
    assert markdown_text("<img src=x>*a*") == "&lt;img src=x&gt;\\*a\\*"
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_cell("@x") == "'@x" and csv_cell("-1.5") == "-1.5"
    assert csv_cell(0.5) == 0.5 and csv_cell("ok") == "ok"


def test_an_exception_in_the_grader_becomes_a_verdict(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(class_grading, "IsolatedDetector", broken)
    (tmp_path / "a").mkdir()
    result = grade_one(tmp_path / "a", TINY.samples(1), TINY, Limits(), {})
    assert result.verdict == "grader error"
    assert "RecursionError" in result.detail


class FrameCounter:
    """Knows the protocol's public grid; counts frames to guess each one's N0, then
    answers with the exact MAP posterior for that N0 (the genie, if it guesses
    right)."""

    def __init__(self, samples, order=None):
        self.ebn0 = samples.ebn0_db.repeat_interleave(FRAMES_PER_ROUND)
        self.samples, self.order, self.seen = samples, order, 0

    def __call__(self, received):
        per_round = len(self.ebn0)
        index = torch.arange(self.seen, self.seen + received.shape[0]) % per_round
        if self.order is not None:  # a control: told the real order
            rounds = self.seen // per_round
            index = self.samples.round(rounds).order[index]
        self.seen += received.shape[0]
        n0 = ebn0_db_to_n0(self.ebn0[index], 4).to(torch.float32)
        return map_bit_logits(QAM(4), received, n0)


def test_position_carries_no_n0():
    samples = TINY.samples(77)
    told = grade(FrameCounter(samples, order=True), samples=samples,
                 target_standard_error=5e-3, max_symbols_per_call=4096)
    assert abs(told.gap_to_genie) < 1e-6  # told the order, counting is the genie
    counted = grade(FrameCounter(samples), samples=samples,
                    target_standard_error=5e-3, max_symbols_per_call=4096)
    # guessing N0 from the position now does worse than not trying at all
    assert counted.gap_to_genie > 3 * counted.gap_to_genie_standard_error
    assert counted.ber > counted.nearest_point_ber
    first_call = samples.round(0).order[:16] // FRAMES_PER_ROUND
    assert len(set(first_call.tolist())) > 1  # one call mixes the Eb/N0 points


def test_the_tool_refuses_to_grade_without_a_sandbox(tmp_path, monkeypatch, capsys):
    from optbook.homework import grade_cli

    monkeypatch.setattr(
        class_grading, "sandbox_problem", lambda: "bubblewrap (bwrap) is not installed"
    )
    (tmp_path / "a").mkdir()
    code = grade_cli.main([str(tmp_path / "a"), "--no-yardsticks", "--small",
                           "--out", str(tmp_path / "out")])
    assert code == 2
    assert "bubblewrap (bwrap) is not installed" in capsys.readouterr().err
    assert not Path(tmp_path / "out").exists()


def test_the_students_check_runs_where_bubblewrap_cannot(tmp_path, monkeypatch):
    """On macOS or Colab the check still grades, and says it ran unsandboxed."""
    from optbook.homework import submissions

    monkeypatch.setattr(submissions, "sandbox_problem", lambda: "no bwrap")
    folder = submissions.write_submission(
        tmp_path / "mine",
        "from optbook.homework.grading import NearestPointDetector\n\n"
        "def make_detector():\n    return NearestPointDetector()\n",
    )
    result = submissions.check_submission(folder, seed=5, level=False)
    assert result.verdict == "ok", (result.detail, result.log)
    assert "checked without the sandbox" in result.detail
