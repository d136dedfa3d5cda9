// The humanorai page: sends the text to POST /predict and shows the verdict, one card per model,
// a statistics view and, when asked, the text with its segments highlighted. A document (picked or
// dropped) is read by POST /extract first, so its text is shown, and can be edited, before it is scored. No framework, no CDN:
// everything is served by the app itself.
"use strict";

const MIN_WORDS = 50;
const $ = (id) => document.getElementById(id);
let lastResult = null;
// Bands of a segment's p_human: a colour (orange for AI-like, blue for human-like, safe for red-green colour
// blindness) and an underline pattern (wavy, dashed, dotted, none), so that hue is never the only cue.
const SEGMENT_BANDS = [
  { below: 0.2, name: "very AI-like", pattern: "wavy underline" },
  { below: 0.4, name: "AI-like", pattern: "dashed underline" },
  { below: 0.6, name: "uncertain", pattern: "dotted underline" },
  { below: 0.8, name: "human-like", pattern: "no underline" },
  { below: Infinity, name: "very human-like", pattern: "no underline, darker" },
];
const SEGMENT_HINT = "Hover over a highlighted segment, or move to it with Tab, to see its p_human.";
// The server answers every request by its deadline (a 504 at worst), which /ready states; a page still
// waiting this much longer is talking to a stuck server or a lost connection, and says so.
const ANSWER_MARGIN_S = 10;
let answerLimitS = 60 + ANSWER_MARGIN_S; // the server's default deadline, until /ready says its own
const READY_LIMIT_S = 10;

function countWords(text) {
  const trimmed = text.trim();
  return trimmed ? trimmed.split(/\s+/).length : 0;
}

function updateCounts() {
  const text = $("text").value;
  const words = countWords(text);
  $("char-count").textContent = `${text.length} character${text.length === 1 ? "" : "s"}`;
  $("word-count").textContent = `${words} word${words === 1 ? "" : "s"}`;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function setLoading(loading) {
  $("loading").hidden = !loading;
  $("analyze").disabled = loading;
  $("text").setAttribute("aria-busy", String(loading));
}

async function analyze() {
  clearError();
  const text = $("text").value;
  const words = countWords(text);
  if (words === 0) {
    showError("Please paste a text to analyse.");
    return;
  }
  if (words < MIN_WORDS) {
    showError(`Please give at least ${MIN_WORDS} words (this text has ${words}); shorter texts are unreliable.`);
    return;
  }
  setLoading(true);
  try {
    const body = answerOf(await exchange("/predict", {
      method: "POST",
      headers: requestHeaders(),
      body: JSON.stringify({
        text, ensemble: $("method").value, operating_point: $("point").value, segments: $("segments").checked,
      }),
    }));
    if (!body) return;
    lastResult = body;
    render(body);
    renderSegments(body, text);
  } catch (error) {
    showError(error.message);
  } finally {
    setLoading(false);
  }
}

// The response to a request and its JSON body (or an error naming its status), both within `seconds`;
// throws an Error whose message tells the user what happened when the server is unreachable or silent.
async function exchange(url, options = {}, seconds = answerLimitS) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), seconds * 1000);
  try {
    const response = await fetch(url, { ...options, signal: controller.signal });
    const body = await response.json().catch((error) => {
      if (controller.signal.aborted) throw error;
      return { error: `HTTP ${response.status}` };
    });
    return { response, body };
  } catch (error) {
    if (controller.signal.aborted) {
      throw new Error(`The server did not answer within ${seconds} s: it may be stuck, or the connection lost. ` +
                      "Try again in a moment.");
    }
    throw new Error(`The server could not be reached: ${error.message}`);
  } finally {
    clearTimeout(timer);
  }
}

// The body of a successful answer, or null after showing what went wrong (and asking for a key on a 401).
function answerOf({ response, body }) {
  if (response.status === 401) {
    $("key-row").hidden = false;
    $("api-key").focus();
  }
  if (!response.ok) {
    const retry = response.headers.get("Retry-After");
    showError(body.error + (retry ? ` (retry in ${retry} s)` : ""));
    return null;
  }
  return body;
}

function keyHeaders() {
  const key = $("api-key").value.trim();
  return key ? { "X-API-Key": key } : {};
}

function requestHeaders() {
  return { "Content-Type": "application/json", ...keyHeaders() };
}

// Reads a document's text through POST /extract, puts it in the text box, then analyses it.
async function openDocument(file) {
  if (!file) return;
  clearError();
  $("results").hidden = true;
  const form = new FormData();
  form.append("file", file, file.name);
  $("file-note").textContent = `Reading ${file.name}…`;
  $("file-note").hidden = false;
  setLoading(true);
  try {
    // The browser sets the multipart Content-Type (with its boundary) itself.
    const body = answerOf(await exchange("/extract", { method: "POST", headers: keyHeaders(), body: form }));
    if (!body) {
      $("file-note").hidden = true;
      return;
    }
    $("text").value = body.text;
    updateCounts();
    $("file-note").textContent =
      `Read ${body.word_count} words from ${body.filename} (${body.format.toUpperCase()}); edit the text if needed.`;
  } catch (error) {
    showError(error.message);
    return;
  } finally {
    setLoading(false);
    $("file").value = ""; // picking the same file again reads it again
  }
  await analyze();
}

