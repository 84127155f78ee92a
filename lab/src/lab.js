/* optbook's optimizer lab, the page: contours, paths, the loss, the controls.
 * Every element with the class "optlab" becomes a lab; its data attributes choose the
 * start: data-preset (a key of presets.js), data-methods (names, comma-separated),
 * data-surface (a key of SURFACES). A query ?lab=<preset> in the page's address wins.
 * The arithmetic is core.js's; nothing here is fetched from the network. */
(function () {
  "use strict";
  const core = window.OptLabCore;
  const PRESETS = window.OptLabPresets;
  const { SURFACES, METHODS, HYPER } = core;
  const NAMES = Object.keys(METHODS);
  const DARK = ["#5aa9e6", "#ffa54f", "#5cc85c", "#ff6b6b", "#b79ce8", "#c9968a",
    "#f4a3da", "#b4b4b4", "#dada5a", "#4fd8e8"];
  const STEP_CHOICES = [100, 200, 500, 1000];
  let uid = 0;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") {
        node.className = value;
      } else if (key === "text") {
        node.textContent = value;
      } else {
        node.setAttribute(key, value);
      }
    }
    for (const child of children) {
      node.append(child);
    }
    return node;
  }

  function show(value) {
    if (value === 0) {
      return "0";
    }
    const a = Math.abs(value);
    return a >= 1e-3 && a < 1e4 ? String(Number(value.toPrecision(3))) :
      value.toExponential(0);
  }

  function nearestIndex(values, value) {
    let best = 0;
    for (let i = 1; i < values.length; i++) {
      if (Math.abs(values[i] - value) < Math.abs(values[best] - value)) {
        best = i;
      }
    }
    return best;
  }

  // ----------------------------------------------------------------- contour lines
  /** Marching squares: the segments of the level lines of z (n x n over the view). */
  function contourSegments(z, n, levels) {
    const segments = [];
    for (const level of levels) {
      const path = [];
      for (let j = 0; j < n - 1; j++) {
        for (let i = 0; i < n - 1; i++) {
          const v = [z[j * n + i], z[j * n + i + 1], z[(j + 1) * n + i + 1],
            z[(j + 1) * n + i]];
          const corners = [[i, j], [i + 1, j], [i + 1, j + 1], [i, j + 1]];
          const cross = [];
          for (let e = 0; e < 4; e++) {
            const a = v[e];
            const b = v[(e + 1) % 4];
            if ((a < level) !== (b < level)) {
              const s = (level - a) / (b - a);
              const [x0, y0] = corners[e];
              const [x1, y1] = corners[(e + 1) % 4];
              cross.push(x0 + s * (x1 - x0), y0 + s * (y1 - y0));
            }
          }
          for (let k = 0; k + 3 < cross.length; k += 4) {
            path.push(cross[k], cross[k + 1], cross[k + 2], cross[k + 3]);
          }
        }
      }
      segments.push(path);
    }
    return segments;
  }

  function contourLevels(surface, z) {
    const finite = Array.from(z).filter(Number.isFinite).sort((a, b) => a - b);
    const lo = finite[0];
    const hi = finite[Math.floor(0.98 * (finite.length - 1))];
    const levels = [];
    if (surface.logContours) {
      const base = surface.fmin;
      for (let k = -4; k <= 12; k++) {
        const level = base + Math.pow(10, k / 2);
        if (level > lo && level < hi) {
          levels.push(level);
        }
      }
    } else {
      for (let k = 1; k < 16; k++) {
        levels.push(lo + ((hi - lo) * k) / 16);
      }
    }
    return levels;
  }

  // -------------------------------------------------------------------------- lab
  class Lab {
    constructor(root) {
      this.root = root;
      this.id = `optlab-${uid++}`;
      this.frameTimes = [];
      this.playing = false;
      this.k = 0;
      this.hyper = {};
      this.enabled = {};
      this.paths = {};
      this.build();
      const query = new URLSearchParams(window.location.search).get("lab");
      const preset = query && PRESETS[query] ? query : root.dataset.preset;
      this.applyPreset(PRESETS[preset] ? preset : "tuned", false);
      if (root.dataset.surface && SURFACES[root.dataset.surface]) {
        this.setSurface(root.dataset.surface);
      }
      if (root.dataset.methods) {
        const chosen = root.dataset.methods.split(",").map((s) => s.trim());
        for (const name of NAMES) {
          this.setEnabled(name, chosen.includes(name));
        }
      }
      this.recompute();
      this.k = this.steps;
      new ResizeObserver(() => this.layout()).observe(this.root);
      new MutationObserver(() => this.layout()).observe(document.documentElement, {
        attributes: true, attributeFilter: ["data-theme", "data-mode"],
      });
      this.layout();
    }

    // -- building the controls ----------------------------------------------------
    build() {
      const id = this.id;
      const root = this.root;
      root.textContent = "";
      root.setAttribute("role", "group");
      root.setAttribute("aria-label", "Optimizer lab");

      this.presetSelect = el("select", { id: `${id}-preset` });
      for (const [key, preset] of Object.entries(PRESETS)) {
        this.presetSelect.append(el("option", { value: key, text: preset.title }));
      }
      this.presetSelect.addEventListener("change", () =>
        this.applyPreset(this.presetSelect.value, true));
      this.surfaceSelect = el("select", { id: `${id}-surface` });
      for (const [key, surface] of Object.entries(SURFACES)) {
        this.surfaceSelect.append(el("option", { value: key, text: surface.label }));
      }
      this.surfaceSelect.addEventListener("change", () => {
        this.setSurface(this.surfaceSelect.value);
        this.recompute();
      });
      this.stepsSelect = el("select", { id: `${id}-steps` });
      for (const n of STEP_CHOICES) {
        this.stepsSelect.append(el("option", { value: String(n), text: String(n) }));
      }
      this.stepsSelect.addEventListener("change", () => {
        this.steps = Number(this.stepsSelect.value);
        this.recompute();
      });
      this.playButton = el("button", { type: "button", class: "optlab-play",
        "aria-pressed": "false", text: "Play" });
      this.playButton.addEventListener("click", () => this.toggle());
      const stepButton = el("button", { type: "button", class: "optlab-step",
        text: "Step" });
      stepButton.addEventListener("click", () => this.stepOnce());
      const resetButton = el("button", { type: "button", class: "optlab-reset",
        text: "Reset" });
      resetButton.addEventListener("click", () => this.reset());
      this.counter = el("output", { class: "optlab-counter", "aria-live": "off",
        for: `${id}-map` });

      root.append(
        el("div", { class: "optlab-bar" },
          el("label", { for: `${id}-preset`, text: "Preset" }), this.presetSelect),
        el("div", { class: "optlab-bar" },
          el("span", { class: "optlab-group" },
            el("label", { for: `${id}-surface`, text: "Surface" }),
            this.surfaceSelect),
          el("span", { class: "optlab-group" },
            el("label", { for: `${id}-steps`, text: "Steps" }), this.stepsSelect),
          el("span", { class: "optlab-group" },
            this.playButton, stepButton, resetButton),
          this.counter),
      );
      this.caption = el("p", { class: "optlab-caption", "aria-live": "polite" });
      root.append(this.caption);

      this.map = el("canvas", { id: `${id}-map`, class: "optlab-map", tabindex: "0",
        role: "img" });
      this.map.addEventListener("click", (event) => this.clickStart(event));
      this.map.addEventListener("keydown", (event) => this.keyStart(event));
      this.loss = el("canvas", { class: "optlab-loss", role: "img",
        "aria-label": "The loss minus its minimum against the step, log scale" });
      root.append(
        el("p", { class: "optlab-hint", text: "Click or tap the map to start there " +
          "(or focus it: arrow keys move the start, Enter plays)." }),
        el("div", { class: "optlab-figures" }, this.map, this.loss));

      const legend = el("fieldset", { class: "optlab-legend" },
        el("legend", { text: "Optimizers (tick to show)" }));
      const list = el("div", { class: "optlab-methods" });
      this.cards = {};
      NAMES.forEach((name, index) => {
        const method = METHODS[name];
        const box = el("input", { type: "checkbox", id: `${id}-on-${name}` });
        box.addEventListener("change", () => {
          this.setEnabled(name, box.checked);
          this.recompute();
        });
        const key = el("label", { class: "optlab-key", for: `${id}-on-${name}` },
          box, el("span", { class: "optlab-swatch", "aria-hidden": "true" }),
          el("span", { text: name }));
        const values = el("p", { class: "optlab-values" });
        const status = el("span", { class: "optlab-status" });
        const card = el("div", { class: "optlab-card", role: "group",
          "aria-label": `${name}'s settings` },
        el("div", { class: "optlab-card-head" },
          el("span", { class: "optlab-swatch", "aria-hidden": "true" }),
          el("strong", { text: name }), status),
        values);
        const sliders = {};
        for (const hkey of method.hyper) {
          const spec = HYPER[hkey];
          let ladder = spec.values;
          const floor = method.minimum && method.minimum[hkey];
          if (floor !== undefined) {
            ladder = ladder.filter((v) => v >= floor);
          }
          const sid = `${id}-${name}-${hkey}`;
          const input = el("input", { type: "range", id: sid, min: "0",
            max: String(ladder.length - 1), step: "1" });
          const out = el("output", { for: sid });
          input.addEventListener("input", () => {
            this.setHyper(name, hkey, ladder[Number(input.value)]);
            this.recompute(name);
          });
          sliders[hkey] = { input, out, values: ladder };
          card.append(el("div", { class: "optlab-slider" },
            el("label", { for: sid,
              text: `${name}: ${spec.label}${spec.log ? " (log)" : ""}` }),
            input, out));
        }
        for (const node of [key, card]) {
          node.style.setProperty("--optlab-c", method.color);
          node.style.setProperty("--optlab-c-dark", DARK[index]);
          node.dataset.method = name;
        }
        this.cards[name] = { card, key, box, summary: values, sliders, status };
        legend.append(key);
        list.append(card);
      });
      this.settings = el("details", { class: "optlab-settings" },
        el("summary", { text: "Settings of each optimizer: learning rate, " +
          "momentum or β1, β2 or α, ε, weight decay" }), list);
      root.append(legend, this.settings);
    }

    // -- state -------------------------------------------------------------------
    applyPreset(key, redraw) {
      const preset = PRESETS[key];
      this.preset = key;
      this.presetSelect.value = key;
      this.caption.textContent = preset.caption;
      this.steps = preset.steps || 200;
      this.stepsSelect.value = String(this.steps);
      this.setSurface(preset.surface, preset.start);
      for (const name of NAMES) {
        this.hyper[name] = { ...METHODS[name].defaults,
          ...(preset.methods[name] || {}) };
        this.setEnabled(name, name in preset.methods);
        this.syncCard(name);
      }
      if (redraw) {
        this.pause();
        this.recompute();
        this.k = this.steps;
        this.draw();
      }
    }

    setSurface(key, point) {
      this.surface = SURFACES[key];
      this.surfaceSelect.value = key;
      this.start = (point || this.surface.start).slice();
      this.background = null;
    }

    setEnabled(name, on) {
      this.enabled[name] = on;
      this.cards[name].box.checked = on;
      this.cards[name].card.classList.toggle("optlab-off", !on);
      this.cards[name].key.classList.toggle("optlab-off", !on);
    }

    setHyper(name, key, value) {
      this.hyper[name][key] = value;
      this.syncCard(name);
    }

    syncCard(name) {
      const { sliders, summary } = this.cards[name];
      const h = this.hyper[name];
      const parts = [];
      for (const [key, s] of Object.entries(sliders)) {
        const i = nearestIndex(s.values, h[key]);
        s.input.value = String(i);
        s.out.textContent = show(h[key]);
        s.input.setAttribute("aria-valuetext", show(h[key]));
        parts.push(`${HYPER[key].short} ${show(h[key])}`);
      }
      summary.textContent = parts.join(" · ");
    }

    recompute(only) {
      for (const name of NAMES) {
        if (!this.enabled[name]) {
          delete this.paths[name];
        } else if (!only || only === name || !this.paths[name]) {
          this.paths[name] = core.runPath(this.surface.key, name, this.hyper[name],
            this.start, this.steps);
        }
      }
      this.k = Math.min(this.k, this.steps);
      if (!this.playing) {
        this.k = this.steps;
      }
      this.lossRange = null;
      this.draw();
    }

    // -- interaction --------------------------------------------------------------
    toData(px, py) {
      const [[x0, x1], [y0, y1]] = this.surface.view;
      return [x0 + (px / this.width) * (x1 - x0), y1 - (py / this.height) * (y1 - y0)];
    }

    toPixel(x, y) {
      const [[x0, x1], [y0, y1]] = this.surface.view;
      return [((x - x0) / (x1 - x0)) * this.width,
        ((y1 - y) / (y1 - y0)) * this.height];
    }

    clickStart(event) {
      const rect = this.map.getBoundingClientRect();
      const [x, y] = this.toData(event.clientX - rect.left, event.clientY - rect.top);
      this.start = [Number(x.toFixed(3)), Number(y.toFixed(3))];
      this.recompute();
    }

    keyStart(event) {
      const [[x0, x1], [y0, y1]] = this.surface.view;
      const dx = (x1 - x0) / 50;
      const dy = (y1 - y0) / 50;
      const moves = { ArrowLeft: [-dx, 0], ArrowRight: [dx, 0], ArrowUp: [0, dy],
        ArrowDown: [0, -dy] };
      if (event.key in moves) {
        event.preventDefault();
        const [mx, my] = moves[event.key];
        this.start = [Number((this.start[0] + mx).toFixed(3)),
          Number((this.start[1] + my).toFixed(3))];
        this.recompute();
      } else if (event.key === " " || event.key === "Enter") {
        event.preventDefault();
        this.toggle();
      }
    }

    toggle() {
      if (this.playing) {
        this.pause();
      } else {
        if (this.k >= this.steps) {
          this.k = 0;
        }
        this.playing = true;
        this.playButton.textContent = "Pause";
        this.playButton.setAttribute("aria-pressed", "true");
        const tick = () => {
          if (!this.playing) {
            return;
          }
          const t0 = performance.now();
          const stride = Math.max(1, Math.round(this.steps / 240));
          this.k = Math.min(this.steps, this.k + stride);
          this.draw();
          this.frameTimes.push(performance.now() - t0);
          if (this.k >= this.steps) {
            this.pause();
          } else {
            this.raf = requestAnimationFrame(tick);
          }
        };
        this.raf = requestAnimationFrame(tick);
      }
    }

    pause() {
      this.playing = false;
      cancelAnimationFrame(this.raf);
      this.playButton.textContent = "Play";
      this.playButton.setAttribute("aria-pressed", "false");
    }

    stepOnce() {
      this.pause();
      this.k = this.k >= this.steps ? 1 : this.k + 1;
      this.draw();
    }

    reset() {
      this.pause();
      this.k = 0;
      this.draw();
    }

    // -- drawing -------------------------------------------------------------------
    colors() {
      const style = getComputedStyle(this.root);
      const read = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
      const dark = read("--optlab-dark", "0") === "1";
      return {
        dark,
        fg: read("--optlab-fg", "#222"),
        bg: read("--optlab-bg", "#fff"),
        contour: read("--optlab-contour", "#bbb"),
        axis: read("--optlab-axis", "#888"),
        method: (name) => (dark ? DARK : null)?.[NAMES.indexOf(name)] ||
          METHODS[name].color,
      };
    }

    layout() {
      const width = Math.max(200, Math.floor(this.root.clientWidth));
      const [[x0, x1], [y0, y1]] = this.surface.view;
      // the view's own shape on a phone (height to spare), flatter on a desktop
      const own = (y1 - y0) / (x1 - x0);
      const aspect = width < 600 ? Math.min(0.9, Math.max(0.5, own))
        : Math.min(0.62, Math.max(0.45, own));
      this.width = width;
      this.height = Math.round(width * aspect);
      this.lossWidth = width;
      this.lossHeight = Math.round(Math.min(180, Math.max(150, width * 0.25)));
      const dpr = window.devicePixelRatio || 1;
      for (const [canvas, w, h] of [[this.map, this.width, this.height],
        [this.loss, this.lossWidth, this.lossHeight]]) {
        canvas.width = Math.round(w * dpr);
        canvas.height = Math.round(h * dpr);
        canvas.style.width = `${w}px`;
        canvas.style.height = `${h}px`;
      }
      this.dpr = dpr;
      this.background = null;
      this.draw();
    }

    drawBackground(colors) {
      const canvas = document.createElement("canvas");
      canvas.width = this.map.width;
      canvas.height = this.map.height;
      const ctx = canvas.getContext("2d");
      ctx.scale(this.dpr, this.dpr);
      ctx.fillStyle = colors.bg;
      ctx.fillRect(0, 0, this.width, this.height);
      const n = 120;
      const [[x0, x1], [y0, y1]] = this.surface.view;
      const z = new Float64Array(n * n);
      for (let j = 0; j < n; j++) {
        for (let i = 0; i < n; i++) {
          z[j * n + i] = this.surface.fn.loss(x0 + ((x1 - x0) * i) / (n - 1),
            y1 - ((y1 - y0) * j) / (n - 1));
        }
      }
      const levels = contourLevels(this.surface, z);
      const sx = this.width / (n - 1);
      const sy = this.height / (n - 1);
      ctx.strokeStyle = colors.contour;
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (const segs of contourSegments(z, n, levels)) {
        for (let k = 0; k < segs.length; k += 4) {
          ctx.moveTo(segs[k] * sx, segs[k + 1] * sy);
          ctx.lineTo(segs[k + 2] * sx, segs[k + 3] * sy);
        }
      }
      ctx.stroke();
      ctx.fillStyle = colors.axis;
      ctx.font = "12px sans-serif";
      ctx.fillText(`x ${x0} … ${x1}, y ${y0} … ${y1}`, 6, this.height - 6);
      this.background = canvas;
    }

    drawMarks(ctx, colors) {
      const star = (point, fill) => {
        const [px, py] = this.toPixel(point[0], point[1]);
        ctx.beginPath();
        for (let k = 0; k < 10; k++) {
          const r = k % 2 ? 4 : 9;
          const a = -Math.PI / 2 + (k * Math.PI) / 5;
          ctx.lineTo(px + r * Math.cos(a), py + r * Math.sin(a));
        }
        ctx.closePath();
        ctx.fillStyle = fill;
        ctx.fill();
        ctx.strokeStyle = colors.fg;
        ctx.stroke();
      };
      star(this.surface.minimum, "gold");
      if (this.surface.local) {
        star(this.surface.local, colors.bg);
      }
    }

    draw() {
      if (!this.width) {
        return;
      }
      const colors = this.colors();
      if (!this.background || this.backgroundDark !== colors.dark) {
        this.drawBackground(colors);
        this.backgroundDark = colors.dark;
      }
      const ctx = this.map.getContext("2d");
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.drawImage(this.background, 0, 0);
      ctx.scale(this.dpr, this.dpr);
      const k = this.k;
      const shown = [];
      for (const name of NAMES) {
        const path = this.paths[name];
        if (!path) {
          this.cards[name].status.textContent = "hidden";
          continue;
        }
        ctx.strokeStyle = colors.method(name);
        ctx.lineWidth = 2;
        ctx.beginPath();
        let last = 0;
        for (let t = 0; t <= k; t++) {
          const x = path.points[2 * t];
          const y = path.points[2 * t + 1];
          if (!Number.isFinite(x) || !Number.isFinite(y) || Math.abs(x) > 1e6 ||
            Math.abs(y) > 1e6) {
            break;
          }
          const [px, py] = this.toPixel(x, y);
          if (t === 0) {
            ctx.moveTo(px, py);
          } else {
            ctx.lineTo(px, py);
          }
          last = t;
        }
        ctx.stroke();
        const [px, py] = this.toPixel(path.points[2 * last],
          path.points[2 * last + 1]);
        ctx.fillStyle = colors.method(name);
        ctx.beginPath();
        ctx.arc(px, py, 4.5, 0, 2 * Math.PI);
        ctx.fill();
        ctx.strokeStyle = colors.bg;
        ctx.lineWidth = 1;
        ctx.stroke();
        shown.push(name);
        this.status(name, path, k);
      }
      ctx.lineWidth = 1;
      this.drawMarks(ctx, colors);
      const [sx, sy] = this.toPixel(this.start[0], this.start[1]);
      ctx.fillStyle = colors.fg;
      ctx.beginPath();
      ctx.arc(sx, sy, 4, 0, 2 * Math.PI);
      ctx.fill();
      this.map.setAttribute("aria-label", `Contours of ${this.surface.label}, the ` +
        `paths of ${shown.join(", ") || "no optimizer"} from the start ` +
        `(${this.start[0]}, ${this.start[1]}), step ${k} of ${this.steps}. Click, ` +
        "tap or use the arrow keys to move the start.");
      this.counter.textContent = `step ${k} of ${this.steps}`;
      this.drawLoss(colors);
    }

    status(name, path, k) {
      const loss = path.losses[k] - this.surface.fmin;
      let text;
      if (!Number.isFinite(loss)) {
        let first = 0;
        while (Number.isFinite(path.losses[first])) {
          first += 1;
        }
        text = `diverged at step ${first}`;
      } else {
        text = `f − f* ${loss > 0 ? loss.toExponential(1) : "0"}`;
      }
      this.cards[name].status.textContent = text;
    }

    drawLoss(colors) {
      const ctx = this.loss.getContext("2d");
      ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
      const w = this.lossWidth;
      const h = this.lossHeight;
      ctx.fillStyle = colors.bg;
      ctx.fillRect(0, 0, w, h);
      const left = 48;
      const bottom = h - 28;
      const top = 8;
      const right = w - 10;
      const floor = 1e-16;
      if (!this.lossRange) {
        let lo = Infinity;
        let hi = -Infinity;
        for (const path of Object.values(this.paths)) {
          for (const f of path.losses) {
            const gap = Math.max(f - this.surface.fmin, floor);
            if (Number.isFinite(gap) && gap < 1e12) {
              lo = Math.min(lo, gap);
              hi = Math.max(hi, gap);
            }
          }
        }
        if (!(lo <= hi)) {
          lo = 1e-3;
          hi = 1;
        }
        lo = Math.floor(Math.log10(lo));
        hi = Math.max(lo + 1, Math.ceil(Math.log10(hi)));
        this.lossRange = [lo, hi];
      }
      const [lo, hi] = this.lossRange;
      const X = (t) => left + ((right - left) * t) / this.steps;
      const Y = (gap) => bottom - ((bottom - top) * (Math.log10(gap) - lo)) / (hi - lo);
      ctx.strokeStyle = colors.axis;
      ctx.fillStyle = colors.fg;
      ctx.lineWidth = 1;
      ctx.font = "11px sans-serif";
      ctx.beginPath();
      ctx.moveTo(left, top);
      ctx.lineTo(left, bottom);
      ctx.lineTo(right, bottom);
      ctx.stroke();
      const every = Math.max(1, Math.ceil((hi - lo) / 5));
      ctx.textAlign = "right";
      for (let e = lo; e <= hi; e += every) {
        const y = Y(Math.pow(10, e));
        ctx.fillText(`1e${e}`, left - 4, y + 4);
      }
      ctx.textAlign = "center";
      for (let t = 0; t <= this.steps; t += this.steps / 4) {
        ctx.fillText(String(t), X(t), bottom + 14);
      }
      ctx.fillText("step", (left + right) / 2, h - 2);
      ctx.save();
      ctx.translate(10, (top + bottom) / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText("f − f* (log)", 0, 0);
      ctx.restore();
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top - 2, right - left, bottom - top + 4);
      ctx.clip();
      for (const name of NAMES) {
        const path = this.paths[name];
        if (!path) {
          continue;
        }
        ctx.strokeStyle = colors.method(name);
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        for (let t = 0; t <= this.k; t++) {
          const gap = Math.max(path.losses[t] - this.surface.fmin, floor);
          if (!Number.isFinite(gap)) {
            break;
          }
          if (t === 0) {
            ctx.moveTo(X(t), Y(gap));
          } else {
            ctx.lineTo(X(t), Y(gap));
          }
        }
        ctx.stroke();
      }
      ctx.restore();
    }
  }

  function start() {
    const labs = Array.from(document.querySelectorAll(".optlab")).map(
      (root) => new Lab(root));
    window.OptLab = { core, presets: PRESETS, labs };
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
