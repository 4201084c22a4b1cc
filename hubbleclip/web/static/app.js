// hubbleclip sky search page: plain JS against the JSON API (see /docs).  All text from the
// server is inserted with textContent, never as HTML.  The URL holds the view (?q=TEXT, or
// ?similar=ID&selected=ID...), so a view can be bookmarked, shared, reloaded and reached with the
// browser's back and forward buttons.
"use strict";

const $ = (sel) => document.querySelector(sel);
const PAGE = 24;

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

async function api(path, options) {
  const response = await fetch(path, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) throw new Error((body && body.detail) || `${response.status} ${response.statusText}`);
  return body;
}

function imageUrl(id, size) {
  return `/api/images/${encodeURIComponent(id)}?size=${size || "thumb"}`;
}

function setStatus(text, isError) {
  const status = $("#status");
  status.textContent = text;
  status.classList.toggle("error", Boolean(isError));
}

// ---- search ------------------------------------------------------------------------------
function fact(dl, label, value) {
  if (value === null || value === undefined || value === "") return;
  dl.append(el("dt", null, label), el("dd", null, value));
}

function objectCard(obj) {
  const card = el("article", "card");
  card.dataset.objectId = obj.object_id;
  const thumb = el("div", "thumb");
  if (obj.image_id) {
    const img = el("img");
    img.src = imageUrl(obj.image_id);
    img.alt = obj.names[0] || obj.object_id;
    img.loading = "lazy";
    thumb.append(img);
  } else {
    const ph = el("div", "placeholder");
    ph.append(el("span", "glyph", "✦"), el("span", null, "no image in the archive"));
    thumb.append(ph);
  }
  const body = el("div", "body");
  body.append(el("h3", "name", obj.names[0] || obj.object_id));
  if (obj.names.length > 1) body.append(el("p", "aliases", obj.names.slice(1, 4).join(" · ")));
  body.append(el("p", "type", obj.type));
  const dl = el("dl", "facts");
  fact(dl, "RA/Dec", obj.ra_dec.replace(/^RA /, "").replace(", Dec ", "  "));
  fact(dl, "Constellation", obj.constellation);
  fact(dl, "Magnitude", obj.mag === null ? "unknown" : obj.mag.toFixed(2));
  if (obj.separation_arcsec !== null && obj.separation_arcsec !== undefined) {
    fact(dl, "Separation", separationText(obj.separation_arcsec));
  }
  body.append(dl);
  if (obj.credit) body.append(el("p", "credit", `Image: ${obj.credit}`));
  if (obj.image_id) {
    const button = el("button", "similar-button", "Similar images");
    button.type = "button";
    button.addEventListener("click", () => openSimilar(obj.image_id));
    body.append(button);
  }
  card.append(thumb, body);
  return card;
}

function separationText(arcsec) {
  if (arcsec < 60) return `${arcsec.toFixed(1)}″`;
  if (arcsec < 3600) return `${(arcsec / 60).toFixed(1)}′`;
  return `${(arcsec / 3600).toFixed(2)}°`;
}

function showResults(results) {
  const grid = $("#results");
  grid.replaceChildren(...results.map(objectCard));
  $("#intro").hidden = results.length > 0;
}

function plural(n, word) { return `${n} ${word}${n === 1 ? "" : "s"}`; }

// ---- the URL --------------------------------------------------------------------------------
function viewUrl(params) {
  const search = new URLSearchParams();
  if (params.similar) {
    search.set("similar", params.similar);
    for (const id of params.selected || []) search.append("selected", id);
  } else if (params.q) {
    search.set("q", params.q);
  }
  const text = search.toString();
  return text ? `?${text}` : location.pathname;
}

// push: a new history entry (a new view); otherwise the current entry is updated in place
function setUrl(params, push) {
  const url = viewUrl(params);
  if (url === location.search || (url === location.pathname && !location.search)) return;
  const state = { ...params, fromSearch: Boolean(params.fromSearch) };
  if (push) history.pushState(state, "", url); else history.replaceState(state, "", url);
}

