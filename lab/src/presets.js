/* The lab's presets: each stages one of the visualizing chapter's verdicts, or opens
 * the lab on an optimizer chapter's methods, and says how to break it. A learning rate
 * the caption calls "tuned" is the chapter's protocol's choice on that surface
 * (optbook.races.tune_lr over 10^(k/4), 32 starts, 200 steps).
 * lab/tests/presets.test.js checks that each verdict holds. */
(function (root, factory) {
  "use strict";
  const presets = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = presets;
  } else {
    root.OptLabPresets = presets;
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";
  const TUNED_BEALE = {
    SGD: 0.0178, momentum: 0.00316, Nesterov: 0.00316, Adagrad: 1.78, RMSProp: 0.178,
    Adam: 0.562, AdaMax: 1, NAdam: 0.562, AdamW: 0.562, AdaBelief: 0.01,
  };
  const lrs = (table, names) =>
    Object.fromEntries(names.map((name) => [name, { lr: table[name] }]));
  const ALL = Object.keys(TUNED_BEALE);
  return {
    tuned: {
      title: "The race, each at its tuned learning rate",
      caption: "Beale's function, 200 steps, each optimizer at the learning rate " +
        "the chapter tuned for it on this surface. Most reach the minimum (the " +
        "star). Try one learning rate for all: the preset \"one shared learning " +
        "rate\".",
      surface: "beale",
      steps: 200,
      methods: lrs(TUNED_BEALE, ALL),
    },
    shared: {
      title: "One shared learning rate ranks the rate, not the method",
      caption: "The same race with every optimizer at lr 0.01: the adaptive methods " +
        "crawl, and the order says how well 0.01 suits each method. Raise Adam's " +
        "learning rate to 0.562 and it wins again.",
      surface: "beale",
      steps: 200,
      methods: Object.fromEntries(ALL.map((name) => [name, { lr: 0.01 }])),
    },
    overshoot: {
      title: "Momentum overshoots",
      caption: "The ill-conditioned quadratic at the learning rates tuned for it: " +
        "heavy ball and Nesterov run past the minimum along the flat valley and " +
        "come back; plain SGD never passes it. Try μ = 0.5.",
      surface: "quadratic",
      steps: 200,
      methods: {
        SGD: { lr: 0.0562 }, momentum: { lr: 0.0178 }, Nesterov: { lr: 0.0562 },
      },
    },
    escape: {
      title: "Escaping the local well",
      caption: "Two wells, the global one on the left. At their tuned learning " +
        "rates, Adam and RMSProp jump the ridge from the right-hand well; SGD and " +
        "momentum stay. Break it: set Adam's learning rate to 0.01 and it stays too.",
      surface: "wells",
      start: [1.2, 0.8],
      steps: 200,
      methods: {
        SGD: { lr: 0.178 }, momentum: { lr: 0.0562 }, RMSProp: { lr: 0.178 },
        Adam: { lr: 1 },
      },
    },
    saddle: {
      title: "The saddle against the bowl",
      caption: "Momentum crosses the ridge x = 0 again and again on its way down " +
        "the saddle. Switch the surface to the bowl (same curvature across, no way " +
        "down): its x-path is the same, to the bit. The oscillation is momentum's, " +
        "not the saddle's.",
      surface: "saddle",
      start: [1, 0.01],
      steps: 200,
      methods: { SGD: { lr: 0.316 }, momentum: { lr: 0.178 } },
    },
    gradient_descent: {
      title: "Gradient descent on the ill-conditioned quadratic",
      caption: "Curvatures 1 and 20: SGD is limited by the steep direction and " +
        "crawls along the flat one; momentum and Nesterov carry speed along the " +
        "valley. Try SGD above lr 0.1 (= 2 / 20): it diverges.",
      surface: "quadratic",
      steps: 200,
      methods: {
        SGD: { lr: 0.0562 }, momentum: { lr: 0.0178 }, Nesterov: { lr: 0.0562 },
      },
    },
    adagrad_rmsprop: {
      title: "Adagrad and RMSProp: a learning rate per coordinate",
      caption: "On the ill-conditioned quadratic, Adagrad and RMSProp scale each " +
        "coordinate's step by its own gradient history, so the flat direction is " +
        "not starved. Change RMSProp's α to see how long it remembers.",
      surface: "quadratic",
      steps: 200,
      methods: { SGD: { lr: 0.0562 }, Adagrad: { lr: 1 }, RMSProp: { lr: 0.1 } },
    },
    adam: {
      title: "Adam at the saddle",
      caption: "From next to the saddle's ridge: the step of Adam is about lr in " +
        "each coordinate whatever the gradient, so it leaves the saddle at once; " +
        "SGD waits for the tiny gradient to grow. Try β2 = 0.9 or ε = 0.1.",
      surface: "saddle",
      start: [1, 0.01],
      steps: 200,
      methods: { SGD: { lr: 0.316 }, RMSProp: { lr: 0.1 }, Adam: { lr: 0.562 } },
    },
    adamax_nadam: {
      title: "Adam, AdaMax and NAdam",
      caption: "Beale's function, each at its tuned learning rate: AdaMax divides " +
        "by a running maximum instead of a root mean square, NAdam looks one " +
        "momentum step ahead.",
      surface: "beale",
      steps: 200,
      methods: lrs(TUNED_BEALE, ["Adam", "AdaMax", "NAdam"]),
    },
    adabelief_adamw: {
      title: "Weight decay: Adam's L2 against AdamW's decoupled decay",
      caption: "The same λ = 0.1 on the ill-conditioned quadratic, as an L2 penalty " +
        "through the gradient (Adam) and as a shrinking of the weights (AdamW, and " +
        "AdaBelief): the penalty is divided by Adam's denominator, the decoupled " +
        "decay is not, and AdamW ends nearer the origin. Set λ to 0 for both.",
      surface: "quadratic",
      steps: 200,
      methods: {
        Adam: { lr: 0.0316, weight_decay: 0.1 },
        AdamW: { lr: 0.0316, weight_decay: 0.1 },
        AdaBelief: { lr: 0.0316, weight_decay: 0.1 },
      },
    },
    adabelief: {
      title: "AdaBelief against Adam",
      caption: "Each at its tuned learning rate on Beale's function. AdaBelief " +
        "divides by the spread of the gradient around its average: where the " +
        "gradient is steady that spread, with ε = 1e-16, is tiny and the steps are " +
        "huge. From this start it stalls; at lr 0.0316 it is thrown out. Try " +
        "ε = 1e-8.",
      surface: "beale",
      steps: 200,
      methods: lrs(TUNED_BEALE, ["Adam", "AdaBelief"]),
    },
  };
});