function clearAll() {
  $("text").value = "";
  $("file-note").hidden = true;
  updateCounts();
  clearError();
  $("results").hidden = true;
  $("stats-open").disabled = true;
  lastResult = null;
  $("text").focus();
}

function render(result) {
  const ensemble = result.ensemble;
  const verdict = $("verdict");
  verdict.className = `verdict ${ensemble.label === "HUMAN" ? "human" : "ai"}`;
  $("verdict-label").textContent = ensemble.label;
  $("verdict-confidence").textContent = `${ensemble.confidence.toFixed(2)} %`;
  $("verdict-votes").textContent =
    `${ensemble.vote_count} of ${ensemble.total_models} models say HUMAN (${METHOD_NAMES[ensemble.method]}` +
    `${ensemble.operating_point === "balanced" ? "" : `, ${POINT_NAMES[ensemble.operating_point]}`})`;
  $("verdict-time").textContent = `${result.timings_ms.total.toFixed(0)} ms${result.cached ? " (cached)" : ""}`;
  const notes = [];
  if (result.unavailable_models.length) notes.push(`Unavailable: ${result.unavailable_models.join(", ")}.`);
  const windows = Object.entries(result.windows).filter(([, count]) => count > 1);
  if (windows.length) notes.push(`Long text: scored in ${windows[0][1]} overlapping windows.`);
  $("verdict-note").textContent = notes.join(" ");
  $("verdict-note").hidden = notes.length === 0;

  const cards = $("cards");
  cards.replaceChildren();
  for (const [name, member] of Object.entries(result.individual_results)) {
    cards.appendChild(card(name, member, result.timings_ms[name]));
  }
  $("results").hidden = false;
  $("stats-open").disabled = false;
}

function card(name, member, milliseconds) {
  const article = document.createElement("article");
  article.className = `card ${member.label === "HUMAN" ? "human" : "ai"}`;
  article.dataset.model = name;
  const title = document.createElement("h3");
  title.textContent = name;
  const label = document.createElement("p");
  label.className = "card-label";
  label.textContent = member.label;
  const bar = document.createElement("div");
  bar.className = "bar";
  bar.setAttribute("role", "meter");
  bar.setAttribute("aria-label", `${name} confidence`);
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.setAttribute("aria-valuenow", String(member.confidence));
  const fill = document.createElement("span");
  fill.style.width = `${member.confidence}%`;
  bar.appendChild(fill);
  const confidence = document.createElement("p");
  confidence.className = "card-confidence";
  confidence.textContent = `${member.confidence.toFixed(2)} %`;
  const time = document.createElement("p");
  time.className = "card-time";
  time.textContent = milliseconds === undefined ? "" : `${milliseconds.toFixed(1)} ms`;
  article.append(title, label, bar, confidence, time);
  return article;
}

function segmentBand(pHuman) {
  const index = SEGMENT_BANDS.findIndex((band) => pHuman < band.below);
  return { index, ...SEGMENT_BANDS[index] };
}

function drawLegend() {
  const items = SEGMENT_BANDS.map((band, index) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = `swatch segment band-${index}`;
    swatch.textContent = "text";
    swatch.setAttribute("aria-hidden", "true");
    const low = index === 0 ? 0 : SEGMENT_BANDS[index - 1].below;
    const range = band.below === Infinity ? `p_human ${low} or more` : `p_human ${low} to under ${band.below}`;
    item.append(swatch, ` ${band.name} (${range}; ${band.pattern})`);
    return item;
  });
  $("legend").replaceChildren(...items);
}

function renderSegments(result, text) {
  if (!result.segments) {
    $("segments-view").hidden = true;
    return;
  }
  const characters = Array.from(text); // the API's offsets count code points, not UTF-16 units
  const count = result.segments.length;
  const spans = result.segments.map((segment, index) => {
    const band = segmentBand(segment.p_human);
    const span = document.createElement("span");
    span.className = `segment band-${band.index}`;
    span.textContent = characters.slice(segment.start, segment.end).join("");
    span.tabIndex = 0;
    span.dataset.pHuman = String(segment.p_human);
    span.title = `p_human ${segment.p_human.toFixed(3)}: ${band.name} (${segment.label})`;
    const detail = `Segment ${index + 1} of ${count}: p_human ${segment.p_human.toFixed(3)}, ${band.name} ` +
      `(${segment.label}).`;
    const show = () => { $("segment-detail").textContent = detail; };
    span.addEventListener("mouseenter", show);
    span.addEventListener("focus", show);
    return span;
  });
  $("highlighted").replaceChildren(...spans);
  $("mixed-note").textContent = result.mixed
    ? "Mixed: a substantial share of the words looks human-written and another AI-generated."
    : "Not mixed: no substantial share of the words clearly stands apart from the rest.";
  $("segment-detail").textContent = SEGMENT_HINT;
  $("segments-view").hidden = false;
}

