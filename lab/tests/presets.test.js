// The presets stage the visualizing chapter's verdicts: each claim a caption makes
// about the picture is checked here on the lab's own paths (node --test).
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const core = require("../src/core.js");
const PRESETS = require("../src/presets.js");

function run(key, overrides = {}) {
  const p = PRESETS[key];
  const surface = core.SURFACES[overrides.surface || p.surface];
  const out = {};
  for (const [name, h] of Object.entries(p.methods)) {
    out[name] = core.runPath(surface.key, name, h, p.start || surface.start, p.steps);
  }
  return { surface, paths: out };
}

const last = (path) => [path.points.at(-2), path.points.at(-1)];
const gap = (path, surface) => path.losses.at(-1) - surface.fmin;
const dist = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1]);

test("every preset names known methods and surfaces, with valid settings", () => {
  for (const [key, p] of Object.entries(PRESETS)) {
    assert.ok(core.SURFACES[p.surface], `${key}: surface ${p.surface}`);
    for (const [name, h] of Object.entries(p.methods)) {
      assert.doesNotThrow(() => core.checkHyper(name, h), `${key}: ${name}`);
    }
    assert.ok(p.title && p.caption, `${key}: title and caption`);
  }
});

test("escape: Adam and RMSProp end in the global well, SGD and momentum do not", () => {
  const { surface, paths } = run("escape");
  assert.ok(dist(last(paths.Adam), surface.minimum) < 0.1, "Adam");
  assert.ok(last(paths.RMSProp)[0] < surface.ridge[0], "RMSProp");
  for (const name of ["SGD", "momentum"]) {
    assert.ok(dist(last(paths[name]), surface.local) < 0.1, name);
  }
  // ... and the way to break it: Adam at the shared lr stays
  const shared = core.runPath("wells", "Adam", { lr: 0.01 }, PRESETS.escape.start,
    200);
  assert.ok(dist(last(shared), surface.local) < 0.5);
});

test("a shared learning rate: fewer methods near the minimum than tuned", () => {
  const near = (key) => {
    const { surface, paths } = run(key);
    return Object.values(paths).filter((p) => gap(p, surface) < 1e-3).length;
  };
  assert.ok(near("tuned") >= 7, `tuned: ${near("tuned")}`);
  assert.ok(near("shared") <= 2, `shared: ${near("shared")}`);
  const adam = core.runPath("beale", "Adam", { lr: 0.562 }, [1, 1.5], 200);
  assert.ok(gap(adam, core.SURFACES.beale) < 1e-6, "Adam wins again at 0.562");
});

test("overshoot: heavy ball and Nesterov pass the minimum, SGD does not", () => {
  const { surface, paths } = run("overshoot");
  // beyond the minimum along x, the flat direction of the quadratic
  const past = (p) => Math.max(...p.points.filter((v, i) => i % 2 === 0)) -
    surface.minimum[0];
  assert.ok(past(paths.momentum) > 1e-3 && past(paths.Nesterov) > 1e-3);
  assert.ok(past(paths.SGD) <= 0);
});

test("saddle against bowl: momentum's x-path is the same, to the bit", () => {
  const p = PRESETS.saddle;
  for (const name of Object.keys(p.methods)) {
    const a = core.runPath("saddle", name, p.methods[name], p.start, p.steps);
    const b = core.runPath("bowl", name, p.methods[name], p.start, p.steps);
    const xs = (path) => path.points.filter((v, i) => i % 2 === 0);
    assert.deepStrictEqual(xs(a), xs(b), name);
  }
  const m = core.runPath("saddle", "momentum", p.methods.momentum, p.start, p.steps);
  const xs = m.points.filter((v, i) => i % 2 === 0);
  const crossings = xs.slice(1).filter((x, i) => Math.sign(x) !== Math.sign(xs[i]));
  assert.ok(crossings.length >= 3, `momentum crosses x = 0 ${crossings.length} times`);
});

test("gradient descent: SGD diverges above lr 2 / 20 on the quadratic", () => {
  const start = core.SURFACES.quadratic.start;
  const above = core.runPath("quadratic", "SGD", { lr: 0.133 }, start, 200);
  const below = core.runPath("quadratic", "SGD", { lr: 0.075 }, start, 200);
  assert.ok(!(Math.abs(above.points.at(-1)) < 1e3));
  assert.ok(Math.abs(below.points.at(-1)) < 1e-3);
});

test("weight decay: AdamW ends nearer the origin than Adam with L2", () => {
  const { paths } = run("adabelief_adamw");
  assert.ok(dist(last(paths.AdamW), [0, 0]) < dist(last(paths.Adam), [0, 0]));
});

test("AdaBelief: stalls at its tuned lr from this start, thrown out at 0.0316", () => {
  const { surface, paths } = run("adabelief");
  assert.ok(gap(paths.AdaBelief, surface) > 1);
  assert.ok(gap(paths.Adam, surface) < 1e-6);
  const fast = core.runPath("beale", "AdaBelief", { lr: 0.0316 }, [1, 1.5], 200);
  assert.ok(!(dist(last(fast), surface.minimum) < 10));
});

test("fma and powInt: exact on known cases", () => {
  // 0.1 * 10 - 1 is exactly 2^-54 * (some) in one rounding, 0 in two
  assert.notStrictEqual(core.fma(0.1, 10, -1), 0);
  assert.strictEqual(core.fma(0.1, 10, -1), 5.551115123125783e-17);
  assert.strictEqual(core.powInt(0.9999, 493), 0.9518931716274669);
  assert.strictEqual(core.fma(2, 3, 4), 10);
});
