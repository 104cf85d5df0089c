// The command screen (一屏研判): every open incident, unit and grid on one map, the queue, the incident panel with
// its ranked units and one-click dispatch, and the live numbers, all kept current by the live feed.

import { api, newKey } from "./api.js";
import { ageText, el, toast } from "./dom.js";
import { installLanguageSwitch, t, translate, typeName } from "./i18n.js";
import { LiveFeed } from "./live.js";
import { GrantsPanel } from "./grants.js";
import { createMap, EMPTY, hoverLabels, points } from "./map.js";
import { panelContent } from "./panel.js";
import { signedIn, signOut } from "./session.js";

const OPEN_INCIDENT = ["received", "dispatched", "en_route", "on_scene", "cleared"];
const OPEN_ORDER = new Set(["ordered", "acknowledged", "en_route", "on_scene"]);
const UNIT_STATES = ["available", "assigned", "en_route", "on_scene", "returning", "off_duty"];

const state = {
  types: new Map(),
  incidents: new Map(),
  units: new Map(),
  orders: new Map(),
  selected: null,
  kpi: null,
};
// What the panel reads of the page, and the page's actions it offers (panel.js).
const panelPage = { types: state.types, units: state.units, drawRoute, dispatch, act };
const $ = (selector) => document.querySelector(selector);
const alerts = $("#alerts");
let callKey = newKey("call");

translate();
installLanguageSwitch($("#lang"));
const me = await signedIn();
$("#lang").before(el("button", { id: "sign-out", type: "button", onclick: signOut }, `${me.display_name} · ${t("sign_in.out")}`));
const map = await createMap("map");
const chart = echarts.init($("#priority-chart"), null, { renderer: "svg" });
hoverLabels(map, "incidents", (p) => `${p.number} · ${p.type}`);
hoverLabels(map, "units", (p) => `${p.call_sign} · ${t(`status.${p.status}`)}`);
map.on("click", "incidents", (event) => select(event.features[0].properties.id));
map.on("click", (event) => {
  if (map.queryRenderedFeatures(event.point, { layers: ["incidents", "units"] }).length) return;
  const form = $("#call-form");
  form.lon.value = event.lngLat.lng.toFixed(6);
  form.lat.value = event.lngLat.lat.toFixed(6);
});
installForm();
installKeys();

const grants = new GrantsPanel({
  card: $("#grants-card"),
  list: $("#grants"),
  none: $("#grants-none"),
  alerts,
  incidentNumber: (id) => state.incidents.get(id)?.number ?? `#${id}`,
});

new LiveFeed({ onEvent, onStatus: showLive, onReady: loadAll }).start();
setInterval(tick, 1000);
setInterval(loadKpi, 30_000);
setInterval(() => grants.load(), 30_000); // a grant runs out by the clock, and others give them too

// --- loading and the live feed ----------------------------------------------------------------------------------

async function loadAll() {
  const statuses = OPEN_INCIDENT.map((s) => `status=${s}`).join("&");
  const [types, incidents, units, orders] = await Promise.all([
    api("/api/incident-types"),
    api(`/api/incidents?${statuses}&limit=1000`),
    api("/api/units"),
    api("/api/dispatches"),
  ]);
  for (const type of types) state.types.set(type.code, type);
  fillTypeChoices(types);
  for (const incident of incidents) state.incidents.set(incident.id, incident);
  for (const unit of units) state.units.set(unit.id, unit);
  for (const order of orders) state.orders.set(order.id, { ...order, overdue: order.overdue_at !== null });
  await Promise.all([loadKpi(), grants.load()]);
  render();
  document.body.dataset.ready = "true";
}

