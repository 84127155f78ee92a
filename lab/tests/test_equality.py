"""The lab's JavaScript (lab/src/core.js) against optbook.paths.run_path, with Node.

Every method x every surface x three settings of its hyperparameters, 500 steps each:
the points and the losses must agree to a relative 1e-12 (at every step, the largest
coordinate difference over the larger coordinate; for a loss, the difference over the
larger of the two), and a path that leaves the finite numbers must leave
them at the same step. Most agree to the bit; the summary printed by ``-s`` says how
many and gives the worst difference.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from optbook import landscapes as L
from optbook import optimizers as O
from optbook.paths import run_path

LAB = Path(__file__).resolve().parent.parent
STEPS = 500
RTOL = 1e-12

SURFACES = {  # the lab's keys (SURFACES of core.js) and optbook's landscapes
    "beale": (L.beale(), (1.0, 1.5)),
    "rosenbrock": (L.rosenbrock(), (-1.2, 1.0)),
    "saddle": (L.saddle(), (1.0, 0.01)),
    "saddle30": (L.rotated(L.saddle(), 30), (0.8, 0.6)),
    "wells": (L.double_well(tilt=0.5), (1.5, 1.0)),
    "symmetric": (L.double_well(tilt=0.0), (1e-4, 1.0)),
    "quadratic": (L.elongated_quadratic(), (-5.0, -2.0)),
    "bowl": (L.elongated_quadratic(steep=2.0, flat=2.0), (1.0, 0.01)),
}


def adam_args(h):
    return dict(lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                weight_decay=h["weight_decay"])


FACTORIES = {  # the lab's names (METHODS of core.js) and optbook's optimizers
    "SGD": lambda p, h: O.SGD(p, lr=h["lr"], weight_decay=h["weight_decay"]),
    "momentum": lambda p, h: O.SGD(p, lr=h["lr"], momentum=h["momentum"],
                                   weight_decay=h["weight_decay"]),
    "Nesterov": lambda p, h: O.SGD(p, lr=h["lr"], momentum=h["momentum"],
                                   weight_decay=h["weight_decay"], nesterov=True),
    "Adagrad": lambda p, h: O.Adagrad(p, lr=h["lr"], eps=h["eps"],
                                      weight_decay=h["weight_decay"]),
    "RMSProp": lambda p, h: O.RMSprop(p, lr=h["lr"], alpha=h["alpha"], eps=h["eps"],
                                      momentum=h["momentum"],
                                      weight_decay=h["weight_decay"]),
    "Adam": lambda p, h: O.Adam(p, **adam_args(h)),
    "AdaMax": lambda p, h: O.Adamax(p, **adam_args(h)),
    "NAdam": lambda p, h: O.NAdam(p, **adam_args(h)),
    "AdamW": lambda p, h: O.AdamW(p, **adam_args(h)),
    "AdaBelief": lambda p, h: O.AdaBelief(p, **adam_args(h)),
}
DEFAULTS = {  # core.js's defaults (torch's, the lr apart), checked against it below
    "SGD": dict(lr=0.01, weight_decay=0),
    "momentum": dict(lr=0.01, momentum=0.9, weight_decay=0),
    "Nesterov": dict(lr=0.01, momentum=0.9, weight_decay=0),
    "Adagrad": dict(lr=0.01, eps=1e-10, weight_decay=0),
    "RMSProp": dict(lr=0.01, alpha=0.99, eps=1e-8, momentum=0, weight_decay=0),
    "Adam": dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0),
    "AdaMax": dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0),
    "NAdam": dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0),
    "AdamW": dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01),
    "AdaBelief": dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-16, weight_decay=0),
}
# Three settings per method: the defaults, a slow one with other averages and a fast
# one with weight decay (values from the lab's sliders). Keys a method lacks are
# dropped.
SETTINGS = [
    {},
    dict(lr=0.00316, momentum=0.5, beta1=0.5, beta2=0.99, alpha=0.9, eps=1e-6),
    dict(lr=0.0316, momentum=0.97, beta1=0.95, beta2=0.9999, alpha=0.999, eps=1e-12,
         weight_decay=0.03),
]


def cases():
    for surface in SURFACES:
        for method, defaults in DEFAULTS.items():
            for k, setting in enumerate(SETTINGS):
                hyper = {**defaults,
                         **{key: v for key, v in setting.items() if key in defaults}}
                x0, y0 = SURFACES[surface][1]
                start = (x0 + 0.05 * k, y0 - 0.03 * k)
                yield dict(surface=surface, method=method, hyper=hyper,
                           start=list(start), steps=STEPS)


def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.fail("Node.js is needed for the lab's tests (apt install nodejs)")
    return found


def run_js(case_list):
    done = subprocess.run(
        [node(), str(LAB / "tests" / "run_paths.js")],
        input=json.dumps(case_list), capture_output=True, text=True, check=True,
    )
    decode = lambda s: np.frombuffer(base64.b64decode(s), dtype=np.float64)  # noqa: E731
    return [(decode(r["points"]).reshape(-1, 2), decode(r["losses"]))
            for r in json.loads(done.stdout)]


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """The largest relative difference of two paths' rows, over the rows finite in
    both: for points, the largest coordinate difference over the larger coordinate of
    the point (max-norm); for losses, |a - b| / max(|a|, |b|). 0 where both are 0."""
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    both = np.isfinite(a).all(1) & np.isfinite(b).all(1)
    a, b = a[both], b[both]
    scale = np.maximum(np.abs(a).max(1), np.abs(b).max(1))
    diff = np.abs(a - b).max(1)
    ratio = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
    return float(ratio.max(initial=0.0))


def test_defaults_are_the_labs():
    script = ("const c = require(process.argv[1]); const d = {};"
              "for (const [k, m] of Object.entries(c.METHODS)) d[k] = m.defaults;"
              "process.stdout.write(JSON.stringify(d));")
    done = subprocess.run([node(), "-e", script, str(LAB / "src" / "core.js")],
                          capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == DEFAULTS


def ieee_sqrt(self):
    """A tensor's square root rounded correctly (IEEE 754), as JavaScript's Math.sqrt.

    torch's CPU sqrt (Intel MKL's vector math) rounds about 0.7 % of float64 square
    roots one unit in the last place low; nothing in JavaScript can reproduce it."""
    return torch.from_numpy(np.sqrt(self.detach().numpy()))


def torch_path(case, sqrt=None):
    landscape = SURFACES[case["surface"]][0]
    make, hyper = FACTORIES[case["method"]], case["hyper"]
    original = torch.Tensor.sqrt
    if sqrt is not None:
        torch.Tensor.sqrt = sqrt
    try:
        path = run_path(landscape, lambda p: make(p, hyper), case["start"], STEPS)
    finally:
        torch.Tensor.sqrt = original
    return path.points.numpy(), path.losses.numpy()


NO_SQRT = ("SGD", "momentum", "Nesterov", "AdaMax")


def same_finite_steps(a, b) -> bool:
    return all(np.array_equal(np.isfinite(x), np.isfinite(y))
               for x, y in zip(a, b, strict=True))


def difference(a, b) -> float:
    return max(relative_difference(x, y) for x, y in zip(a, b, strict=True))


def bitwise(a, b) -> bool:
    return all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b, strict=True))


def test_every_path_equals_run_path():
    """The lab against run_path, and against run_path with torch's sqrt rounded
    correctly.

    (a) With the correctly rounded sqrt, the operations are the same: every path must
    agree to 1e-12, and they agree to the bit but for the rare powers that the C
    library's pow rounds wrongly (counted). (b) Against run_path as it is, every path
    must agree to 1e-12, except a path so sensitive that run_path itself moves by more
    than 1e-13 when only its sqrt is rounded correctly: there no other
    implementation can agree, and (a) has proven the lab equal.
    """
    torch.set_num_threads(1)
    case_list = list(cases())
    assert len(case_list) == len(SURFACES) * len(DEFAULTS) * len(SETTINGS)
    js = run_js(case_list)
    failures, sensitive = [], []
    worst, worst_name, worst_ieee, same_ieee, same_torch = 0.0, "", 0.0, 0, 0
    for case, lab in zip(case_list, js, strict=True):
        name = f"{case['method']} on {case['surface']}, {case['hyper']}"
        reference = torch_path(case)
        # only the adaptive methods take a square root
        ieee = reference if case["method"] in NO_SQRT else torch_path(case, ieee_sqrt)
        for ref, label in ((ieee, "with IEEE sqrt"), (reference, "as it is")):
            if not same_finite_steps(ref, lab):
                failures.append(f"{name}: leaves the finite numbers at another step "
                                f"than run_path {label}")
        d_ieee, d_torch = difference(ieee, lab), difference(reference, lab)
        same_ieee += bitwise(ieee, lab)
        same_torch += bitwise(reference, lab)
        worst_ieee = max(worst_ieee, d_ieee)
        if d_ieee > RTOL:
            failures.append(f"{name}: {d_ieee:.3g} from run_path with IEEE sqrt")
        own = difference(reference, ieee)  # run_path's sensitivity to its sqrt
        if own > RTOL / 10:
            sensitive.append(f"{name}: run_path moves by {own:.2g} with IEEE sqrt; "
                             f"the lab is {d_torch:.2g} from it")
            continue
        if d_torch > worst:
            worst, worst_name = d_torch, name
        if d_torch > RTOL:
            failures.append(f"{name}: relative difference {d_torch:.3g}")
    print(f"\nlab vs run_path: {len(case_list)} paths of {STEPS} steps; "
          f"{same_torch} equal to the bit, worst relative difference {worst:.3g} "
          f"({worst_name}).\nWith torch's sqrt rounded correctly: {same_ieee} equal "
          f"to the bit, worst {worst_ieee:.3g}.\n{len(sensitive)} paths sensitive to "
          "the last bit of torch's sqrt:\n  " + "\n  ".join(sensitive))
    assert not failures, "\n".join(failures)
    assert len(sensitive) <= len(case_list) // 20, "too many sensitive paths"