function drawChart(result) {
  const svg = $("chart");
  const ns = "http://www.w3.org/2000/svg";
  const entries = Object.entries(result.individual_results);
  const width = 480, rowHeight = 34, left = 80, right = 56;
  const height = entries.length * rowHeight + 10;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren();
  const usable = width - left - right;
  entries.forEach(([name, member], index) => {
    const y = 5 + index * rowHeight;
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", "0");
    label.setAttribute("y", String(y + 20));
    label.textContent = name;
    const rect = document.createElementNS(ns, "rect");
    rect.setAttribute("x", String(left));
    rect.setAttribute("y", String(y + 6));
    rect.setAttribute("height", "20");
    rect.setAttribute("width", String(Math.max(1, usable * member.p_human)));
    rect.setAttribute("class", member.label === "HUMAN" ? "human" : "ai");
    const value = document.createElementNS(ns, "text");
    value.setAttribute("x", String(left + usable * member.p_human + 6));
    value.setAttribute("y", String(y + 20));
    value.textContent = `${(member.p_human * 100).toFixed(1)} %`;
    svg.append(label, rect, value);
  });
  const threshold = document.createElementNS(ns, "line");
  threshold.setAttribute("x1", String(left + usable / 2));
  threshold.setAttribute("x2", String(left + usable / 2));
  threshold.setAttribute("y1", "0");
  threshold.setAttribute("y2", String(height));
  threshold.setAttribute("class", "threshold");
  svg.appendChild(threshold);

  const ranking = $("ranking");
  ranking.replaceChildren();
  entries
    .sort((a, b) => b[1].confidence - a[1].confidence)
    .forEach(([name, member]) => {
      const item = document.createElement("li");
      item.textContent = `${name}: ${member.label}, ${member.confidence.toFixed(2)} %`;
      ranking.appendChild(item);
    });
}

function openStats() {
  if (!lastResult) return;
  drawChart(lastResult);
  $("stats").hidden = false;
  $("stats-close").focus();
}

function closeStats() {
  $("stats").hidden = true;
  $("stats-open").focus();
}

const METHOD_NAMES = { majority: "majority vote", soft: "mean probability", stacked: "stacked model" };
const POINT_NAMES = {
  balanced: "balanced",
  fpr5: "≤ 5 % of humans flagged",
  fpr1: "≤ 1 % of humans flagged",
};

function offerMethods(ensemble) {
  const select = $("method");
  select.replaceChildren(...ensemble.methods.map((method) => new Option(METHOD_NAMES[method], method)));
  select.value = ensemble.default;
  select.disabled = false;
  const points = $("point");
  points.replaceChildren(...ensemble.operating_points.map((point) => new Option(POINT_NAMES[point], point)));
  points.value = "balanced";
  points.disabled = false;
}

async function pollReady() {
  try {
    const { response, body } = await exchange("/ready", {}, READY_LIMIT_S);
    if (body.request_timeout_s !== undefined) answerLimitS = body.request_timeout_s + ANSWER_MARGIN_S;
    if (response.ok) {
      const degraded = Object.keys(body.unavailable).length;
      $("status").textContent = degraded
        ? `Ready, degraded: ${Object.keys(body.unavailable).join(", ")} unavailable`
        : `Ready: ${Object.keys(body.members).length} models loaded`;
      $("status").className = `status ${degraded ? "degraded" : "ready"}`;
      offerMethods(body.ensemble);
      return;
    }
    $("status").textContent = body.status === "failed" ? `Models failed to load: ${body.error}` : "Loading models…";
    if (body.status !== "failed") setTimeout(pollReady, 1000);
  } catch (error) {
    $("status").textContent = "Server unreachable or not answering; retrying…";
    setTimeout(pollReady, 2000);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  drawLegend();
  $("text").addEventListener("input", updateCounts);
  $("file").addEventListener("change", () => openDocument($("file").files[0]));
  for (const target of [$("text"), $("drop")]) {
    target.addEventListener("dragover", (event) => {
      if (!event.dataTransfer.types.includes("Files")) return; // dragged text is the text box's own business
      event.preventDefault();
      $("drop").classList.add("over");
    });
    target.addEventListener("dragleave", () => $("drop").classList.remove("over"));
    target.addEventListener("drop", (event) => {
      if (!event.dataTransfer.files.length) return;
      event.preventDefault();
      $("drop").classList.remove("over");
      openDocument(event.dataTransfer.files[0]);
    });
  }
  $("analyze").addEventListener("click", analyze);
  $("clear").addEventListener("click", clearAll);
  $("stats-open").addEventListener("click", openStats);
  $("stats-close").addEventListener("click", closeStats);
  $("stats").addEventListener("click", (event) => { if (event.target === $("stats")) closeStats(); });
  document.addEventListener("keydown", (event) => {
    const modifier = event.ctrlKey || event.metaKey;
    if (modifier && event.key === "Enter") {
      event.preventDefault();
      analyze();
    } else if (modifier && (event.key === "k" || event.key === "K")) {
      event.preventDefault();
      clearAll();
    } else if (event.key === "Escape" && !$("stats").hidden) {
      closeStats();
    }
  });
  updateCounts();
  pollReady();
});
