"""Adversarial submissions for tests/test_submissions.py: each hunts for the answer.

Every hunter decides by the nearest point unless it finds the true bits (then it
returns them) or the seed (then it regenerates the frames and their bits). It prints
what it found, one line per clue, for the test to read from the submission's log.
"""

import gc
import os
import re
import sys

import torch

from optbook.homework.channel import QAM, nearest_point_logits
from optbook.homework.grading import GradingSamples

QAM16 = QAM(4)
NUMBERS = re.compile(rb"\d{6,20}")


def bits_like(value, received):
    """True for a 0/1 tensor shaped like the bits of ``received``."""
    return (
        isinstance(value, torch.Tensor)
        and tuple(value.shape) == (*received.shape, 4)
        and not value.is_complex()
        and bool(((value == 0) | (value == 1)).all())
    )


def in_order(value, received):
    """The bits of a grader's round in the order its detector sees them, if ``value``
    is such a round (it has ``bits`` and the shuffled ``order``)."""
    if isinstance(value, tuple) and type(value).__name__ == "_Round":
        bits = value.bits[value.order]
        if bits_like(bits, received):
            return bits
    return None


def answer(bits):
    return 10.0 * (2.0 * bits.float() - 1.0)


FOUND_SAMPLES = []


def bits_from(samples, received):
    """The bits of ``received`` in the protocol's rounds, if they are there."""
    frames = received.shape[0]
    for index in range(100):
        block = samples.round(index)
        seen, bits = block.received[block.order], block.bits[block.order]
        where = (seen == received[0]).all(dim=1).nonzero().flatten()
        for first in where.tolist():
            if torch.equal(seen[first : first + frames], received):
                return bits[first : first + frames]
    return None


def from_seeds(candidates, received, protocol):
    """Regenerate the protocol's frames with each candidate seed; bits if one fits."""
    if FOUND_SAMPLES:
        return bits_from(FOUND_SAMPLES[0], received)
    tried = 0
    for text in sorted(set(candidates))[:200]:
        tried += 1
        seed = int(text)
        samples = GradingSamples(seed % 2**63, QAM16, **protocol)
        first = samples.round(0)
        frames = received.shape[0]
        if torch.equal(first.received[first.order[:frames]], received):
            print(f"FOUND the seed {seed}", flush=True)
            FOUND_SAMPLES.append(samples)
            return first.bits[first.order[:frames]]
    print(f"seed candidates tried: {tried}, none fits", flush=True)
    return None


def read_small(path, limit=1 << 16):
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except OSError as error:
        print(f"cannot read {path}: {type(error).__name__}", flush=True)
        return b""


def ancestors():
    pid = os.getpid()
    chain = []
    while pid > 1 and len(chain) < 10:
        stat = read_small(f"/proc/{pid}/stat").decode(errors="replace")
        try:
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        except (IndexError, ValueError):
            break
        chain.append(pid)
    return chain


class Hunter(torch.nn.Module):
    def __init__(self, where, protocol, seed_file=None):
        super().__init__()
        self.where = where
        self.protocol = protocol
        self.seed_file = seed_file
        self.found = None
        print(f"uid {os.getuid()} cwd {os.getcwd()}", flush=True)

    def forward(self, received):
        hunt = getattr(self, "hunt_" + self.where)
        bits = hunt(received)
        if bits is not None:
            print(f"FOUND bits via {self.where}", flush=True)
            return answer(bits)
        return nearest_point_logits(QAM16, received)

    def hunt_stack(self, received):
        frame = sys._getframe()
        depth = 0
        while frame is not None:
            for name, value in list(frame.f_locals.items()):
                if in_order(value, received) is not None:
                    return in_order(value, received)
                parts = value if isinstance(value, tuple) else (value,)
                for part in parts:
                    if bits_like(part, received):
                        return part
                if "seed" in name.lower() or "bits" in name.lower():
                    print(f"FOUND a name {name} in {frame.f_code.co_name}", flush=True)
            frame = frame.f_back
            depth += 1
        print(f"stack depth {depth}, nothing", flush=True)
        return None

    def hunt_gc(self, received):
        count, candidates = 0, []
        for value in gc.get_objects():
            count += 1
            if bits_like(value, received):
                candidates.append(value)
            if in_order(value, received) is not None:
                candidates.append(in_order(value, received))
            if isinstance(value, GradingSamples):
                print("FOUND a GradingSamples", flush=True)
        if candidates:  # the bits of these samples agree best with nearest point
            guess = nearest_point_logits(QAM16, received) > 0
            return max(candidates, key=lambda bits: int((bits.bool() == guess).sum()))
        print(f"gc objects {count}, nothing", flush=True)
        return None

    def hunt_environment(self, received):
        text = "\n".join(f"{k}={v}" for k, v in os.environ.items()).encode()
        text += read_small("/proc/self/environ")
        print(f"environment: {sorted(os.environ)}", flush=True)
        return from_seeds(NUMBERS.findall(text), received, self.protocol)

    def hunt_files(self, received):
        texts = []
        paths = [os.getcwd()]
        folder = os.getcwd()
        while folder != "/":
            folder = os.path.dirname(folder)
            paths.append(folder)
        paths.append(tempfile_dir())
        for folder in paths:
            try:
                names = os.listdir(folder)
            except OSError as error:
                print(f"cannot list {folder}: {type(error).__name__}", flush=True)
                continue
            for name in names[:200]:
                path = os.path.join(folder, name)
                if os.path.isfile(path):
                    texts.append(read_small(path))
        chain = ancestors()
        print(f"ancestors: {chain}", flush=True)
        for depth, pid in enumerate(chain):
            for part in ("cmdline", "environ"):
                texts.append(read_small(f"/proc/{pid}/{part}"))
            if depth >= 2:  # the launcher and the grader are the ones that matter
                continue
            try:
                with open(f"/proc/{pid}/mem", "rb"):
                    print(f"opened /proc/{pid}/mem", flush=True)
            except OSError as error:
                print(
                    f"cannot open /proc/{pid}/mem: {type(error).__name__}", flush=True
                )
        if self.seed_file:
            content = read_small(self.seed_file)
            if content:
                print("FOUND the seed file readable", flush=True)
            texts.append(content)
        candidates = [n for text in texts for n in NUMBERS.findall(text)]
        print(f"numbers found: {sorted(set(candidates))[:50]}", flush=True)
        return from_seeds(candidates, received, self.protocol)


def tempfile_dir():
    return "/tmp"
