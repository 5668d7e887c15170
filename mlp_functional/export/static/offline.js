// The model inside a page written by `mlp-functional export --format html`. The page's
// script (serve's app.js, unchanged) asks two things: "api/model" for the model card and
// "api/predict" with the drawing as a PNG. Here they are answered in the page itself, as
// `mlp-functional serve` answers them: the PNG decoded to grayscale as Pillow does, brought
// to MNIST's form by a line-for-line port of mlp_functional.imaging.to_mnist, then a
// forward pass over the embedded weights. Nothing is sent anywhere.
"use strict";

(() => {
  const spec = JSON.parse(document.getElementById("mlp-model").textContent);
  const P = spec.preprocess; // the constants of mlp_functional.imaging
  const PNG_PREFIX = "data:image/png;base64,";

  function bytes(base64) {
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  }

  function float32s(base64) {
    const view = new DataView(bytes(base64).buffer);
    const out = new Float32Array(view.byteLength / 4);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }

  const sizes = spec.sizes;
  const layers = spec.layers.map((layer, l) => ({
    w: float32s(layer.w), // row-major (fan_in, fan_out), as the engine stores it
    b: float32s(layer.b),
    fanIn: sizes[l],
    fanOut: sizes[l + 1],
  }));
  const units = new Int8Array(bytes(spec.units).buffer); // (hidden units, 784) weight images

  const activations = {
    relu: (z) => (z > 0 ? z : 0),
    leaky_relu: (z) => (z > 0 ? z : z * spec.leakySlope),
    tanh: Math.tanh,
    sigmoid: (z) => {
      const e = Math.exp(-Math.abs(z)); // never overflows, as the engine computes it
      return (z >= 0 ? 1 : e) / (1 + e);
    },
  };
  const f = activations[spec.activation];

  // ---- numbers as NumPy rounds them ----------------------------------------------------

  // Python's round() and numpy.rint: halves go to the even neighbour.
  function roundHalfEven(x) {
    const floor = Math.floor(x);
    const rest = x - floor;
    if (rest < 0.5) return floor;
    if (rest > 0.5) return floor + 1;
    return floor % 2 === 0 ? floor : floor + 1;
  }

  function median(values) {
    const s = Float64Array.from(values).sort();
    const mid = s.length >> 1;
    return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  }

  // ---- to_mnist ------------------------------------------------------------------------

  class NoInk extends Error {}

  // Pillow's convert("L") of an RGB(A) image composited on white: ITU-R 601-2 luma in
  // fixed point. Then the 8-bit values as floats in [0, 1], as imaging._as_gray reads them.
  function grayOf(image) {
    const { data, width, height } = image;
    const gray = new Float64Array(width * height);
    for (let i = 0; i < gray.length; i++) {
      const a = data[4 * i + 3];
      const [r, g, b] = [0, 1, 2].map((k) =>
        a === 255 ? data[4 * i + k] : Math.round((data[4 * i + k] * a + 255 * (255 - a)) / 255),
      );
      gray[i] = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16) / 255;
    }
    return { gray, height, width };
  }

  function ink({ gray, height, width }) {
    const border = [];
    for (let c = 0; c < width; c++) border.push(gray[c], gray[(height - 1) * width + c]);
    for (let r = 1; r < height - 1; r++) border.push(gray[r * width], gray[r * width + width - 1]);
    const background = median(border);
    let lo = Infinity;
    let hi = -Infinity;
    for (const g of gray) {
      lo = Math.min(lo, g);
      hi = Math.max(hi, g);
    }
    const darkInk = background > (lo + hi) / 2;
    const out = new Float64Array(gray.length);
    let peak = 0;
    for (let i = 0; i < gray.length; i++) {
      out[i] = Math.max(darkInk ? background - gray[i] : gray[i] - background, 0);
      peak = Math.max(peak, out[i]);
    }
    if (peak < P.MIN_CONTRAST) {
      throw new NoInk(
        `the image has no ink: nothing differs from the background by more than ` +
          `${peak.toFixed(3)} (at least ${P.MIN_CONTRAST} is needed); draw or photograph a digit`,
      );
    }
    for (let i = 0; i < out.length; i++) {
      out[i] /= peak;
      if (out[i] < P.NOISE) out[i] = 0;
    }
    return { ink: out, height, width };
  }

  function areaWeights(nIn, start, step, nOut) {
    const w = Array.from({ length: nOut }, () => new Float64Array(nIn));
    for (let i = 0; i < nOut; i++) {
      const lo = start + i * step;
      const hi = start + (i + 1) * step;
      for (let j = 0; j < nIn; j++) w[i][j] = Math.max(Math.min(hi, j + 1) - Math.max(lo, j), 0) / step;
    }
    return w;
  }

  function window_(lo, hi, step, nIn) {
    let count = Math.max(1, roundHalfEven((hi - lo + 1) / step));
    const start = (lo + hi + 1) / 2 - (count / 2 + 1) * step;
    count += 2;
    const first = Math.max(0, Math.floor(start));
    const last = Math.min(nIn, Math.ceil(start + count * step));
    return { first, last, start: start - first, count };
  }

  function boxAndScale({ ink, height, width }) {
    let [r0, r1, c0, c1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        if (ink[r * width + c] >= P.BOX) {
          [r0, r1, c0, c1] = [Math.min(r0, r), Math.max(r1, r), Math.min(c0, c), Math.max(c1, c)];
        }
      }
    }
    const step = (Math.max(r1 - r0, c1 - c0) + 1) / P.BOX_SIDE;
    const rw = window_(r0, r1, step, height);
    const cw = window_(c0, c1, step, width);
    const rowW = areaWeights(rw.last - rw.first, rw.start, step, rw.count);
    const colW = areaWeights(cw.last - cw.first, cw.start, step, cw.count);
    // row_w @ ink[rows, cols] @ col_w.T
    const nIn = cw.last - cw.first;
    const left = rowW.map((weights) => {
      const acc = new Float64Array(nIn);
      weights.forEach((wgt, k) => {
        const base = (rw.first + k) * width + cw.first;
        for (let j = 0; j < nIn; j++) acc[j] += wgt * ink[base + j];
      });
      return acc;
    });
    const digit = left.map((row) => colW.map((weights) => weights.reduce((s, wgt, j) => s + wgt * row[j], 0)));
    const top = Math.max(...digit.map((row) => Math.max(...row)));
    const scale = 255.0 / top;
    const u8 = digit.map((row) => row.map((v) => roundHalfEven(v * scale)));
    const keepRows = u8.map((row, r) => (row.some((v) => v > 0) ? r : -1)).filter((r) => r >= 0);
    const keepCols = u8[0].map((_, c) => (u8.some((row) => row[c] > 0) ? c : -1)).filter((c) => c >= 0);
    const rFirst = keepRows[0];
    const rLast = keepRows[keepRows.length - 1];
    const cFirst = keepCols[0];
    const cLast = keepCols[keepCols.length - 1];
    return u8.slice(rFirst, rLast + 1).map((row) => row.slice(cFirst, cLast + 1));
  }

  function place(digit) {
    const h = digit.length;
    const w = digit[0].length;
    let total = 0;
    let rowMoment = 0;
    let colMoment = 0;
    digit.forEach((row, r) =>
      row.forEach((v, c) => {
        total += v;
        rowMoment += v * r;
        colMoment += v * c;
      }),
    );
    const clip = (v, hi) => Math.min(Math.max(v, 0), hi);
    const top = clip(roundHalfEven(P.CENTRE[0] - rowMoment / total), P.SIZE - h);
    const left = clip(roundHalfEven(P.CENTRE[1] - colMoment / total), P.SIZE - w);
    const out = new Uint8Array(P.SIZE * P.SIZE);
    digit.forEach((row, r) => row.forEach((v, c) => (out[(top + r) * P.SIZE + left + c] = v)));
    return out;
  }

  function toMnist(image) {
    return place(boxAndScale(ink(grayOf(image))));
  }

  // ---- the network ---------------------------------------------------------------------

  function forward(pixels) {
    // x / 255 in float32, as mlp_functional.to_features divides uint8 pixels
    let a = Float64Array.from(pixels, (v) => Math.fround(v / 255));
    let hidden = null;
    layers.forEach((layer, l) => {
      const z = Float64Array.from(layer.b);
      for (let i = 0; i < layer.fanIn; i++) {
        const ai = a[i];
        if (ai === 0) continue;
        const row = i * layer.fanOut;
        for (let j = 0; j < layer.fanOut; j++) z[j] += ai * layer.w[row + j];
      }
      if (l < layers.length - 1) {
        for (let j = 0; j < z.length; j++) z[j] = f(z[j]);
        if (hidden === null) hidden = z;
      }
      a = z;
    });
    const top = Math.max(...a);
    const e = a.map((z) => Math.exp(z - top));
    const sum = e.reduce((s, v) => s + v, 0);
    return { probabilities: Array.from(e, (v) => v / sum), hidden };
  }

  const round4 = (v) => Math.round(v * 1e4) / 1e4;

  // The first hidden layer as serve's api._hidden describes it.
  function describeHidden(hidden) {
    if (hidden === null) return null;
    const order = Array.from(hidden.keys()).sort((i, j) => hidden[j] - hidden[i] || i - j);
    const side = sizes[0];
    return {
      activations: Array.from(hidden, round4),
      top: order.slice(0, spec.topUnits).map((j) => ({
        unit: j,
        activation: round4(hidden[j]),
        weights: Array.from(units.subarray(j * side, (j + 1) * side)),
      })),
    };
  }

  // ---- the two requests ----------------------------------------------------------------

  async function decodePng(dataUrl) {
    const blob = new Blob([bytes(dataUrl.slice(PNG_PREFIX.length))], { type: "image/png" });
    const bitmap = await createImageBitmap(blob, {
      premultiplyAlpha: "none",
      colorSpaceConversion: "none",
    });
    const canvas = document.createElement("canvas");
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const c = canvas.getContext("2d", { willReadFrequently: true });
    c.drawImage(bitmap, 0, 0);
    return c.getImageData(0, 0, canvas.width, canvas.height);
  }

  async function predict(request) {
    const png = request.image;
    if (typeof png !== "string" || !png.startsWith(PNG_PREFIX)) {
      return [400, { error: `"image" must be a PNG data URL starting with "${PNG_PREFIX}"` }];
    }
    let image;
    try {
      image = toMnist(await decodePng(png));
    } catch (err) {
      if (err instanceof NoInk) return [400, { error: `"image": ${err.message}` }];
      throw err;
    }
    const { probabilities, hidden } = forward(image);
    const best = probabilities.indexOf(Math.max(...probabilities));
    const reply = {
      label: spec.classes[best],
      probabilities,
      classes: spec.classes,
      image: Array.from(image),
      hidden: describeHidden(hidden),
    };
    window.mlpOffline.last = { png, reply };
    return [200, reply];
  }

  function answer(status, body) {
    return new Response(JSON.stringify(body), {
      status,
      headers: { "Content-Type": "application/json" },
    });
  }

  window.mlpOffline = { last: null };
  window.fetch = async (url, options = {}) => {
    const path = String(url);
    if (path === "api/model") return answer(200, spec.card);
    if (path === "api/predict" && options.method === "POST") {
      return answer(...(await predict(JSON.parse(options.body))));
    }
    return answer(404, { error: `no such page: ${path} (this page answers only itself)` });
  };
})();
