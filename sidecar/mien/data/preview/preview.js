// Mien preview page: animate a line through the gateway and play it on a 2D face.
//
// Plain JavaScript, no build step, no external assets. Calls the sidecar's HTTP/JSON gateway
// (POST /mien.v1.FaceAnimation/Describe and /AnimateLine) and drives the face from the returned
// curves by channel NAME (ARKit names; other rigs get the curve plot only).
//
// Time: the face shows frame round(t * fps) of the track, t = the <audio> element's currentTime;
// when the browser cannot play audio (no output device) a page clock takes over from the same time.
//
// Mouth geometry (tests/test_preview.py checks the drawn face against these formulas):
//   aperture = clamp(jawOpen - mouthClose + 0.3 * avg(mouthLowerDown*) + 0.2 * avg(mouthUpperUp*), 0, 1)
//   the inner mouth (#mouth-inner) is exactly MOUTH_OPEN_PX * aperture pixels tall (SVG user units);
//   its centre line sits at MOUTH_Y + JAW_DROP_PX * jawOpen.
// Head (headYaw_deg / headPitch_deg / headRoll_deg, when the track has them): the whole face (#head) is
//   transformed by translate(HEAD_PX_PER_DEG * yaw, -HEAD_PX_PER_DEG * pitch) rotate(roll, HEAD_PIVOT):
//   yaw > 0 (toward the character's left) moves it to screen right, chin up moves it up, roll > 0 tips the
//   top toward the character's left (clockwise on screen) about the neck.
// window.mienPreview exposes the state (track, lastRender, ...) for tests and curious developers.

