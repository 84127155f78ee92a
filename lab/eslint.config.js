// ESLint for the lab (npm run lint, run by scripts/test): the recommended rules, and
// a few that keep the arithmetic honest (no implicit coercion, no shadowed names).
"use strict";
const js = require("@eslint/js");

const browser = {
  window: "readonly", document: "readonly", self: "readonly",
  getComputedStyle: "readonly", requestAnimationFrame: "readonly",
  cancelAnimationFrame: "readonly", performance: "readonly",
  ResizeObserver: "readonly", MutationObserver: "readonly",
  URLSearchParams: "readonly",
};
const node = {
  module: "writable", require: "readonly", process: "readonly", Buffer: "readonly",
  __dirname: "readonly", console: "readonly",
};

module.exports = [
  js.configs.recommended,
  {
    files: ["**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "script",
      globals: { ...browser, ...node },
    },
    rules: {
      eqeqeq: "error",
      "no-implicit-coercion": "error",
      "no-shadow": "error",
      "no-var": "error",
      "prefer-const": "error",
      strict: ["error", "safe"],
      "max-len": ["error", { code: 88, ignoreUrls: true }],
    },
  },
  {
    files: ["tests/**/*.js", "eslint.config.js"],
    languageOptions: { sourceType: "commonjs" },
  },
  { ignores: ["node_modules/"] },
];
