// Drawing pad and live predictions for `mlp-functional serve`. Plain JavaScript, no
// dependencies: the page sends the drawing as a PNG to /api/predict, which preprocesses it
// exactly as `mlp-functional predict` does, and shows what comes back.
"use strict";

(() => {
  const DEBOUNCE_MS = 120; // wait this long after the last pen move before asking
  const SIDE = 28;

  const $ = (id) => document.getElementById(id);
  const pad = $("pad");
  const ctx = pad.getContext("2d");
  const pen = pad.width / 14; // ~2 MNIST pixels once the digit is scaled to 20 px
  const ui = {
    status: $("status"),
    label: $("label"),
    confidence: $("confidence"),
    bars: $("bars"),
    preview: $("preview"),
    activations: $("activations"),
    units: $("units"),
    card: $("card"),
  };
  const state = {
    drawing: false,
    last: null,
    strokes: 0, // strokes since the last clear; a reply names the count it answers
    timer: 0,
    inFlight: false,
    again: false,
    epoch: 0, // bumped by Clear, so that late replies about an old drawing are dropped
    classes: [...Array(10).keys()].map(String),
  };

  // ---- drawing -------------------------------------------------------------------------

  function blank() {
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, pad.width, pad.height);
  }

  function at(event) {
    const r = pad.getBoundingClientRect();
    return [
      ((event.clientX - r.left) * pad.width) / r.width,
      ((event.clientY - r.top) * pad.height) / r.height,
    ];
  }

  function line(from, to) {
    ctx.strokeStyle = "#111";
    ctx.lineWidth = pen;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0], to[1]);
    ctx.stroke();
  }

  function dot(at) {
    ctx.fillStyle = "#111";
    ctx.beginPath();
    ctx.arc(at[0], at[1], pen / 2, 0, 2 * Math.PI);
    ctx.fill();
  }

  pad.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    state.drawing = true;
    state.last = at(event);
    dot(state.last);
    state.strokes += 1;
    pad.dataset.strokes = String(state.strokes);
    schedule(DEBOUNCE_MS);
  });

  pad.addEventListener("pointermove", (event) => {
    if (!state.drawing) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const e of events.length ? events : [event]) {
      const p = at(e);
      line(state.last, p);
      state.last = p;
    }
    schedule(DEBOUNCE_MS);
  });

  function stop() {
    if (!state.drawing) return;
    state.drawing = false;
    schedule(0);
  }
  pad.addEventListener("pointerup", stop);
  pad.addEventListener("pointercancel", stop);

  $("clear").addEventListener("click", clear);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") clear();
  });

  function clear() {
    clearTimeout(state.timer);
    state.epoch += 1;
    state.strokes = 0;
    pad.dataset.strokes = "0";
    blank();
    showEmpty();
    setStatus("empty", "Draw a digit in the box.");
  }

  // ---- talking to the server ---------------------------------------------------------

  function schedule(delay) {
    clearTimeout(state.timer);
    state.timer = setTimeout(send, delay);
  }

  function setStatus(kind, text) {
    ui.status.dataset.state = kind;
    ui.status.textContent = text;
  }

  async function send() {
    if (state.strokes === 0) return;
    if (state.inFlight) {
      state.again = true; // ask again with the newest drawing once this reply is in
      return;
    }
    state.inFlight = true;
    const epoch = state.epoch;
    const strokes = state.strokes;
    setStatus("busy", "Reading…");
    let failed = false;
    try {
      const reply = await fetch("api/predict", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ image: pad.toDataURL("image/png") }),
      });
      const data = await reply.json().catch(() => ({ error: reply.statusText }));
      if (!reply.ok) throw new Error(data.error || `HTTP ${reply.status}`);
      if (epoch === state.epoch) show(data, strokes);
    } catch (err) {
      failed = true;
      if (epoch === state.epoch) setStatus("error", String(err.message || err));
    } finally {
      state.inFlight = false;
      if (state.again) {
        state.again = false;
        send();
      } else if (!failed && epoch === state.epoch) {
        setStatus("idle", "Keep drawing, or Clear (Esc) to start again.");
      }
    }
  }

  // ---- showing the answer ------------------------------------------------------------

  function percent(p) {
    return `${(100 * p).toFixed(p >= 0.9995 || p < 0.0005 ? 0 : 1)}%`;
  }

  function buildBars() {
    ui.bars.replaceChildren(
      ...state.classes.map((name) => {
        const li = document.createElement("li");
        li.innerHTML =
          '<span class="name"></span><span class="track"><span class="fill"></span></span>' +
          '<span class="pct"></span>';
        li.querySelector(".name").textContent = name;
        return li;
      }),
    );
  }

  function showEmpty() {
    ui.label.textContent = "?";
    ui.label.dataset.strokes = "0";
    ui.confidence.textContent = "";
    for (const li of ui.bars.children) {
      li.classList.remove("top");
      li.querySelector(".fill").style.width = "0%";
      li.querySelector(".pct").textContent = "";
    }
    paintGray(ui.preview, new Array(SIDE * SIDE).fill(0));
    ui.units.replaceChildren();
    const a = ui.activations.getContext("2d");
    a.fillStyle = "#000";
    a.fillRect(0, 0, ui.activations.width, ui.activations.height);
  }

  function show(data, strokes) {
    const probs = data.probabilities;
    const best = probs.indexOf(Math.max(...probs));
    ui.label.textContent = data.label;
    ui.label.dataset.strokes = String(strokes);
    ui.confidence.textContent = `${percent(probs[best])} sure`;
    [...ui.bars.children].forEach((li, i) => {
      li.classList.toggle("top", i === best);
      li.querySelector(".fill").style.width = `${(100 * probs[i]).toFixed(2)}%`;
      li.querySelector(".pct").textContent = percent(probs[i]);
    });
    paintGray(ui.preview, data.image);
    if (data.hidden) showHidden(data.hidden);
  }

  function paintGray(canvas, pixels) {
    const c = canvas.getContext("2d");
    const img = c.createImageData(SIDE, SIDE);
    pixels.forEach((v, i) => {
      img.data.set([v, v, v, 255], 4 * i);
    });
    c.putImageData(img, 0, 0);
  }

  function showHidden(hidden) {
    const acts = hidden.activations;
    const cols = Math.ceil(Math.sqrt(acts.length));
    const rows = Math.ceil(acts.length / cols);
    const canvas = ui.activations;
    if (canvas.width !== cols || canvas.height !== rows) {
      canvas.width = cols;
      canvas.height = rows;
    }
    const c = canvas.getContext("2d");
    const img = c.createImageData(cols, rows);
    const top = Math.max(...acts.map(Math.abs), 1e-9);
    acts.forEach((a, i) => {
      const t = Math.max(0, a) / top;
      img.data.set([Math.round(255 * t), Math.round(190 * t), Math.round(60 * t), 255], 4 * i);
    });
    c.putImageData(img, 0, 0);

    ui.units.replaceChildren(
      ...hidden.top.map((unit) => {
        const fig = document.createElement("figure");
        const cv = document.createElement("canvas");
        cv.width = SIDE;
        cv.height = SIDE;
        paintWeights(cv, unit.weights);
        const cap = document.createElement("figcaption");
        cap.textContent = `#${unit.unit} · ${unit.activation.toFixed(2)}`;
        fig.append(cv, cap);
        return fig;
      }),
    );
  }

  function paintWeights(canvas, weights) {
    const c = canvas.getContext("2d");
    const img = c.createImageData(SIDE, SIDE);
    weights.forEach((w, i) => {
      const t = Math.min(1, Math.abs(w) / 127);
      const rgb = w >= 0 ? [215, 48, 31] : [33, 102, 172];
      img.data.set([...rgb.map((v) => Math.round(255 + (v - 255) * t)), 255], 4 * i);
    });
    c.putImageData(img, 0, 0);
  }

  // ---- the model card ----------------------------------------------------------------

  function fmt(value, kind) {
    if (value === null || value === undefined) return "—";
    if (kind === "pct") return `${(100 * value).toFixed(2)}%`;
    if (kind === "s") return value < 120 ? `${value.toFixed(1)} s` : `${(value / 60).toFixed(1)} min`;
    if (kind === "int") return Number(value).toLocaleString("en");
    return String(value);
  }

  async function loadCard() {
    try {
      const reply = await fetch("api/model");
      const card = await reply.json();
      if (!reply.ok) throw new Error(card.error || `HTTP ${reply.status}`);
      state.classes = card.classes;
      buildBars();
      showEmpty();
      const rows = [
        ["Architecture", card.sizes.join(" → ")],
        ["Activation", card.activation],
        ["Parameters", fmt(card.parameters, "int")],
        ["Trained on", fmt(card.dataset)],
        ["Optimizer", card.optimizer ? `${card.optimizer}, lr ${card.learning_rate}` : "—"],
        ["Epochs", fmt(card.epochs)],
        ["Train accuracy", fmt(card.train_accuracy, "pct")],
        ["Test accuracy", fmt(card.test_accuracy, "pct")],
        ["Training time", fmt(card.train_seconds, "s")],
      ];
      ui.card.replaceChildren(
        ...rows.flatMap(([k, v]) => {
          const dt = document.createElement("dt");
          const dd = document.createElement("dd");
          dt.textContent = k;
          dd.textContent = v;
          return [dt, dd];
        }),
      );
      if (card.sizes.length < 3) {
        document.querySelector(".inside-grid").hidden = true;
        $("no-hidden").hidden = false;
      }
      if (!card.png) {
        setStatus("error", "This server cannot read drawings: install Pillow with " +
          "pip install 'mlp-functional[images]' and restart it.");
      }
    } catch (err) {
      setStatus("error", `Cannot reach the model: ${err.message || err}`);
    }
  }

  blank();
  buildBars();
  showEmpty();
  loadCard();
})();