function onEvent(event) {
  const payload = event.payload;
  switch (event.topic) {
    case "incident.created":
      upsertIncident(payload);
      toast(alerts, t("alert.new", { number: payload.number }), { onClick: () => select(payload.id) });
      break;
    case "incident.updated":
      upsertIncident(payload);
      break;
    case "dispatch.ordered":
    case "dispatch.updated":
    case "dispatch.overdue":
      upsertOrder(payload);
      if (payload.incident) upsertIncident(payload.incident);
      if (event.topic === "dispatch.overdue") alertOverdue(payload);
      if (payload.status === "on_scene") setTimeout(loadKpi, 500);
      if (event.topic === "dispatch.ordered") grants.load(); // a unit sent to help opens the incident to its station
      break;
    case "unit.moved":
    case "unit.updated":
      upsertUnit(payload);
      scheduleRender(false); // a unit's move or duty changes nothing in the queue or the incident panel
      return;
    default:
      return;
  }
  const incidentId = payload.incident_id ?? payload.id;
  if (state.selected !== null && incidentId === state.selected) schedulePanel();
  scheduleRender();
}

function upsertIncident(summary) {
  if (!OPEN_INCIDENT.includes(summary.status)) {
    state.incidents.delete(summary.id);
    if (state.selected === summary.id) schedulePanel();
    return;
  }
  state.incidents.set(summary.id, { ...(state.incidents.get(summary.id) ?? {}), ...summary });
}

function upsertOrder(summary) {
  const known = state.orders.get(summary.id) ?? {};
  const order = { ...known, ...summary, overdue: Boolean(summary.overdue || known.overdue) };
  if (OPEN_ORDER.has(order.status)) state.orders.set(order.id, order);
  else state.orders.delete(order.id);
  const unit = state.units.get(summary.unit_id);
  if (unit && summary.unit_status && unit.status !== "off_duty") unit.status = summary.unit_status;
}

function upsertUnit(summary) {
  state.units.set(summary.unit_id, { ...state.units.get(summary.unit_id), ...summary, id: summary.unit_id });
}

function alertOverdue(payload) {
  const unit = state.units.get(payload.unit_id);
  const text = t("alert.overdue", {
    call_sign: unit?.call_sign ?? payload.unit_id,
    number: payload.incident?.number ?? payload.incident_id,
    waited: payload.waited_s,
  });
  toast(alerts, text, { sticky: true, kind: "alarm", onClick: () => select(payload.incident_id) });
}

async function loadKpi() {
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  const tomorrow = new Date(midnight.getTime() + 86_400_000);
  try {
    state.kpi = await api(`/api/kpi?from=${encodeURIComponent(midnight.toISOString())}&to=${encodeURIComponent(tomorrow.toISOString())}`);
  } catch (error) {
    console.warn("kpi", error);
  }
  scheduleRender();
}

function showLive(online) {
  const live = $("#live");
  live.classList.toggle("off", !online);
  live.textContent = t(online ? "live.online" : "live.offline");
}

// --- drawing -----------------------------------------------------------------------------------------------------

// At most one redraw a frame; the queue, the incidents and the numbers only when something besides units changed.
let renderQueued = false;
let incidentsChanged = false;
function scheduleRender(incidents = true) {
  incidentsChanged ||= incidents;
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render(incidentsChanged);
    incidentsChanged = false;
  });
}

function overdueIncidents() {
  const ids = new Set();
  for (const order of state.orders.values()) if (order.overdue && order.status === "ordered") ids.add(order.incident_id);
  return ids;
}

function sortedIncidents() {
  return [...state.incidents.values()].sort(
    (a, b) => a.priority - b.priority || new Date(a.called_at) - new Date(b.called_at),
  );
}

function render(incidentsChanged = true) {
  renderUnits();
  if (!incidentsChanged) return;
  const overdue = overdueIncidents();
  const incidents = sortedIncidents();
  renderQueue(incidents, overdue);
  renderNumbers(incidents, overdue);
  map.getSource("incidents").setData(
    points(incidents, (i) => ({
      id: i.id,
      number: i.number,
      priority: i.priority,
      status: i.status,
      type: typeName(state.types.get(i.type_code)),
      awaiting: i.status === "received",
      overdue: overdue.has(i.id),
      selected: i.id === state.selected,
    })),
  );
}