(() => {
  "use strict";

  const MOUTH_OPEN_PX = 56;
  const MOUTH_Y = 322;
  const JAW_DROP_PX = 16;
  const HEAD_PX_PER_DEG = 3;
  const HEAD_PIVOT = [200, 400];
  const SERVICE = "/mien.v1.FaceAnimation/";
  const COLORS = ["#5ec2b7", "#f2b45a", "#e46f8a", "#8fa8ff", "#b3de69", "#d9a0ff", "#7fd3ff", "#ffd1a1"];
  const ARKIT_MOUTH = ["jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthSmileLeft", "mouthStretchLeft"];

  const $ = (id) => document.getElementById(id);
  const ui = {
    form: $("controls"), file: $("audio-file"), transcript: $("transcript"), emotion: $("emotion"),
    intensity: $("intensity"), intensityValue: $("intensity-value"), rig: $("rig"), mode: $("mode"),
    token: $("token"), button: $("animate"), status: $("status"), player: $("player"), meta: $("meta"),
    service: $("service"), face: $("face"), faceNote: $("face-note"), plot: $("plot"), legend: $("legend"),
  };

  const S = {
    info: null,
    track: null,
    index: new Map(),
    hasFace: false,
    state: "idle", // idle | loading | playing | paused | ended | error
    clock: { mode: "audio", offset: 0, start: 0, running: false, lastAudio: -1, lastChange: 0 },
    plot: { image: null, channels: [], min: 0, max: 1 },
    lastRender: null,
  };

  // --- helpers -------------------------------------------------------------------------------

  const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));

  function setStatus(text, isError = false) {
    ui.status.textContent = text;
    ui.status.classList.toggle("error", isError);
  }

  async function rpc(method, body) {
    const headers = { "Content-Type": "application/json" };
    const token = ui.token.value.trim();
    if (token) headers.Authorization = `Bearer ${token}`;
    const reply = await fetch(SERVICE + method, { method: "POST", headers, body: JSON.stringify(body) });
    let data;
    try {
      data = await reply.json();
    } catch (err) {
      throw new Error(`HTTP ${reply.status}: the reply is not JSON`);
    }
    if (!reply.ok) throw new Error(`${data.code || reply.status}: ${data.message || "request failed"}`);
    return data;
  }

  function fileBase64(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
      reader.onerror = () => reject(reader.error || new Error("cannot read the file"));
      reader.readAsDataURL(file);
    });
  }

  function option(select, value, label) {
    const opt = document.createElement("option");
    opt.value = value;
    opt.textContent = label;
    select.append(opt);
  }

  // --- track access ------------------------------------------------------------------------------

  function duration() {
    return S.track ? S.track.frameCount / S.track.fps : 0;
  }

  function frameAt(t) {
    return clamp(Math.round(t * S.track.fps), 0, S.track.frameCount - 1);
  }

  function valuesAt(frame) {
    const n = S.track.channelNames.length;
    const row = {};
    S.track.channelNames.forEach((name, i) => { row[name] = Number(S.track.values[frame * n + i]); });
    return row;
  }

  function aperture(v) {
    const g = (k) => v[k] || 0;
    return clamp(g("jawOpen") - g("mouthClose") + 0.3 * (g("mouthLowerDownLeft") + g("mouthLowerDownRight")) / 2
      + 0.2 * (g("mouthUpperUpLeft") + g("mouthUpperUpRight")) / 2, 0, 1);
  }

  // --- the face ------------------------------------------------------------------------------------

  function drawFace(v) {
    const g = (k) => v[k] || 0;
    const avg = (a, b) => (g(a) + g(b)) / 2;
    const fmt = (x) => x.toFixed(2);

    // eyes: lids (blink, squint, wide) and pupils (degrees if present, else look blendshapes)
    for (const [side, cx] of [["Left", 262], ["Right", 138]]) {
      const s = side === "Left" ? "l" : "r";
      const cover = clamp(g(`eyeBlink${side}`) + 0.25 * g(`eyeSquint${side}`) - 0.35 * g(`eyeWide${side}`) + 0.12, 0, 1);
      $(`lid-${s}`).setAttribute("height", fmt(23 + 34 * cover));
      const low = 0.3 * g(`eyeSquint${side}`) + 0.2 * g(`cheekSquint${side}`);
      $(`lowlid-${s}`).setAttribute("y", fmt(217 - 34 * clamp(low, 0, 0.5)));
      let yaw = v[`eyeYaw${side}_deg`];
      let pitch = v[`eyePitch${side}_deg`];
      if (yaw === undefined) {
        const outward = side === "Left" ? 1 : -1; // "out" is toward the character's own side
        yaw = 30 * outward * (g(`eyeLookOut${side}`) - g(`eyeLookIn${side}`));
        pitch = 25 * (g(`eyeLookUp${side}`) - g(`eyeLookDown${side}`));
      }
      const px = cx + 14 * clamp(yaw / 30, -1, 1); // yaw > 0: toward the character's left = screen right
      const py = 200 - 9 * clamp(pitch / 25, -1, 1);
      for (const id of [`iris-${s}`, `pupil-${s}`]) {
        $(id).setAttribute("cx", fmt(px));
        $(id).setAttribute("cy", fmt(py));
      }
    }

    // brows: inner raise, outer raise, lowering
    for (const [side, inner, outer] of [["Left", 222, 300], ["Right", 178, 100]]) {
      const down = g(`browDown${side}`);
      const yi = 160 - 16 * g("browInnerUp") + 10 * down;
      const yo = 162 - 14 * g(`browOuterUp${side}`) + 6 * down;
      const yc = (yi + yo) / 2 - 12 - 4 * g(`browOuterUp${side}`) + 5 * down;
      $(`brow-${side === "Left" ? "l" : "r"}`).setAttribute("d",
        `M${inner} ${fmt(yi)} Q${(inner + outer) / 2} ${fmt(yc)} ${outer} ${fmt(yo)}`);
    }

    // cheeks and nose
    $("cheek-l").setAttribute("fill-opacity", fmt(clamp(0.12 + 0.5 * g("cheekSquintLeft") + 0.3 * g("mouthSmileLeft"), 0, 0.8)));
    $("cheek-r").setAttribute("fill-opacity", fmt(clamp(0.12 + 0.5 * g("cheekSquintRight") + 0.3 * g("mouthSmileRight"), 0, 0.8)));
    const sneer = avg("noseSneerLeft", "noseSneerRight");
    $("nose").setAttribute("d", `M200 215 L188 ${fmt(262 - 5 * sneer)} Q200 ${fmt(270 - 5 * sneer)} 212 ${fmt(262 - 5 * sneer)}`);

    // mouth
    const open = aperture(v);
    const h = MOUTH_OPEN_PX * open;
    const y0 = MOUTH_Y + JAW_DROP_PX * g("jawOpen");
    const cx = 200 + 14 * (g("mouthLeft") - g("mouthRight"));
    const w = Math.max(14, 42 * (1 + 0.3 * avg("mouthStretchLeft", "mouthStretchRight")
      + 0.22 * avg("mouthSmileLeft", "mouthSmileRight") - 0.4 * g("mouthPucker") - 0.28 * g("mouthFunnel")));
    const round = clamp(g("mouthPucker") + g("mouthFunnel"), 0, 1);
    const wi = w * 0.86;
    const ctl = wi * (0.55 - 0.3 * round); // control points nearer the centre = a rounder opening
    const up = (0.4 * h) / 0.75; // a cubic with both controls at offset d peaks at 0.75 d
    const dn = (0.6 * h) / 0.75;
    const inner = `M${fmt(cx - wi)} ${fmt(y0)} C${fmt(cx - ctl)} ${fmt(y0 - up)} ${fmt(cx + ctl)} ${fmt(y0 - up)} `
      + `${fmt(cx + wi)} ${fmt(y0)} C${fmt(cx + ctl)} ${fmt(y0 + dn)} ${fmt(cx - ctl)} ${fmt(y0 + dn)} ${fmt(cx - wi)} ${fmt(y0)} Z`;
    const press = 1 - 0.4 * avg("mouthPressLeft", "mouthPressRight");
    const upper = press * (9 * (1 - 0.6 * g("mouthRollUpper")) + 5 * avg("mouthUpperUpLeft", "mouthUpperUpRight")
      + 4 * g("mouthPucker") + 2 * g("mouthShrugUpper"));
    const lower = press * (11 * (1 - 0.6 * g("mouthRollLower")) + 4 * g("mouthPucker") + 3 * g("mouthShrugLower"));
    const lift = (side) => -13 * g(`mouthSmile${side}`) + 11 * g(`mouthFrown${side}`) - 3 * g(`mouthDimple${side}`);
    const yl = y0 + lift("Right"); // screen left is the character's right
    const yr = y0 + lift("Left");
    const uo = (0.4 * h + upper) / 0.75;
    const lo = (0.6 * h + lower) / 0.75;
    const octl = w * (0.55 - 0.25 * round);
    const outer = `M${fmt(cx - w)} ${fmt(yl)} C${fmt(cx - octl)} ${fmt(y0 - uo)} ${fmt(cx + octl)} ${fmt(y0 - uo)} `
      + `${fmt(cx + w)} ${fmt(yr)} C${fmt(cx + octl)} ${fmt(y0 + lo)} ${fmt(cx - octl)} ${fmt(y0 + lo)} ${fmt(cx - w)} ${fmt(yl)} Z`;
    $("mouth-outer").setAttribute("d", outer);
    $("mouth-inner").setAttribute("d", inner);
    $("mouth-clip").setAttribute("d", inner);
    $("teeth").setAttribute("y", fmt(y0 - 0.4 * h));
    $("teeth").setAttribute("x", fmt(cx - wi));
    $("teeth").setAttribute("width", fmt(2 * wi));

    // head: rigid motion of the whole face
    const yawDeg = g("headYaw_deg");
    const pitchDeg = g("headPitch_deg");
    const rollDeg = g("headRoll_deg");
    const headTransform = `translate(${(HEAD_PX_PER_DEG * yawDeg).toFixed(3)} ${(-HEAD_PX_PER_DEG * pitchDeg).toFixed(3)}) `
      + `rotate(${rollDeg.toFixed(3)} ${HEAD_PIVOT[0]} ${HEAD_PIVOT[1]})`;
    $("head").setAttribute("transform", headTransform);
    return { aperture: open, mouthHeight: h, mouthY: y0,
             head: { yaw: yawDeg, pitch: pitchDeg, roll: rollDeg, transform: headTransform } };
  }

  // --- curve plot ----------------------------------------------------------------------------------

  function plotChannels(track) {
    const names = track.channelNames;
    if (names.includes("jawOpen")) return ARKIT_MOUTH.filter((n) => names.includes(n));
    const n = names.length;
    const range = (i) => {
      let lo = Infinity;
      let hi = -Infinity;
      for (let f = 0; f < track.frameCount; f++) {
        const x = Number(track.values[f * n + i]);
        lo = Math.min(lo, x);
        hi = Math.max(hi, x);
      }
      return hi - lo;
    };
    const mouthy = names.map((name, i) => ({ name, i })).filter(({ name }) => /jaw|mouth|lip/i.test(name));
    const pool = mouthy.length ? mouthy : names.map((name, i) => ({ name, i }))
      .filter(({ name }) => !/blink|eye|brow|look|squint|cheek|nose/i.test(name));
    return pool.map((c) => ({ ...c, r: range(c.i) })).filter((c) => c.r > 1e-4)
      .sort((a, b) => b.r - a.r).slice(0, 6).map((c) => c.name);
  }

  function preparePlot() {
    const canvas = ui.plot;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    canvas.height = Math.max(1, Math.round(canvas.clientHeight * ratio));
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const W = canvas.clientWidth;
    const H = canvas.clientHeight;
    ctx.clearRect(0, 0, W, H);
    if (!S.track) return;
    const t = S.track;
    const n = t.channelNames.length;
    const chans = S.plot.channels;
    let lo = 0;
    let hi = 1;
    for (const name of chans) {
      const i = S.index.get(name);
      for (let f = 0; f < t.frameCount; f++) {
        const x = Number(t.values[f * n + i]);
        lo = Math.min(lo, x);
        hi = Math.max(hi, x);
      }
    }
    S.plot.min = lo;
    S.plot.max = hi;
    const top = 10;
    const bottom = H - 24;
    const y = (x) => bottom - ((x - lo) / (hi - lo || 1)) * (bottom - top);
    const xOf = (sec) => (sec / duration()) * W;
    ctx.strokeStyle = "#323a4c";
    ctx.fillStyle = "#98a1b3";
    ctx.font = "11px system-ui, sans-serif";
    ctx.lineWidth = 1;
    for (const level of [lo, (lo + hi) / 2, hi]) {
      ctx.beginPath();
      ctx.moveTo(0, y(level));
      ctx.lineTo(W, y(level));
      ctx.stroke();
    }
    const step = duration() > 8 ? 2 : duration() > 3 ? 1 : 0.5;
    for (let s = 0; s <= duration(); s += step) {
      ctx.fillText(`${s}s`, xOf(s) + 2, H - 4);
    }
    let word = "";
    for (const p of t.phones || []) { // word labels along the bottom
      if (p.word && p.word !== word) ctx.fillText(p.word, xOf(p.startS) + 2, bottom - 2);
      word = p.word;
    }
    chans.forEach((name, k) => {
      const i = S.index.get(name);
      ctx.strokeStyle = COLORS[k % COLORS.length];
      ctx.lineWidth = 1.6;
      ctx.beginPath();
      for (let f = 0; f < t.frameCount; f++) {
        const px = xOf(f / t.fps);
        const py = y(Number(t.values[f * n + i]));
        if (f === 0) ctx.moveTo(px, py);
        else ctx.lineTo(px, py);
      }
      ctx.stroke();
    });
    S.plot.image = ctx.getImageData(0, 0, canvas.width, canvas.height);
  }

  function drawPlayhead(time) {
    if (!S.plot.image) return;
    const canvas = ui.plot;
    const ctx = canvas.getContext("2d");
    ctx.putImageData(S.plot.image, 0, 0);
    const x = (time / duration()) * canvas.clientWidth;
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(x, 0);
    ctx.lineTo(x, canvas.clientHeight);
    ctx.stroke();
  }

  function buildLegend() {
    ui.legend.replaceChildren();
    S.plot.channels.forEach((name, k) => {
      const item = document.createElement("span");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = COLORS[k % COLORS.length];
      item.append(swatch, name);
      ui.legend.append(item);
    });
  }

  // --- playback clock ------------------------------------------------------------------------------

  function now() {
    const c = S.clock;
    if (c.mode === "audio") return ui.player.currentTime;
    return c.running ? c.offset + (performance.now() - c.start) / 1000 : c.offset;
  }

  function useClock(from, reason) {
    S.clock = { ...S.clock, mode: "clock", offset: from, start: performance.now(), running: true };
    ui.faceNote.hidden = false;
    ui.faceNote.textContent = reason;
  }

  function seek(time) {
    const t = clamp(time, 0, duration());
    if (S.clock.mode === "audio") ui.player.currentTime = t;
    else S.clock = { ...S.clock, offset: t, start: performance.now() };
    if (S.state === "ended") S.state = "paused";
  }

  function watchAudioStall(wall) {
    const c = S.clock;
    if (c.mode !== "audio" || ui.player.paused || ui.player.ended) return;
    const t = ui.player.currentTime;
    if (t !== c.lastAudio) {
      c.lastAudio = t;
      c.lastChange = wall;
    } else if (wall - c.lastChange > 700) {
      useClock(t, "No audio output here: the page clock drives the face.");
    }
  }

  function frame(wall) {
    if (S.track) {
      watchAudioStall(wall);
      let t = now();
      if (t >= duration() || (S.clock.mode === "audio" && ui.player.ended)) {
        t = Math.min(t, duration());
        if (S.state === "playing") {
          S.state = "ended";
          setStatus(`Played ${S.track.frameCount} frames; click the plot to look at any moment.`);
        }
        S.clock.running = false;
        S.clock.offset = t;
      }
      const f = frameAt(t);
      const values = valuesAt(f);
      const drawn = S.hasFace ? drawFace(values) : null;
      drawPlayhead(t);
      S.lastRender = { time: t, frame: f, values, ...(drawn || {}) };
    }
    requestAnimationFrame(frame);
  }

  // --- service -------------------------------------------------------------------------------------

  async function describe() {
    try {
      const info = await rpc("Describe", {});
      S.info = info;
      ui.emotion.replaceChildren();
      for (const e of info.emotions) option(ui.emotion, e, e);
      ui.emotion.value = info.emotions.includes("happy") ? "happy" : info.emotions[0];
      ui.rig.replaceChildren();
      for (const r of info.rigs) option(ui.rig, r.name, r.name);
      ui.rig.value = info.defaultRig || "arkit52";
      ui.mode.replaceChildren();
      option(ui.mode, "ANIMATION_MODE_AUTO", "auto");
      for (const m of info.modes) option(ui.mode, `ANIMATION_MODE_${m.toUpperCase()}`, m);
      const v = info.versions || {};
      ui.service.textContent = `mien ${v.mien || "?"} · contract ${v.contract || "?"} · ${info.rigs.length} rigs`;
    } catch (err) {
      ui.service.textContent = "not connected";
      setStatus(`Describe failed: ${err.message}${/unauthenticated/.test(err.message) ? " (enter the token)" : ""}`, true);
    }
  }

  function showMeta(track) {
    const m = track.metadata || {};
    const rows = [["mode", m.mode], ["frames", `${track.frameCount} @ ${track.fps} fps`],
      ["audio", `${Number(m.audioDurationS || 0).toFixed(2)} s`], ["processing", `${Number(m.processingMs || 0).toFixed(0)} ms`],
      ["rig", m.rig], ["warnings", (m.warnings || []).join("; ") || "none"]];
    ui.meta.replaceChildren();
    for (const [k, v] of rows) {
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = k;
      dd.textContent = v;
      ui.meta.append(dt, dd);
    }
  }

  async function animate(event) {
    event.preventDefault();
    const file = ui.file.files[0];
    if (!file) {
      setStatus("Pick an audio file first.", true);
      return;
    }
    ui.button.disabled = true;
    S.state = "loading";
    setStatus("Animating…");
    try {
      const request = {
        audio: { file: await fileBase64(file) },
        emotion: { constant: { category: { name: ui.emotion.value, intensity: Number(ui.intensity.value) } } },
        rig: ui.rig.value,
        mode: ui.mode.value,
      };
      const text = ui.transcript.value.trim();
      if (text) request.transcript = text;
      const track = await rpc("AnimateLine", request);
      load(track, file);
      await play();
    } catch (err) {
      S.state = "error";
      setStatus(err.message, true);
    } finally {
      ui.button.disabled = false;
    }
  }

  function load(track, file) {
    S.track = track;
    S.index = new Map(track.channelNames.map((n, i) => [n, i]));
    S.hasFace = S.index.has("jawOpen");
    ui.face.classList.toggle("inactive", !S.hasFace);
    ui.faceNote.hidden = S.hasFace;
    ui.faceNote.textContent = S.hasFace ? "" : `The face reads ARKit channel names; rig ${track.metadata.rig} has none, `
      + "so only its curves are plotted. Pick arkit52 to see the face.";
    S.plot.channels = plotChannels(track);
    preparePlot();
    buildLegend();
    showMeta(track);
    if (ui.player.src) URL.revokeObjectURL(ui.player.src);
    ui.player.src = URL.createObjectURL(file);
    S.clock = { mode: "audio", offset: 0, start: 0, running: false, lastAudio: -1, lastChange: performance.now() };
  }

  async function play() {
    S.state = "playing";
    setStatus(`Playing ${S.track.frameCount} frames.`);
    try {
      await ui.player.play();
      S.clock.lastChange = performance.now();
    } catch (err) {
      useClock(0, `The browser would not play audio (${err.name}): the page clock drives the face.`);
    }
  }

  // --- wiring -------------------------------------------------------------------------------------

  ui.intensity.addEventListener("input", () => { ui.intensityValue.textContent = Number(ui.intensity.value).toFixed(2); });
  ui.form.addEventListener("submit", animate);
  ui.plot.addEventListener("click", (e) => {
    if (!S.track) return;
    const rect = ui.plot.getBoundingClientRect();
    seek(((e.clientX - rect.left) / rect.width) * duration());
  });
  ui.player.addEventListener("play", () => { if (S.track && S.state !== "loading") S.state = "playing"; });
  ui.player.addEventListener("pause", () => { if (S.state === "playing" && !ui.player.ended) S.state = "paused"; });
  window.addEventListener("resize", preparePlot);
  const params = new URLSearchParams(window.location.search);
  if (params.get("token")) ui.token.value = params.get("token");
  ui.token.addEventListener("change", describe);

  window.mienPreview = {
    get state() { return S.state; },
    get track() { return S.track; },
    get info() { return S.info; },
    get clockMode() { return S.clock.mode; },
    get lastRender() { return S.lastRender; },
    get plotChannels() { return S.plot.channels.slice(); },
    constants: { MOUTH_OPEN_PX, MOUTH_Y, JAW_DROP_PX, HEAD_PX_PER_DEG, HEAD_PIVOT },
    frameAt, valuesAt, aperture, seek,
  };

  describe();
  requestAnimationFrame(frame);
})();
