// The colorization page: upload a photo, pick a model, add color points, download the result. Plain JavaScript,
// no build step; every request goes to this server's HTTP API (see /docs).

const PREVIEW_SIDE = 1280; // previews are at most this many pixels on their longer side; downloads are full size
const $ = (id) => document.getElementById(id);

const state = {
  models: [],
  model: null,      // the chosen entry of GET /api/models
  file: null,       // the File uploaded (sent again if the server no longer keeps the photo)
  photo: null,      // {photo_id, width, height}
  points: [],       // [{x, y, color}] in the photo's pixels
  selected: -1,     // index into points
  resultUrl: null,
};

// ------------------------------------------------------------------ talking to the server

async function errorText(response) {
  try {
    return (await response.json()).error || response.statusText;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

function showStatus(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

async function uploadPhoto(file) {
  const form = new FormData();
  form.append("photo", file);
  const response = await fetch("/api/photos", { method: "POST", body: form });
  if (!response.ok) throw new Error(await errorText(response));
  return response.json();
}

function hintsJson(points = state.points) {
  const size = Number($("patch").value);
  return JSON.stringify({ points: points.map((p) => ({ x: p.x, y: p.y, color: p.color })), size });
}

function colorizeForm(maxSide) {
  const form = new FormData();
  form.append("photo_id", state.photo.photo_id);
  form.append("model", state.model.name);
  form.append("saturation", $("saturation").value);
  form.append("brightness", $("brightness").value);
  if (state.model.suggests_colors) form.append("temperature", $("temperature").value);
  if (state.model.takes_hints && state.points.length) form.append("hints", hintsJson());
  if (maxSide) form.append("max_side", String(maxSide));
  return form;
}

// POST a form built by makeForm(); if the server no longer keeps the photo (404), upload it again and retry once.
async function postWithPhoto(url, makeForm) {
  let response = await fetch(url, { method: "POST", body: makeForm() });
  if (response.status === 404 && state.file) {
    state.photo = { ...state.photo, ...(await uploadPhoto(state.file)) };
    response = await fetch(url, { method: "POST", body: makeForm() });
  }
  if (!response.ok) throw new Error(await errorText(response));
  return response;
}

// ------------------------------------------------------------------ rendering, one request at a time

let renderWanted = false;
let rendering = false;

function scheduleRender() {
  if (!state.photo || !state.model) return;
  renderWanted = true;
  if (!rendering) renderLoop();
}

async function renderLoop() {
  rendering = true;
  document.body.dataset.busy = "true";
  while (renderWanted) {
    renderWanted = false; // changes made while this request runs start one more, with the newest state
    try {
      const started = performance.now();
      const response = await postWithPhoto("/api/colorize", () => colorizeForm(PREVIEW_SIDE));
      const url = URL.createObjectURL(await response.blob());
      await Promise.all([setImage($("result"), url), setImage($("compare-result"), url)]);
      if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
      state.resultUrl = url;
      showStatus(`${state.model.name}: ${Math.round(performance.now() - started)} ms`);
      $("download").disabled = false;
    } catch (e) {
      showStatus(e.message, true);
    }
    document.body.dataset.renders = String(Number(document.body.dataset.renders) + 1);
  }
  rendering = false;
  document.body.dataset.busy = "false";
}

function setImage(img, url) {
  return new Promise((resolve) => {
    img.onload = img.onerror = () => resolve();
    img.src = url;
  });
}

// ------------------------------------------------------------------ photo

async function openPhoto(file) {
  showStatus(`uploading ${file.name} ...`);
  try {
    state.photo = await uploadPhoto(file);
  } catch (e) {
    showStatus(`${file.name}: ${e.message}`, true);
    return;
  }
  state.file = file;
  state.points = [];
  state.selected = -1;
  $("drop").hidden = true;
  $("views").hidden = false;
  $("download").disabled = true;
  const grayUrl = `/api/photos/${state.photo.photo_id}/gray?max_side=${PREVIEW_SIDE}`;
  await Promise.all([setImage($("gray"), grayUrl), setImage($("compare-gray"), grayUrl)]);
  drawPoints();
  scheduleRender();
}

function stem(name) {
  return name.replace(/\.[^.]*$/, "") || "photo";
}

function saveBlob(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

async function downloadResult() {
  showStatus("colorizing at full size ...");
  try {
    const response = await postWithPhoto("/api/colorize", () => colorizeForm(0));
    saveBlob(await response.blob(), `${stem(state.file.name)}_colorized.png`);
    showStatus(`downloaded ${state.photo.width}x${state.photo.height} PNG`);
  } catch (e) {
    showStatus(e.message, true);
  }
}

// ------------------------------------------------------------------ hint points

// Markers are updated in place, not made anew: a double-click must land on the element its first click selected.
function drawPoints() {
  for (const layer of document.querySelectorAll(".points")) {
    const count = state.photo && state.model?.takes_hints ? state.points.length : 0; // hints only for hint models
    while (layer.children.length > count) layer.lastChild.remove();
    while (layer.children.length < count) layer.appendChild(document.createElement("div"));
    state.points.slice(0, count).forEach((p, i) => {
      const marker = layer.children[i];
      marker.className = "marker" + (i === state.selected ? " selected" : "");
      marker.style.left = `${((p.x + 0.5) / state.photo.width) * 100}%`;
      marker.style.top = `${((p.y + 0.5) / state.photo.height) * 100}%`;
      marker.style.background = p.color;
      marker.dataset.index = String(i);
      marker.title = `(${p.x}, ${p.y}) ${p.color}`;
    });
  }
}

// The photo pixel under a pointer event on a stage, clamped to the photo.
function photoPoint(stage, event) {
  const rect = stage.getBoundingClientRect();
  const clamp = (v, n) => Math.min(n - 1, Math.max(0, Math.floor(v * n)));
  return {
    x: clamp((event.clientX - rect.left) / rect.width, state.photo.width),
    y: clamp((event.clientY - rect.top) / rect.height, state.photo.height),
  };
}

function selectPoint(index) {
  state.selected = index;
  if (index >= 0) $("color").value = state.points[index].color;
  drawPoints();
  suggestColors();
}

function removeSelected() {
  if (state.selected < 0) return;
  state.points.splice(state.selected, 1);
  state.selected = -1;
  $("suggestions").replaceChildren();
  drawPoints();
  scheduleRender();
}

let drag = null; // {index, stage, moved}

function onPointerDown(event) {
  if (!state.photo || !state.model?.takes_hints || event.button !== 0) return;
  const stage = event.currentTarget;
  const marker = event.target.closest(".marker");
  let index;
  if (marker) {
    index = Number(marker.dataset.index);
  } else {
    state.points.push({ ...photoPoint(stage, event), color: $("color").value });
    index = state.points.length - 1;
    scheduleRender();
  }
  selectPoint(index);
  drag = { index, stage, moved: false };
  stage.setPointerCapture(event.pointerId);
  event.preventDefault();
}

function onPointerMove(event) {
  if (!drag) return;
  Object.assign(state.points[drag.index], photoPoint(drag.stage, event));
  drag.moved = true;
  drawPoints();
}

function onPointerUp() {
  if (drag?.moved) {
    scheduleRender();
    suggestColors();
  }
  drag = null;
}

// The pointer is captured by the stage while pressed, so a double-click's target is the stage: find the marker by place.
function onDoubleClick(event) {
  const marker = document.elementsFromPoint(event.clientX, event.clientY).find((el) => el.matches(".marker"));
  if (!marker) return;
  state.selected = Number(marker.dataset.index);
  removeSelected();
}

async function suggestColors() {
  const box = $("suggestions");
  box.replaceChildren();
  if (!state.model?.suggests_colors || state.selected < 0) return;
  const point = state.points[state.selected];
  const others = state.points.filter((_, i) => i !== state.selected);
  const makeForm = () => {
    const form = new FormData();
    form.append("photo_id", state.photo.photo_id);
    form.append("model", state.model.name);
    form.append("x", String(point.x));
    form.append("y", String(point.y));
    form.append("hints", hintsJson(others));
    return form;
  };
  try {
    const { colors } = await (await postWithPhoto("/api/suggest", makeForm)).json();
    for (const c of colors) {
      const swatch = document.createElement("button");
      swatch.type = "button";
      swatch.className = "swatch";
      swatch.style.background = c.hex;
      swatch.title = `${c.hex}  ${(100 * c.probability).toFixed(1)} %`;
      swatch.addEventListener("click", () => setSelectedColor(c.hex));
      box.appendChild(swatch);
    }
  } catch (e) {
    showStatus(e.message, true);
  }
}

function setSelectedColor(hex) {
  $("color").value = hex;
  if (state.selected < 0) return;
  state.points[state.selected].color = hex;
  drawPoints();
  scheduleRender();
}

function saveHints() {
  if (!state.photo) return;
  saveBlob(new Blob([hintsJson() + "\n"], { type: "application/json" }), `${stem(state.file.name)}_hints.json`);
}

async function loadHints(file) {
  try {
    const data = JSON.parse(await file.text());
    if (!Array.isArray(data.points)) throw new Error('it holds no "points" list');
    state.points = data.points.map((p) => ({ x: p.x, y: p.y, color: p.color }));
    if (Number.isInteger(data.size)) {
      $("patch").value = String(data.size);
      $("patch-value").textContent = String(data.size);
    }
    state.selected = -1;
    drawPoints();
    scheduleRender();
  } catch (e) {
    showStatus(`hints file ${file.name}: ${e.message}`, true);
  }
}

// ------------------------------------------------------------------ models and controls

function chooseModel(name) {
  state.model = state.models.find((m) => m.name === name) || state.models[0];
  $("hints").hidden = !state.model.takes_hints;
  $("temperature-row").hidden = !state.model.suggests_colors;
  if (state.model.suggests_colors) {
    $("temperature").value = String(state.model.temperature);
    $("temperature-value").textContent = Number(state.model.temperature).toFixed(2);
  }
  $("suggestions").replaceChildren();
  drawPoints();
  scheduleRender();
}

async function loadModels() {
  const response = await fetch("/api/models");
  state.models = (await response.json()).models;
  const select = $("model");
  for (const m of state.models) {
    const option = document.createElement("option");
    option.value = m.name;
    option.textContent = `${m.name} (${m.arch}, ${m.head}${m.takes_hints ? ", hints" : ""})`;
    select.appendChild(option);
  }
  chooseModel(select.value);
}

function bindSlider(id, digits) {
  const input = $(id);
  input.addEventListener("input", () => {
    $(`${id}-value`).textContent = Number(input.value).toFixed(digits);
    scheduleRender();
  });
}

function setLayout(layout) {
  $("side").hidden = layout !== "side";
  $("compare").hidden = layout !== "compare";
}

function setSplit(percent) {
  $("compare-result").style.clipPath = `inset(0 0 0 ${percent}%)`;
  document.querySelector(".split-line").style.left = `${percent}%`;
}

function bindEvents() {
  $("model").addEventListener("change", (e) => chooseModel(e.target.value));
  $("file").addEventListener("change", (e) => e.target.files[0] && openPhoto(e.target.files[0]));
  document.addEventListener("dragover", (e) => e.preventDefault());
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer.files[0]) openPhoto(e.dataTransfer.files[0]);
  });
  for (const stage of document.querySelectorAll(".stage")) {
    stage.addEventListener("pointerdown", onPointerDown);
    stage.addEventListener("pointermove", onPointerMove);
    stage.addEventListener("pointerup", onPointerUp);
    stage.addEventListener("dblclick", onDoubleClick);
  }
  document.addEventListener("keydown", (e) => {
    if ((e.key === "Delete" || e.key === "Backspace") && !e.target.closest("input, select")) removeSelected();
  });
  $("color").addEventListener("input", (e) => setSelectedColor(e.target.value));
  $("remove").addEventListener("click", removeSelected);
  $("clear").addEventListener("click", () => {
    state.points = [];
    state.selected = -1;
    $("suggestions").replaceChildren();
    drawPoints();
    scheduleRender();
  });
  $("save-hints").addEventListener("click", saveHints);
  $("load-hints").addEventListener("change", (e) => e.target.files[0] && loadHints(e.target.files[0]));
  $("download").addEventListener("click", downloadResult);
  bindSlider("saturation", 2);
  bindSlider("brightness", 2);
  bindSlider("temperature", 2);
  bindSlider("patch", 0);
  for (const radio of document.querySelectorAll('input[name="layout"]')) {
    radio.addEventListener("change", (e) => setLayout(e.target.value));
  }
  $("split").addEventListener("input", (e) => setSplit(e.target.value));
  setSplit($("split").value);
}

bindEvents();
loadModels().catch((e) => showStatus(`cannot list the models: ${e.message}`, true));