function renderQueue(incidents, overdue) {
  const rows = incidents.map((incident) =>
    el(
      "tr",
      {
        dataset: { id: incident.id, calledAt: incident.called_at },
        className: [
          incident.id === state.selected ? "selected" : "",
          overdue.has(incident.id) ? "overdue" : "",
          incident.status === "received" ? "awaiting" : "",
        ].join(" "),
        onclick: () => select(incident.id),
      },
      el("td", {}, el("span", { className: `priority p${incident.priority}` }, incident.priority)),
      el("td", { className: "number" }, incident.number),
      el("td", {}, typeName(state.types.get(incident.type_code))),
      el("td", {}, t(`status.${incident.status}`)),
      el("td", { className: "age" }, ageText(incident.called_at)),
    ),
  );
  $("#queue").replaceChildren(...rows);
  $("#queue-empty").hidden = rows.length > 0;
}

function renderNumbers(incidents, overdue) {
  const awaiting = incidents.filter((i) => i.status === "received").length;
  $("#n-open").textContent = incidents.length;
  $("#n-awaiting").textContent = awaiting;
  $("#n-overdue").textContent = overdue.size;
  $("#n-overdue").parentElement.classList.toggle("alarm", overdue.size > 0);
  const share = state.kpi?.response?.within_target_share;
  $("#n-arrival").textContent = share === null || share === undefined ? "–" : `${Math.round(share * 100)}%`;
  const byPriority = [1, 2, 3, 4].map((p) => incidents.filter((i) => i.priority === p).length);
  chart.setOption({
    animation: false,
    grid: { left: 2, right: 2, top: 2, bottom: 14 },
    xAxis: { type: "category", data: ["1", "2", "3", "4"], axisLabel: { color: "#94a3b8", fontSize: 9 }, axisTick: { show: false } },
    yAxis: { type: "value", show: false },
    series: [{
      type: "bar",
      data: byPriority.map((value, i) => ({ value, itemStyle: { color: ["#ef4444", "#f97316", "#eab308", "#38bdf8"][i] } })),
      barWidth: "60%",
    }],
  });
}

function renderUnits() {
  const units = [...state.units.values()].sort((a, b) => a.call_sign.localeCompare(b.call_sign));
  const free = units.filter((u) => u.on_duty && u.status === "available").length;
  $("#n-units").textContent = `${free}/${units.length}`;
  map.getSource("units").setData(
    points(units, (u) => ({ id: u.id, call_sign: u.call_sign, status: u.status, highlight: false })),
  );
  const counts = new Map(UNIT_STATES.map((s) => [s, 0]));
  for (const unit of units) counts.set(unit.status, (counts.get(unit.status) ?? 0) + 1);
  $("#unit-counts").replaceChildren(
    ...UNIT_STATES.map((s) => el("span", { className: `chip ${s}` }, `${t(`status.${s}`)} ${counts.get(s)}`)),
  );
  $("#units").replaceChildren(
    ...units.map((unit) =>
      el(
        "li",
        {
          className: unit.status,
          dataset: { id: unit.id },
          onclick: () => unit.lon !== null && map.flyTo({ center: [unit.lon, unit.lat], zoom: 15 }),
        },
        el("span", { className: "call-sign" }, unit.call_sign),
        el("span", { className: "state" }, t(`status.${unit.status}`)),
      ),
    ),
  );
}

function tick() {
  const now = Date.now();
  for (const row of document.querySelectorAll("#queue tr")) {
    row.querySelector(".age").textContent = ageText(row.dataset.calledAt, now);
  }
}

// --- the incident panel ------------------------------------------------------------------------------------------

function select(id) {
  state.selected = id;
  scheduleRender();
  loadPanel();
}