function restoreFromUrl() {
  const params = new URLSearchParams(location.search);
  const similar = params.get("similar");
  if (similar) {
    openSimilar(similar, params.getAll("selected"), { fromUrl: true });
  } else if (params.get("q")) {
    $("#q").value = params.get("q");
    searchText(params.get("q"), { fromUrl: true });
  } else {
    showView("search");
  }
}

let lastQuery = "";

async function searchText(query, { fromUrl = false } = {}) {
  lastQuery = query;
  if (!fromUrl) setUrl({ q: query }, true);
  showView("search");
  $("#upload-panel").hidden = true;
  setStatus("Searching…");
  try {
    const data = await api(`/api/search?q=${encodeURIComponent(query)}`);
    showResults(data.results);
    const how = data.note ? ` (${data.note})` : "";
    setStatus(`${plural(data.results.length, "result")} for “${data.query}” in ${data.took_ms.toFixed(1)} ms${how}`);
  } catch (err) {
    setStatus(`Search failed: ${err.message}`, true);
  }
}

let previewUrl = null;

async function searchImage(file) {
  showView("search");
  $("#q").value = "";
  setUrl({}, true);  // an uploaded image cannot live in a URL
  setStatus(`Searching with ${file.name}…`);
  try {
    const data = await api("/api/search/image", {
      method: "POST", body: file, headers: { "Content-Type": file.type || "application/octet-stream" },
    });
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(file);
    $("#upload-preview").src = previewUrl;
    const list = $("#classes");
    const best = Math.max(...data.classes.map((c) => c.probability), 1e-9);
    list.replaceChildren(...data.classes.map((c) => {
      const item = el("li", null, `${c.label} — ${(100 * c.probability).toFixed(1)}%`);
      const bar = el("span", "bar");  // relative to the best class
      bar.style.width = `${Math.max(2, Math.round(120 * c.probability / best))}px`;
      item.append(bar);
      return item;
    }));
    $("#upload-panel").hidden = false;
    showResults(data.results);
    setStatus(`${plural(data.results.length, "result")} for ${file.name} (${data.width}×${data.height}) ` +
              `in ${data.took_ms.toFixed(1)} ms`);
  } catch (err) {
    setStatus(`Image search failed: ${err.message}`, true);
  }
}

// ---- similar images -----------------------------------------------------------------------
const sim = { imageId: null, selected: [], offset: 0, hasMore: false, loading: false, generation: 0 };

function tile(card, { selected = false, cluster = null } = {}) {
  const fig = el("figure", cluster ? "tile cluster" : "tile");
  fig.dataset.imageId = card.image_id;
  fig.classList.toggle("selected", selected);
  const img = el("img");
  img.src = imageUrl(card.image_id);
  img.alt = card.names[0] || card.object_id;
  img.loading = "lazy";
  const cap = el("figcaption");
  cap.append(el("span", "tname", card.names[0] || card.object_id));
  const meta = cluster ? `group of ${cluster.size} · ${card.type}`
    : card.score === null ? card.type : `${card.type} · ${card.score.toFixed(3)}`;
  cap.append(el("span", "tmeta", meta));
  fig.title = `${card.names.slice(0, 3).join(", ")} — ${card.type}\n${card.credit}`;
  fig.append(img, cap);
  return fig;
}

function showView(name) {
  $("#search-view").hidden = name !== "search";
  $("#similar-view").hidden = name !== "similar";
}

async function openSimilar(imageId, selected = [], { fromUrl = false } = {}) {
  sim.imageId = imageId;
  sim.selected = [...selected];
  if (!fromUrl) setUrl({ similar: imageId, selected: sim.selected, fromSearch: true }, true);
  showView("similar");
  window.scrollTo(0, 0);
  $("#clusters").replaceChildren();
  await rerank();
  loadClusters(imageId);
}

