// Runs the lab's paths for the cases on stdin (a JSON list of {surface, method, hyper,
// start, steps}) and prints, for each, its points and losses as base64 float64 bytes.
// Used by test_equality.py, which compares them with optbook.paths.run_path.
"use strict";
const core = require("../src/core.js");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  input += chunk;
});
process.stdin.on("end", () => {
  const cases = JSON.parse(input);
  const out = cases.map((c) => {
    const { points, losses } = core.runPath(c.surface, c.method, c.hyper, c.start,
      c.steps);
    return {
      points: Buffer.from(points.buffer).toString("base64"),
      losses: Buffer.from(losses.buffer).toString("base64"),
    };
  });
  process.stdout.write(JSON.stringify(out));
});