let panelTimer = null;
function schedulePanel() {
  clearTimeout(panelTimer);
  panelTimer = setTimeout(loadPanel, 150);
}

async function loadPanel() {
  const id = state.selected;
  const body = $("#panel-body");
  if (id === null) {
    body.hidden = true;
    $("#panel-none").hidden = false;
    map.getSource("route").setData(EMPTY);
    return;
  }
  const history = await api(`/api/incidents/${id}/history`);
  const incident = history.incident;
  const canDispatch = incident.allowed_actions.includes("dispatch");
  const [ranked, duplicates] = await Promise.all([
    canDispatch ? api(`/api/incidents/${id}/recommendations`).catch((error) => ({ error })) : null,
    incident.status === "received" ? api(`/api/incidents/${id}/duplicates`).catch(() => []) : [],
  ]);
  if (state.selected !== id) return;
  body.replaceChildren(...panelContent(history, ranked, duplicates, panelPage));
  body.hidden = false;
  $("#panel-none").hidden = true;
  const routeUnit = history.dispatches.find((d) => OPEN_ORDER.has(d.status))?.unit_id ?? ranked?.units?.[0]?.unit_id;
  drawRoute(id, routeUnit);
}

async function drawRoute(incidentId, unitId) {
  if (unitId === undefined || unitId === null) {
    map.getSource("route").setData(EMPTY);
    return;
  }
  try {
    const route = await api(`/api/incidents/${incidentId}/route?unit_id=${unitId}`);
    if (state.selected === incidentId) map.getSource("route").setData(route);
  } catch {
    map.getSource("route").setData(EMPTY);
  }
}

async function dispatch(incidentId, unitId, button) {
  button.disabled = true;
  await act(api(`/api/incidents/${incidentId}/dispatches`, { method: "POST", body: { unit_id: unitId } }));
  button.disabled = false;
}

async function act(request) {
  try {
    await request;
  } catch (error) {
    toast(alerts, t("common.error", { message: error.message }), { kind: "alarm" });
  }
  schedulePanel();
}

// --- taking a call -------------------------------------------------------------------------------------------------

function fillTypeChoices(types) {
  const select = $("#f-type");
  const choices = types
    .filter((type) => type.priority !== null)
    .map((type) =>
      el("option", { value: type.code }, `${type.code} ${typeName(type)} (${type.priority})`),
    );
  select.replaceChildren(el("option", { value: "" }, "—"), ...choices);
}

function installForm() {
  const form = $("#call-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const message = $("#form-message");
    const data = Object.fromEntries(new FormData(form));
    const body = { type_code: data.type_code, source: data.source, lon: Number(data.lon), lat: Number(data.lat) };
    for (const name of ["address", "narrative", "caller_name", "caller_phone"]) if (data[name]) body[name] = data[name];
    try {
      const created = await api("/api/incidents", { method: "POST", body, headers: { "Idempotency-Key": callKey } });
      callKey = newKey("call");
      message.textContent = t("form.created", { number: created.number });
      message.className = "message ok";
      for (const name of ["address", "lon", "lat", "narrative", "caller_name", "caller_phone"]) form[name].value = "";
      form.type_code.value = "";
      upsertIncident(created);
      select(created.id);
      form.type_code.focus();
    } catch (error) {
      message.textContent = t("common.error", { message: error.message });
      message.className = "message error";
    }
  });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

function installKeys() {
  document.addEventListener("keydown", (event) => {
    if (event.altKey && event.key.toLowerCase() === "n") {
      event.preventDefault();
      $("#f-type").focus();
    } else if (event.key === "Escape") {
      select(null);
    }
  });
  $("#queue").addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    event.preventDefault();
    const ids = sortedIncidents().map((i) => i.id);
    const at = ids.indexOf(state.selected);
    const next = event.key === "ArrowDown" ? Math.min(at + 1, ids.length - 1) : Math.max(at - 1, 0);
    if (ids.length) select(ids[next]);
  });
}
