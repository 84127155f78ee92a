/* optbook's optimizer lab, the arithmetic: the book's 2-D surfaces with their analytic
 * gradients and the ten element-wise optimizers, in float64, in torch's order of
 * operations, so that a path computed here equals optbook.paths.run_path's
 * (lab/tests/test_equality.py checks it with Node). No DOM: lab.js draws.
 *
 * Two facts about torch on the CPU shape this file:
 * - its kernels for add(alpha=), addcmul and lerp use a fused multiply-add (one
 *   rounding for a * b + c); JavaScript has none, so `fma` below emulates it exactly
 *   (Boldo and Melquiond's algorithm with rounding to odd);
 * - Python's `beta ** t` and torch's `y ** 4` call the C library's pow, which is
 *   correctly rounded in all but rare cases, while V8's Math.pow is often one unit in
 *   the last place off; `powInt` computes the correctly rounded integer power.
 */
(function (root, factory) {
  "use strict";
  const core = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = core;
  } else {
    root.OptLabCore = core;
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  // ---------------------------------------------------------------- exact arithmetic
  const SPLITTER = 134217729; // 2 ** 27 + 1, Veltkamp's constant for float64
  const BIG = 2 ** 996; // above this, splitting could overflow: plain arithmetic
  const bits = new Float64Array(1);
  const words = new Uint32Array(bits.buffer); // words[0]: low half (little-endian)

  /** The rounding error of p = RN(a * b): a * b = p + error, exactly (Dekker). */
  function productError(a, b, p) {
    let c = SPLITTER * a;
    const ah = c - (c - a);
    const al = a - ah;
    c = SPLITTER * b;
    const bh = c - (c - b);
    const bl = b - bh;
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
  }

  /** The rounding error of s = RN(a + b): a + b = s + error, exactly (Knuth). */
  function sumError(a, b, s) {
    const bb = s - a;
    return (a - (s - bb)) + (b - bb);
  }

  /** s moved to the neighbour of odd significand on the side of e (rounding to odd). */
  function roundToOdd(s, e) {
    bits[0] = s;
    if (words[0] & 1) {
      return s;
    }
    const away = (s > 0) === (e > 0); // away from zero: the magnitude grows
    if (away) {
      if (words[0] === 0xffffffff) {
        words[0] = 0;
        words[1] += 1;
      } else {
        words[0] += 1;
      }
    } else if (words[0] === 0) {
      words[0] = 0xffffffff;
      words[1] -= 1;
    } else {
      words[0] -= 1;
    }
    return bits[0];
  }

  /** RN(a * b + c) with a single rounding, as a fused multiply-add computes it. */
  function fma(a, b, c) {
    const p = a * b;
    if (
      !(Math.abs(a) < BIG && Math.abs(b) < BIG && Math.abs(c) < BIG) ||
      !Number.isFinite(p) || p === 0 || Math.abs(p) < 1e-280
    ) {
      return p + c; // overflow, non-finite or tiny operands: IEEE's own answer
    }
    const pl = productError(a, b, p); // a * b = p + pl
    const th = c + p;
    const tl = sumError(c, p, th); // c + p = th + tl
    const s = tl + pl;
    const e = sumError(tl, pl, s);
    return th + (e === 0 ? s : roundToOdd(s, e));
  }

  /** x ** n for an integer n >= 0, correctly rounded (double-double powering). */
  function powInt(x, n) {
    if (!Number.isFinite(x) || Math.abs(x) >= 2 ** 60 || Math.abs(x) < 2 ** -60) {
      return Math.pow(x, n);
    }
    let rh = 1;
    let rl = 0;
    let bh = x;
    let bl = 0;
    let k = n;
    while (k > 0) {
      if (k & 1) {
        const p = rh * bh;
        const q = productError(rh, bh, p) + (rh * bl + rl * bh);
        rh = p + q;
        rl = sumError(p, q, rh);
      }
      k = Math.floor(k / 2);
      if (k > 0) {
        const p = bh * bh;
        const q = productError(bh, bh, p) + 2 * bh * bl;
        bh = p + q;
        bl = sumError(p, q, bh);
      }
    }
    return rh + rl;
  }

  // Double-double numbers [hi, lo] (hi + lo, |lo| <= ulp(hi) / 2): about 106 bits.
  function ddAdd(a, b) {
    const s = a[0] + b[0];
    const e = sumError(a[0], b[0], s) + (a[1] + b[1]);
    const h = s + e;
    return [h, sumError(s, e, h)];
  }

  function ddMul(a, b) {
    const p = a[0] * b[0];
    const e = productError(a[0], b[0], p) + (a[0] * b[1] + a[1] * b[0]);
    const h = p + e;
    return [h, sumError(p, e, h)];
  }

  function ddDiv(a, n) {
    const q1 = a[0] / n;
    const p = q1 * n;
    const r = (a[0] - p - productError(q1, n, p)) + a[1];
    const q2 = r / n;
    const h = q1 + q2;
    return [h, sumError(q1, q2, h)];
  }

  /** exp(z) for a double-double z with |z| <= 1 (Taylor series after halving z). */
  function ddExp(z) {
    const halvings = 8;
    const r = [z[0] / 2 ** halvings, z[1] / 2 ** halvings];
    let sum = [1, 0];
    let term = [1, 0];
    for (let n = 1; n <= 14; n++) {
      term = ddDiv(ddMul(term, r), n);
      sum = ddAdd(sum, term);
    }
    for (let k = 0; k < halvings; k++) {
      sum = ddMul(sum, sum);
    }
    return sum;
  }

  const LN_096 = [-0.040821994520255166, -8.893492737632459e-19]; // ln(0.96), dd

  /** 0.96 ** e, correctly rounded (as the C library's pow gives it), for |e| <= 24. */
  function pow096(e) {
    if (!(Math.abs(e) <= 24)) {
      return Math.pow(0.96, e);
    }
    const z = ddAdd([e * LN_096[0], productError(e, LN_096[0], e * LN_096[0])],
      [e * LN_096[1], 0]);
    const r = ddExp(z);
    return r[0] + r[1];
  }

  // ---------------------------------------------------------------------- surfaces
  // Each surface: loss(x, y) and grad(x, y, out) in the order of operations of
  // optbook.landscapes' function and of torch's autograd through it (the comments give
  // the Python line). A rotation is a wrapper (see `rotated`).

  function quadratic(steep, flat) {
    // 0.5 * (flat * x**2 + steep * y**2)
    return {
      loss: (x, y) => 0.5 * (flat * (x * x) + steep * (y * y)),
      grad: (x, y, out) => {
        out[0] = (0.5 * flat) * (2 * x);
        out[1] = (0.5 * steep) * (2 * y);
      },
    };
  }

  function rosenbrock(a, b) {
    // (a - x)**2 + b * (y - x**2)**2
    return {
      loss: (x, y) => {
        const r = a - x;
        const d = y - x * x;
        return r * r + b * (d * d);
      },
      grad: (x, y, out) => {
        const gd = b * (2 * (y - x * x));
        out[0] = -gd * (2 * x) + -(2 * (a - x));
        out[1] = gd;
      },
    };
  }

  function saddle() {
    // x**2 - y**2 + y**4 / 4
    return {
      loss: (x, y) => x * x - y * y + powInt(y, 4) / 4,
      grad: (x, y, out) => {
        out[0] = 2 * x;
        out[1] = -(2 * y) + y * y * y;
      },
    };
  }

  function beale() {
    // (1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2 + (2.625 - x + x*y**3)**2
    return {
      loss: (x, y) => {
        const y2 = y * y;
        const s1 = 1.5 - x + x * y;
        const s2 = 2.25 - x + x * y2;
        const s3 = 2.625 - x + x * (y2 * y);
        return s1 * s1 + s2 * s2 + s3 * s3;
      },
      grad: (x, y, out) => {
        const y2 = y * y;
        const y3 = y2 * y;
        const d1 = 2 * (1.5 - x + x * y);
        const d2 = 2 * (2.25 - x + x * y2);
        const d3 = 2 * (2.625 - x + x * y3);
        // autograd runs the terms last to first and adds into x's gradient in that
        // order: the product's share, then the subtraction's
        out[0] = d3 * y3 + -d3 + d2 * y2 + -d2 + d1 * y + -d1;
        out[1] = (d3 * x) * (3 * (y * y)) + (d2 * x) * (2 * y) + d1 * x;
      },
    };
  }

  function doubleWell(tilt, steep) {
    // (x**2 - 1)**2 + tilt * x + 0.5 * steep * y**2
    const c = 0.5 * steep;
    return {
      loss: (x, y) => {
        const q = x * x - 1;
        return q * q + tilt * x + c * (y * y);
      },
      grad: (x, y, out) => {
        out[0] = (2 * (x * x - 1)) * (2 * x) + tilt;
        out[1] = c * (2 * y);
      },
    };
  }

  /** `inner` turned counter-clockwise by the angle with cosine `cos` and sine `sin`:
   * f(x, y) = inner(cos x + sin y, -sin x + cos y) (optbook.landscapes.rotated). */
  function rotated(inner, cos, sin) {
    const ns = -sin;
    const g = new Float64Array(2);
    return {
      loss: (x, y) => inner.loss(cos * x + sin * y, ns * x + cos * y),
      grad: (x, y, out) => {
        inner.grad(cos * x + sin * y, ns * x + cos * y, g);
        out[0] = g[0] * cos + g[1] * ns;
        out[1] = g[0] * sin + g[1] * cos;
      },
    };
  }

  function turn(point, cos, sin) {
    return [cos * point[0] - sin * point[1], sin * point[0] + cos * point[1]];
  }

  /** The critical points of the two wells: global and local minima, and the ridge. */
  function wellPoints(tilt) {
    // roots of 4x^3 - 4x + tilt, by Newton's method from three brackets
    const f = (x) => 4 * x * x * x - 4 * x + tilt;
    const df = (x) => 12 * x * x - 4;
    const root = (x0) => {
      let x = x0;
      for (let i = 0; i < 60; i++) {
        x -= f(x) / df(x);
      }
      return x;
    };
    const low = root(-1.2);
    const mid = root(0);
    const high = root(1.2);
    const [first, second] = tilt >= 0 ? [low, high] : [high, low];
    return { global: [first, 0], local: [second, 0], ridge: [mid, 0] };
  }

  // cos and sin of 30 degrees as Python's math module gives them (its libm), so that
  // the turned saddle is optbook's to the bit.
  const COS30 = 0.8660254037844387;
  const SIN30 = 0.49999999999999994;

  const wells = wellPoints(0.5);
  const SURFACES = {
    beale: {
      label: "Beale",
      make: beale,
      view: [[-1.5, 4.5], [-2, 2.5]],
      minimum: [3, 0.5],
      fmin: 0,
      start: [1, 1.5],
      logContours: true,
    },
    rosenbrock: {
      label: "Rosenbrock",
      make: () => rosenbrock(1, 100),
      view: [[-2, 2], [-1, 3]],
      minimum: [1, 1],
      fmin: 0,
      start: [-1.2, 1],
      logContours: true,
    },
    saddle: {
      label: "saddle",
      make: saddle,
      view: [[-2, 2], [-2.2, 2.2]],
      minimum: [0, Math.SQRT2],
      fmin: -1,
      start: [1, 0.01],
      logContours: false,
    },
    saddle30: {
      label: "saddle, turned 30°",
      make: () => rotated(saddle(), COS30, SIN30),
      view: [[-2, 2], [-2.2, 2.2]],
      minimum: turn([0, Math.SQRT2], COS30, SIN30),
      fmin: -1,
      start: turn([1, 0.01], COS30, SIN30),
      logContours: false,
    },
    wells: {
      label: "two wells",
      make: () => doubleWell(0.5, 2),
      view: [[-2, 2], [-1.5, 1.5]],
      minimum: wells.global,
      local: wells.local,
      ridge: wells.ridge,
      fmin: null, // computed below
      start: [1.5, 1],
      logContours: false,
    },
    symmetric: {
      label: "two wells, no tilt",
      make: () => doubleWell(0, 2),
      view: [[-2, 2], [-1.5, 1.5]],
      minimum: [-1, 0],
      fmin: 0,
      start: [1e-4, 1],
      logContours: false,
    },
    quadratic: {
      label: "quadratic, curvatures 1 and 20",
      make: () => quadratic(20, 1),
      view: [[-5.5, 5.5], [-2.5, 2.5]],
      minimum: [0, 0],
      fmin: 0,
      start: [-5, -2],
      logContours: true,
    },
    bowl: {
      label: "bowl, curvature 2",
      make: () => quadratic(2, 2),
      view: [[-2, 2], [-2.2, 2.2]],
      minimum: [0, 0],
      fmin: 0,
      start: [1, 0.01],
      logContours: false,
    },
  };
  for (const [key, spec] of Object.entries(SURFACES)) {
    spec.key = key;
    spec.fn = spec.make();
    if (spec.fmin === null) {
      spec.fmin = spec.fn.loss(spec.minimum[0], spec.minimum[1]);
    }
  }

  // -------------------------------------------------------------------- optimizers
  // Each step updates p (a Float64Array of 2) from the gradient g for one coordinate
  // at a time: every method here is element-wise. The Python line each operation
  // mirrors is in optbook/optimizers/<name>.py; `fma(b, a, c)` is torch's
  // `c.add(b, alpha=a)`, `c.addcmul(b, b2, value=a)` is `fma(a * b, b2, c)`, and
  // `m.lerp_(g, w)` is `lerp(m, g, w)`.

  function lerp(self, end, weight) {
    return Math.abs(weight) < 0.5
      ? fma(weight, end - self, self)
      : fma(-(end - self), 1 - weight, end);
  }

  function zeros() {
    return new Float64Array(2);
  }

  // Bias corrections beta ** t for t = 1, 2, ..., cached per beta.
  const powCache = new Map();
  function betaPow(beta, t) {
    let table = powCache.get(beta);
    if (!table) {
      table = [1];
      powCache.set(beta, table);
    }
    while (table.length <= t) {
      table.push(powInt(beta, table.length));
    }
    return table[t];
  }

  function sgdStep(p, g, s, h, nesterov) {
    const { lr, weight_decay: lam } = h;
    const mu = h.momentum || 0; // plain SGD has none
    for (let i = 0; i < 2; i++) {
      const gi = lam !== 0 ? fma(p[i], lam, g[i]) : g[i]; // (gd.1)
      let d = gi;
      if (mu !== 0) {
        if (s.t === 0) {
          s.b[i] = gi; // (gd.2) b_1 = g_1
        } else {
          s.b[i] = fma(gi, 1, s.b[i] * mu); // (gd.2), dampening 0
        }
        d = nesterov ? fma(s.b[i], mu, gi) : s.b[i]; // (gd.3)
      }
      p[i] = fma(d, -lr, p[i]); // (gd.4)
    }
    s.t += 1;
  }

  function adagradStep(p, g, s, h) {
    const { lr, eps, weight_decay: lam } = h;
    s.t += 1;
    const eta = lr / (1 + (s.t - 1) * 0); // (ada.2), lr_decay 0
    for (let i = 0; i < 2; i++) {
      const gi = lam !== 0 ? fma(p[i], lam, g[i]) : g[i]; // (ada.1)
      s.G[i] = fma(gi, gi, s.G[i]); // (ada.3)
      const denom = Math.sqrt(s.G[i]) + eps;
      p[i] = p[i] + (-eta * gi) / denom; // (ada.4)
    }
  }

  function rmspropStep(p, g, s, h) {
    const { lr, alpha, eps, momentum: mu, weight_decay: lam } = h;
    s.t += 1;
    for (let i = 0; i < 2; i++) {
      const gi = lam !== 0 ? fma(p[i], lam, g[i]) : g[i]; // (rms.1)
      s.v[i] = fma((1 - alpha) * gi, gi, s.v[i] * alpha); // (rms.2)
      const denom = Math.sqrt(s.v[i]) + eps; // (rms.3)
      if (mu > 0) {
        s.b[i] = s.b[i] * mu + gi / denom; // (rms.4)
        p[i] = fma(s.b[i], -lr, p[i]); // (rms.5)
      } else {
        p[i] = p[i] + (-lr * gi) / denom; // (rms.4), (rms.5)
      }
    }
  }

  function adamStep(p, g, s, h, decoupled) {
    const { lr, beta1, beta2, eps, weight_decay: lam } = h;
    s.t += 1;
    const t = s.t;
    const stepSize = lr / (1 - betaPow(beta1, t));
    const root2 = Math.sqrt(1 - betaPow(beta2, t)); // (1 - beta2**t) ** 0.5
    const shrink = 1 - lr * lam;
    for (let i = 0; i < 2; i++) {
      let gi = g[i];
      if (lam !== 0) {
        if (decoupled) {
          p[i] = p[i] * shrink; // (adam.0) decoupled, AdamW's (adamw.1)
        } else {
          gi = fma(p[i], lam, gi); // (adam.0) L2
        }
      }
      s.m[i] = lerp(s.m[i], gi, 1 - beta1); // (adam.1)
      s.v[i] = fma((1 - beta2) * gi, gi, s.v[i] * beta2); // (adam.2)
      const denom = Math.sqrt(s.v[i]) / root2 + eps;
      p[i] = p[i] + (-stepSize * s.m[i]) / denom; // (adam.7)
    }
  }

  function adamaxStep(p, g, s, h) {
    const { lr, beta1, beta2, eps, weight_decay: lam } = h;
    s.t += 1;
    const stepSize = lr / (1 - betaPow(beta1, s.t)); // (adamax.5)
    for (let i = 0; i < 2; i++) {
      const gi = lam !== 0 ? fma(p[i], lam, g[i]) : g[i]; // (adamax.0)
      s.m[i] = lerp(s.m[i], gi, 1 - beta1); // (adamax.1)
      s.u[i] = Math.max(s.u[i] * beta2, Math.abs(gi) + eps); // (adamax.4)
      p[i] = p[i] + (-stepSize * s.m[i]) / s.u[i]; // (adamax.5)
    }
  }

  /** Nadam's mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * psi)) (nadam.3). */
  function nadamMu(t, beta1, psi) {
    return beta1 * (1.0 - 0.5 * pow096(t * psi));
  }

  function nadamStep(p, g, s, h) {
    const { lr, beta1, beta2, eps, weight_decay: lam } = h;
    const psi = 0.004; // momentum_decay, torch's default
    s.t += 1;
    const t = s.t;
    const bc2 = 1 - betaPow(beta2, t);
    const mu = nadamMu(t, beta1, psi);
    const muNext = nadamMu(t + 1, beta1, psi);
    // torch keeps the product of the mu_t in float32 (the step counter's dtype)
    s.P = Math.fround(s.P * Math.fround(mu)); // (nadam.4)
    const P = s.P;
    const PNext = P * muNext;
    const a = (-lr * (1.0 - mu)) / (1.0 - P);
    const b = (-lr * muNext) / (1.0 - PNext);
    for (let i = 0; i < 2; i++) {
      const gi = lam !== 0 ? fma(p[i], lam, g[i]) : g[i]; // (nadam.0) L2
      s.m[i] = lerp(s.m[i], gi, 1 - beta1); // (nadam.1)
      s.v[i] = fma((1 - beta2) * gi, gi, s.v[i] * beta2); // (nadam.2)
      const denom = Math.sqrt(s.v[i] / bc2) + eps;
      p[i] = p[i] + (a * gi) / denom; // (nadam.5) the gradient term
      p[i] = p[i] + (b * s.m[i]) / denom; // (nadam.5) the momentum term
    }
  }

  /** RAdam's r_t (belief.6-7), or null while rho_t < 5. */
  function rectification(beta2, t) {
    const beta2t = betaPow(beta2, t);
    const rhoInf = 2 / (1 - beta2) - 1;
    const rhoT = rhoInf - (2 * t * beta2t) / (1 - beta2t);
    if (rhoT < 5) {
      return null;
    }
    return Math.sqrt(
      (((((1 - beta2t) * (rhoT - 4)) / (rhoInf - 4)) * (rhoT - 2)) / rhoT) *
        rhoInf / (rhoInf - 2),
    );
  }

  function adabeliefStep(p, g, s, h) {
    const { lr, beta1, beta2, eps, weight_decay: lam } = h;
    s.t += 1;
    const t = s.t;
    const bc1 = 1 - betaPow(beta1, t);
    const r = rectification(beta2, t);
    const shrink = 1.0 - lr * lam; // (belief.1), weight_decouple
    for (let i = 0; i < 2; i++) {
      p[i] = p[i] * shrink;
      const gi = g[i];
      s.m[i] = fma(gi, 1 - beta1, s.m[i] * beta1); // (belief.2)
      const res = gi - s.m[i];
      s.s[i] = fma((1 - beta2) * res, res, s.s[i] * beta2) + eps; // (belief.3)
      if (r !== null) {
        const denom = Math.sqrt(s.s[i]) + eps;
        p[i] = p[i] + ((-(r / bc1) * lr) * s.m[i]) / denom; // (belief.7)
      } else {
        p[i] = fma(s.m[i], -(1.0 / bc1) * lr, p[i]); // (belief.7) the SGD step
      }
    }
  }

  // The hyperparameters a reader can change, with their ladders of values.
  function ladder(lo, hi, perDecade) {
    const values = [];
    const k0 = Math.round(Math.log10(lo) * perDecade);
    const k1 = Math.round(Math.log10(hi) * perDecade);
    for (let k = k0; k <= k1; k++) {
      values.push(Number(Math.pow(10, k / perDecade).toPrecision(3)));
    }
    return values;
  }
  const LR = ladder(1e-4, 10, 8);
  const MOMENTUM = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97,
    0.98, 0.99, 0.995, 0.999];
  const BETA2 = [0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9995, 0.9999,
    0.99999];
  const EPS = [1e-16, 1e-14, 1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1];
  const DECAY = [0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1];
  const HYPER = {
    lr: { label: "learning rate", short: "lr", values: LR, log: true },
    momentum: { label: "momentum μ", short: "μ", values: MOMENTUM },
    beta1: { label: "β1", short: "β1", values: MOMENTUM },
    beta2: { label: "β2", short: "β2", values: BETA2 },
    alpha: { label: "α (average of g²)", short: "α", values: BETA2 },
    eps: { label: "ε", short: "ε", values: EPS, log: true },
    weight_decay: { label: "weight decay λ", short: "λ", values: DECAY },
  };

  const tab10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  // Their torch.optim (or adabelief_pytorch) defaults; lr is the reader's.
  const ADAM_LIKE = ["lr", "beta1", "beta2", "eps", "weight_decay"];
  const METHODS = {
    SGD: {
      hyper: ["lr", "weight_decay"],
      defaults: { lr: 0.01, weight_decay: 0 },
      init: () => ({ t: 0 }),
      step: (p, g, s, h) => sgdStep(p, g, s, h, false),
    },
    momentum: {
      hyper: ["lr", "momentum", "weight_decay"],
      defaults: { lr: 0.01, momentum: 0.9, weight_decay: 0 },
      init: () => ({ t: 0, b: zeros() }),
      step: (p, g, s, h) => sgdStep(p, g, s, h, false),
    },
    Nesterov: {
      hyper: ["lr", "momentum", "weight_decay"],
      defaults: { lr: 0.01, momentum: 0.9, weight_decay: 0 },
      minimum: { momentum: 0.1 }, // torch: nesterov needs momentum > 0
      init: () => ({ t: 0, b: zeros() }),
      step: (p, g, s, h) => sgdStep(p, g, s, h, true),
    },
    Adagrad: {
      hyper: ["lr", "eps", "weight_decay"],
      defaults: { lr: 0.01, eps: 1e-10, weight_decay: 0 },
      init: () => ({ t: 0, G: zeros() }),
      step: adagradStep,
    },
    RMSProp: {
      hyper: ["lr", "alpha", "eps", "momentum", "weight_decay"],
      defaults: { lr: 0.01, alpha: 0.99, eps: 1e-8, momentum: 0, weight_decay: 0 },
      init: () => ({ t: 0, v: zeros(), b: zeros() }),
      step: rmspropStep,
    },
    Adam: {
      hyper: ADAM_LIKE,
      defaults: { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0 },
      init: () => ({ t: 0, m: zeros(), v: zeros() }),
      step: (p, g, s, h) => adamStep(p, g, s, h, false),
    },
    AdaMax: {
      hyper: ADAM_LIKE,
      defaults: { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0 },
      init: () => ({ t: 0, m: zeros(), u: zeros() }),
      step: adamaxStep,
    },
    NAdam: {
      hyper: ADAM_LIKE,
      defaults: { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0 },
      init: () => ({ t: 0, P: 1, m: zeros(), v: zeros() }),
      step: nadamStep,
    },
    AdamW: {
      hyper: ADAM_LIKE,
      defaults: { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 },
      init: () => ({ t: 0, m: zeros(), v: zeros() }),
      step: (p, g, s, h) => adamStep(p, g, s, h, true),
    },
    AdaBelief: {
      hyper: ADAM_LIKE,
      defaults: { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-16, weight_decay: 0 },
      init: () => ({ t: 0, m: zeros(), s: zeros() }),
      step: adabeliefStep,
    },
  };
  Object.keys(METHODS).forEach((name, i) => {
    METHODS[name].name = name;
    METHODS[name].color = tab10[i];
  });

  /** Check a method's hyperparameters, in words a reader understands. */
  function checkHyper(name, h) {
    const method = METHODS[name];
    if (!method) {
      throw new Error(`unknown optimizer ${name}: one of ${Object.keys(METHODS)}`);
    }
    const full = { ...method.defaults, ...h };
    for (const [key, value] of Object.entries(full)) {
      if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
        throw new Error(`${name}: ${key} must be a number >= 0, got ${value}`);
      }
    }
    for (const key of ["beta1", "beta2", "alpha"]) {
      if (key in full && full[key] >= 1) {
        throw new Error(`${name}: ${key} must be below 1, got ${full[key]}`);
      }
    }
    if (name === "Nesterov" && !(full.momentum > 0)) {
      throw new Error("Nesterov needs momentum > 0");
    }
    return full;
  }

  /** The path of `method` on `surface` from `start`: `steps + 1` points and losses,
   * as optbook.paths.run_path returns them (points[2k], points[2k + 1]: x and y). */
  function runPath(surfaceKey, name, hyper, start, steps) {
    const surface = SURFACES[surfaceKey];
    if (!surface) {
      throw new Error(`unknown surface ${surfaceKey}`);
    }
    const h = checkHyper(name, hyper);
    const method = METHODS[name];
    const fn = surface.fn;
    const p = new Float64Array([start[0], start[1]]);
    const g = zeros();
    const state = method.init();
    const points = new Float64Array(2 * (steps + 1));
    const losses = new Float64Array(steps + 1);
    points[0] = p[0];
    points[1] = p[1];
    for (let k = 0; k < steps; k++) {
      losses[k] = fn.loss(p[0], p[1]);
      fn.grad(p[0], p[1], g);
      method.step(p, g, state, h);
      points[2 * k + 2] = p[0];
      points[2 * k + 3] = p[1];
    }
    losses[steps] = fn.loss(p[0], p[1]);
    return { points, losses };
  }

  return {
    fma,
    powInt,
    pow096,
    SURFACES,
    METHODS,
    HYPER,
    runPath,
    checkHyper,
    wellPoints,
  };
});