async function loadClusters(imageId) {
  try {
    const data = await api("/api/clusters", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ image_id: imageId }),
    });
    if (sim.imageId !== imageId) return;
    $("#clusters").replaceChildren(...data.clusters.map((c) => {
      const fig = tile(c.representative, { cluster: c });
      fig.addEventListener("click", () => {
        sim.selected = [c.representative.image_id, ...c.members];
        rerank();
      });
      return fig;
    }));
  } catch (err) {
    $("#clusters").replaceChildren(el("p", "muted", `No quick-select groups: ${err.message}`));
  }
}

async function fetchPage(offset) {
  return api("/api/similar", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ image_id: sim.imageId, selected: sim.selected, offset, limit: PAGE }),
  });
}

// Re-rank from the top for the current selection; stale answers are dropped.
async function rerank() {
  setUrl({ similar: sim.imageId, selected: sim.selected, fromSearch: history.state && history.state.fromSearch },
         false);
  const generation = ++sim.generation;
  sim.loading = true;
  $("#clear-selection").disabled = sim.selected.length === 0;
  try {
    const data = await fetchPage(0);
    if (generation !== sim.generation) return;
    const q = data.query;
    $("#sim-query-img").src = imageUrl(q.image_id);
    $("#sim-query-img").alt = q.names[0] || q.object_id;
    $("#sim-query-name").textContent = `Images like ${q.names[0] || q.object_id}`;
    $("#sim-query-type").textContent = `${q.type} · ${q.credit}`;
    const grid = $("#sim-grid");
    grid.replaceChildren(...data.selected.map((c) => tile(c, { selected: true })),
                         ...data.results.map((c) => tile(c)));
    sim.offset = data.results.length;
    sim.hasMore = data.has_more;
    $("#sim-status").textContent = (data.ranked_by === "selection"
      ? `${plural(data.selected.length, "selected image")}: ranked by their combination`
      : "ranked by similarity to this image") + ` (${data.took_ms.toFixed(1)} ms)`;
  } catch (err) {
    if (generation === sim.generation) $("#sim-status").textContent = `Failed: ${err.message}`;
  } finally {
    if (generation === sim.generation) sim.loading = false;
  }
  fillScreen();
}

async function loadMore() {
  if (sim.loading || !sim.hasMore || $("#similar-view").hidden) return;
  const generation = sim.generation;
  sim.loading = true;
  try {
    const data = await fetchPage(sim.offset);
    if (generation !== sim.generation) return;
    $("#sim-grid").append(...data.results.map((c) => tile(c)));
    sim.offset += data.results.length;
    sim.hasMore = data.has_more;
  } catch (err) {
    $("#sim-status").textContent = `Failed: ${err.message}`;
  } finally {
    if (generation === sim.generation) sim.loading = false;
  }
  fillScreen();
}

// keep loading while the end of the grid is on screen
function fillScreen() {
  const rect = $("#sentinel").getBoundingClientRect();
  if (rect.top < window.innerHeight + 200) loadMore();
}

function toggle(imageId) {
  const at = sim.selected.indexOf(imageId);
  if (at >= 0) sim.selected.splice(at, 1); else sim.selected.push(imageId);
  rerank();
}

// ---- wiring -------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("#search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = $("#q").value.trim();
    if (query) searchText(query);
  });
  $("#upload").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) searchImage(file);
    event.target.value = "";
  });
  $("#sim-grid").addEventListener("click", (event) => {
    const fig = event.target.closest(".tile");
    if (fig) toggle(fig.dataset.imageId);
  });
  $("#back").addEventListener("click", () => {
    if (history.state && history.state.fromSearch) history.back();  // the search it came from
    else if (lastQuery) searchText(lastQuery);
    else { setUrl({}, true); showView("search"); }
  });
  window.addEventListener("popstate", restoreFromUrl);
  $("#clear-selection").addEventListener("click", () => { sim.selected = []; rerank(); });
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, { rootMargin: "200px" }).observe($("#sentinel"));
  restoreFromUrl();
});
