// Draw a digit: the seed CNN's forward pass in plain JavaScript, from weights embedded in
// the page (cnn_jax/inside/draw.py writes them into <script id="cnn-data">).
//
// Layouts are JAX's: images and feature maps row-major [H, W, C] (channels last), conv
// kernels [kh, kw, c_in, c_out] (HWIO), dense kernels [n_in, n_out]. The forward pass is
// cnn_jax.nn.models.SeedCNN in evaluation mode (dropout, if the run used any, is off):
//   conv1 6x6 valid -> relu1 -> conv2 6x6 valid (no activation) -> maxpool 4x4 stride 4
//   (valid: 18 -> 4, the last 2 rows and columns dropped) -> flatten [4*4*32] ->
//   dense1 -> relu3 -> dense2 (logits) -> softmax (or sigmoid for a sigmoid-output loss).
// Sums run in float64 (JS numbers); the weights are the checkpoint's float32 values.
"use strict";

(function () {
  const DATA = JSON.parse(document.getElementById("cnn-data").textContent);
  const SIDE = 28;

  // ------------------------------------------------------------------ embedded arrays

  function bytes(b64) {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  // Little-endian float32, as numpy's "<f4" wrote them.
  function float32s(b64) {
    const raw = bytes(b64);
    const view = new DataView(raw.buffer);
    const out = new Float32Array(raw.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }

  const P = {};
  for (const [name, entry] of Object.entries(DATA.params)) {
    P[name] = { shape: entry.shape, values: float32s(entry.b64) };
  }
  const samplePixels = bytes(DATA.samples.pixels_b64); // uint8 [N, 28, 28]

  // ------------------------------------------------------------------ the layers

  // x [h, w, cin] -> [h-k+1, w-k+1, cout]; kernel [k, k, cin, cout] (valid padding, stride 1).
  function conv(x, h, w, cin, kernel, bias) {
    const [k, , , cout] = kernel.shape;
    const K = kernel.values;
    const oh = h - k + 1, ow = w - k + 1;
    const out = new Float64Array(oh * ow * cout);
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        const o0 = (y * ow + xx) * cout;
        for (let o = 0; o < cout; o++) out[o0 + o] = bias.values[o];
        for (let ky = 0; ky < k; ky++) {
          for (let kx = 0; kx < k; kx++) {
            const i0 = ((y + ky) * w + (xx + kx)) * cin;
            const k0 = (ky * k + kx) * cin * cout;
            for (let c = 0; c < cin; c++) {
              const v = x[i0 + c];
              if (v === 0) continue; // most inputs are 0 (background, ReLU)
              const kc = k0 + c * cout;
              for (let o = 0; o < cout; o++) out[o0 + o] += v * K[kc + o];
            }
          }
        }
      }
    }
    return { values: out, shape: [oh, ow, cout] };
  }

  function relu(layer) {
    return { values: layer.values.map((v) => (v > 0 ? v : 0)), shape: layer.shape };
  }

  // Max over non-overlapping size x size windows, valid: rows and columns past the last
  // whole window are dropped, as nn.max_pool does.
  function maxPool(layer, size) {
    const [h, w, c] = layer.shape;
    const oh = Math.floor(h / size), ow = Math.floor(w / size);
    const out = new Float64Array(oh * ow * c).fill(-Infinity);
    for (let y = 0; y < oh * size; y++) {
      for (let x = 0; x < ow * size; x++) {
        const i0 = (y * w + x) * c;
        const o0 = (Math.floor(y / size) * ow + Math.floor(x / size)) * c;
        for (let ch = 0; ch < c; ch++) out[o0 + ch] = Math.max(out[o0 + ch], layer.values[i0 + ch]);
      }
    }
    return { values: out, shape: [oh, ow, c] };
  }

  // x [n_in] -> [n_out]; kernel [n_in, n_out].
  function dense(x, kernel, bias) {
    const [nIn, nOut] = kernel.shape;
    const out = Float64Array.from(bias.values);
    for (let i = 0; i < nIn; i++) {
      const v = x[i];
      if (v === 0) continue;
      for (let j = 0; j < nOut; j++) out[j] += v * kernel.values[i * nOut + j];
    }
    return { values: out, shape: [nOut] };
  }

  function softmax(z) {
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  }

  const OUTPUTS = { softmax: softmax, sigmoid: (z) => z.map((v) => 1 / (1 + Math.exp(-v))) };

  // pixels [784] in [0, 1] -> {layer name: {values, shape}} in the order the layers run.
  function forward(pixels) {
    if (pixels.length !== SIDE * SIDE) throw new Error("expected 784 pixels, got " + pixels.length);
    const input = Float64Array.from(pixels);
    const out = {};
    out.conv1 = conv(input, SIDE, SIDE, 1, P["conv1/kernel"], P["conv1/bias"]);
    out.relu1 = relu(out.conv1);
    const [h, w, c] = out.relu1.shape;
    out.conv2 = conv(out.relu1.values, h, w, c, P["conv2/kernel"], P["conv2/bias"]);
    out.maxpool = maxPool(out.conv2, DATA.model.pool);
    out.flatten = { values: out.maxpool.values, shape: [out.maxpool.values.length] };
    out.dense1 = dense(out.flatten.values, P["dense1/kernel"], P["dense1/bias"]);
    out.relu3 = relu(out.dense1);
    out.dense2 = dense(out.relu3.values, P["dense2/kernel"], P["dense2/bias"]);
    const output = DATA.model.output;
    out[output] = { values: Float64Array.from(OUTPUTS[output](out.dense2.values)), shape: [10] };
    return out;
  }

  // ------------------------------------------------------------------ MNIST preprocessing

  // Box-filter weights from n source pixels onto m: output j averages the source interval
  // [j n/m, (j+1) n/m), each pixel weighted by its overlap (anti-aliasing by area).
  function boxWeights(n, m) {
    const step = n / m;
    const weights = [];
    for (let j = 0; j < m; j++) {
      const a = j * step, b = (j + 1) * step;
      const row = [];
      for (let i = Math.floor(a); i < Math.min(n, Math.ceil(b)); i++) {
        const overlap = Math.min(b, i + 1) - Math.max(a, i);
        if (overlap > 0) row.push([i, overlap / step]);
      }
      weights.push(row);
    }
    return weights;
  }

  // ink [H*W] in [0, 1] (row-major, H x W) -> [784] the way MNIST was made: the bounding box
  // scaled to fit 20x20 keeping its aspect ratio (area-averaged, so edges are grey), then
  // placed in 28x28 with its centre of mass at the centre.
  function mnistStyle(ink, W, H) {
    let x0 = W, y0 = H, x1 = -1, y1 = -1;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (ink[y * W + x] > 0) {
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
          if (y < y0) y0 = y;
          if (y > y1) y1 = y;
        }
      }
    }
    const out = new Float64Array(SIDE * SIDE);
    if (x1 < 0) return out; // nothing drawn
    const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
    const scale = 20 / Math.max(bw, bh);
    const tw = Math.max(1, Math.round(bw * scale)), th = Math.max(1, Math.round(bh * scale));
    const wx = boxWeights(bw, tw), wy = boxWeights(bh, th);
    const rows = new Float64Array(bh * tw); // each source row resampled to tw columns
    for (let y = 0; y < bh; y++) {
      for (let j = 0; j < tw; j++) {
        let s = 0;
        for (const [i, wt] of wx[j]) s += wt * ink[(y0 + y) * W + x0 + i];
        rows[y * tw + j] = s;
      }
    }
    const small = new Float64Array(th * tw);
    let mass = 0, cx = 0, cy = 0;
    for (let j = 0; j < th; j++) {
      for (let x = 0; x < tw; x++) {
        let s = 0;
        for (const [i, wt] of wy[j]) s += wt * rows[i * tw + x];
        s = Math.min(1, s);
        small[j * tw + x] = s;
        mass += s;
        cx += s * (x + 0.5);
        cy += s * (j + 0.5);
      }
    }
    // Shift by whole pixels so the centre of mass lands on the field's centre (14, 14).
    const ox = Math.round(SIDE / 2 - cx / mass), oy = Math.round(SIDE / 2 - cy / mass);
    for (let j = 0; j < th; j++) {
      for (let x = 0; x < tw; x++) {
        const X = x + ox, Y = j + oy;
        if (X >= 0 && X < SIDE && Y >= 0 && Y < SIDE) out[Y * SIDE + X] = small[j * tw + x];
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ drawing on canvases

  // Viridis at 5 stops, linearly interpolated: non-negative values (0 = dark).
  const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

  function viridis(t) {
    t = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
    const i = Math.min(VIRIDIS.length - 2, Math.floor(t)), f = t - i;
    return VIRIDIS[i].map((a, k) => Math.round(a + f * (VIRIDIS[i + 1][k] - a)));
  }

  // Signed values: red > 0 > blue, white at 0, as the PNG figures draw them.
  function diverging(t) {
    t = Math.min(1, Math.max(-1, t));
    const fade = Math.round(255 * (1 - Math.abs(t)));
    return t >= 0 ? [255, fade, fade] : [fade, fade, 255];
  }

  // One colour scale per layer: [-m, m] when the layer has negative values, else [0, m].
  function colourScale(values) {
    let lo = 0, hi = 0;
    for (const v of values) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    return lo < 0 ? (v) => diverging(v / m) : (v) => viridis(v / m);
  }

  function paint(canvas, w, h, colourAt) {
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(w, h);
    for (let i = 0; i < w * h; i++) {
      const [r, g, b] = colourAt(i);
      img.data.set([r, g, b, 255], 4 * i);
    }
    ctx.putImageData(img, 0, 0);
  }

  function mapCanvas(w, h, title) {
    const c = document.createElement("canvas");
    c.width = w;
    c.height = h;
    c.className = "map";
    if (title) c.title = title;
    return c;
  }

  // ------------------------------------------------------------------ the page

  const $ = (id) => document.getElementById(id);
  const pad = $("pad");
  const padCtx = pad.getContext("2d");
  const state = { source: "none", pixels: new Float64Array(SIDE * SIDE), outputs: null };

  function clearPad() {
    padCtx.fillStyle = "black";
    padCtx.fillRect(0, 0, pad.width, pad.height);
  }

  function padInk() {
    const rgba = padCtx.getImageData(0, 0, pad.width, pad.height).data;
    const ink = new Float64Array(pad.width * pad.height);
    for (let i = 0; i < ink.length; i++) ink[i] = rgba[4 * i] / 255;
    return ink;
  }

  function layerTitle(name, layer) {
    return name + " " + layer.shape.join("×") + " — " + (DATA.model.describe[name] || "");
  }

  // Every layer: maps for [h, w, c] outputs, a grid of cells for vectors, bars for the output.
  function showLayers(outputs) {
    const box = $("layers");
    box.textContent = "";
    for (const [name, layer] of Object.entries(outputs)) {
      if (name === "flatten" || name === DATA.model.output) continue; // flatten = maxpool's maps
      const section = document.createElement("section");
      section.className = "layer";
      section.dataset.layer = name;
      const h = document.createElement("h3");
      h.textContent = layerTitle(name, layer);
      section.appendChild(h);
      const colour = colourScale(layer.values);
      if (layer.shape.length === 3) {
        const [lh, lw, c] = layer.shape;
        for (let ch = 0; ch < c; ch++) {
          const canvas = mapCanvas(lw, lh, name + " channel " + ch);
          paint(canvas, lw, lh, (i) => colour(layer.values[i * c + ch]));
          section.appendChild(canvas);
        }
      } else {
        const n = layer.shape[0], cols = n > 10 ? 10 : n;
        const canvas = mapCanvas(cols, Math.ceil(n / cols), name + ": " + n + " units");
        canvas.className = "units";
        paint(canvas, cols, Math.ceil(n / cols), (i) => (i < n ? colour(layer.values[i]) : [238, 238, 238]));
        section.appendChild(canvas);
        if (n === 10) {
          const values = document.createElement("div");
          values.className = "values";
          values.textContent = Array.from(layer.values, (v, d) => d + ": " + v.toFixed(3)).join("  ");
          section.appendChild(values);
        }
      }
      box.appendChild(section);
    }
  }

  function showPrediction(outputs) {
    const probs = outputs[DATA.model.output].values;
    const predicted = probs.indexOf(Math.max(...probs));
    $("predicted").textContent = String(predicted);
    const bars = $("bars");
    bars.textContent = "";
    probs.forEach((p, d) => {
      const row = document.createElement("div");
      row.className = "bar" + (d === predicted ? " top" : "");
      row.innerHTML =
        "<span>" + d + "</span><em><i style='width:" + (100 * p).toFixed(1) + "%'></i></em><b>" +
        p.toFixed(4) + "</b>";
      bars.appendChild(row);
    });
    return predicted;
  }

  function render(pixels, source, label) {
    state.pixels = Float64Array.from(pixels);
    state.source = source;
    state.outputs = forward(state.pixels);
    paint($("input"), SIDE, SIDE, (i) => {
      const v = Math.round(255 * state.pixels[i]);
      return [v, v, v];
    });
    state.predicted = showPrediction(state.outputs);
    $("truth").textContent = label === undefined ? "your drawing" : "test digit, true label " + label;
    showLayers(state.outputs);
    document.documentElement.dataset.predicted = String(state.predicted);
  }

  function sample(i) {
    const n = DATA.samples.labels.length;
    if (!(i >= 0 && i < n)) throw new Error("sample index must be 0-" + (n - 1));
    const px = samplePixels.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE);
    return Array.from(px, (v) => v / 255); // as cnn_jax.data.scale: uint8 / 255
  }

  function showSample(i) {
    render(sample(i), "sample " + i, DATA.samples.labels[i]);
  }

  function classifyPad() {
    render(mnistStyle(padInk(), pad.width, pad.height), "drawing");
  }

  // Strokes with pointer events (mouse, pen or touch); the network reruns once per frame.
  let drawing = false, last = null, pending = false;
  function padPoint(e) {
    const r = pad.getBoundingClientRect();
    return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height];
  }
  function stroke(to) {
    padCtx.strokeStyle = "white";
    padCtx.lineWidth = DATA.page.stroke_width;
    padCtx.lineCap = "round";
    padCtx.lineJoin = "round";
    padCtx.beginPath();
    padCtx.moveTo(last[0], last[1]);
    padCtx.lineTo(to[0], to[1]);
    padCtx.stroke();
    last = to;
    if (!pending) {
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        classifyPad();
      });
    }
  }
  pad.addEventListener("pointerdown", (e) => {
    drawing = true;
    pad.setPointerCapture(e.pointerId);
    if (state.source !== "drawing") clearPad();
    last = padPoint(e);
    stroke(last);
  });
  pad.addEventListener("pointermove", (e) => {
    if (drawing) stroke(padPoint(e));
  });
  const end = () => {
    if (drawing) classifyPad();
    drawing = false;
  };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
  $("clear").addEventListener("click", () => {
    clearPad();
    classifyPad();
  });

  // The sample: one thumbnail per test digit, with its true label.
  DATA.samples.labels.forEach((label, i) => {
    const button = document.createElement("button");
    button.title = "test image " + DATA.samples.indices[i] + ", label " + label;
    button.dataset.sample = String(i);
    const c = mapCanvas(SIDE, SIDE);
    const px = sample(i);
    paint(c, SIDE, SIDE, (k) => {
      const v = Math.round(255 * px[k]);
      return [v, v, v];
    });
    button.appendChild(c);
    button.appendChild(document.createTextNode(String(label)));
    button.addEventListener("click", () => showSample(i));
    $("samples").appendChild(button);
  });

  // The API the browser tests use (and a curious reader's console).
  window.cnn = {
    forward: (pixels) =>
      Object.fromEntries(Object.entries(forward(pixels)).map(([k, v]) => [k, Array.from(v.values)])),
    classify: (pixels) => Array.from(forward(pixels).dense2.values), // logits [10]
    preprocess: () => Array.from(mnistStyle(padInk(), pad.width, pad.height)),
    sample: sample,
    samples: DATA.samples.labels.map((label, i) => ({ label: label, index: DATA.samples.indices[i] })),
    showSample: showSample,
    clear: () => {
      clearPad();
      classifyPad();
    },
    current: () => ({
      source: state.source,
      pixels: Array.from(state.pixels),
      logits: Array.from(state.outputs.dense2.values),
      probabilities: Array.from(state.outputs[DATA.model.output].values),
      predicted: state.predicted,
    }),
    model: DATA.model,
    firstRenderMs: null,
  };

  clearPad();
  showSample(0);
  // The first frame with every layer drawn: the time the browser test reports.
  requestAnimationFrame(() => {
    window.cnn.firstRenderMs = performance.now();
    document.documentElement.dataset.ready = "1";
  });
})();
