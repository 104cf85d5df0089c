// The officer terminal (背包警务): a unit's pushed orders with address, narrative and route; acknowledge (签收),
// depart, arrive, feedback, clear. Actions taken without a connection wait in this browser and are sent once when
// it is back (each carries an Idempotency-Key, so a resend after a lost reply is harmless).

import { api, ApiError, newKey } from "./api.js";
import { el, toast } from "./dom.js";
import { installLanguageSwitch, t, translate, typeName } from "./i18n.js";
import { LiveFeed } from "./live.js";
import { createMap, EMPTY, points } from "./map.js";
import { signedIn } from "./session.js";

// The forward steps a terminal offers, and the order state each one leads to.
const NEXT = {
  ordered: ["acknowledge", "acknowledged"],
  acknowledged: ["depart", "en_route"],
  en_route: ["arrive", "on_scene"],
  on_scene: ["clear", "cleared"],
};
const OUTCOMES = ["resolved", "mediated", "case_opened", "referred", "false_alarm", "no_trace"];
const OPEN_ORDER = new Set(Object.keys(NEXT));
// How far an order has come: it only moves forward, and returned or cancelled ends it as clearing does.
const PROGRESS = { ordered: 0, acknowledged: 1, en_route: 2, on_scene: 3, cleared: 4, returned: 4, cancelled: 4 };
const ORDER_TOPICS = new Set(["dispatch.ordered", "dispatch.updated", "dispatch.overdue"]);

const $ = (selector) => document.querySelector(selector);
const alerts = $("#alerts");
translate();
installLanguageSwitch($("#lang"));
// A terminal's session is its unit's; a dispatcher may open any unit's (?unit=), e.g. to take steps given by radio.
const me = await signedIn({ terminal: true });
const unitId = me.unit_id ?? (Number(new URLSearchParams(location.search).get("unit")) || null);
const queueKey = `precinct.terminal.queue.${unitId}`;
const state = { unit: null, orders: new Map(), details: new Map(), types: new Map() };
let map = null;
let framed = null; // the order whose route the map was last fitted to

if (unitId === null) chooseUnit();
else start();

async function chooseUnit() {
  $("#choose").hidden = false;
  const units = await api("/api/units");
  $("#unit-choices").replaceChildren(
    ...units.map((unit) => el("li", {}, el("a", { href: `/terminal?unit=${unit.id}` }, `${unit.call_sign} · ${t(`status.${unit.status}`)}`))),
  );
}

async function start() {
  $("#main").hidden = false;
  $("#send-position").addEventListener("click", sendPosition);
  window.addEventListener("online", flush);
  setInterval(flush, 3000);
  showQueued();
  map = await createMap("map", { dark: false }).catch(() => null);
  new LiveFeed({
    unitId,
    onEvent,
    onStatus: (online) => {
      const live = $("#live");
      live.classList.toggle("off", !online);
      live.textContent = t(online ? "live.online" : "live.offline");
      if (online) flush();
    },
    onReady: load,
  }).start();
}

async function load() {
  const [unit, orders, types] = await Promise.all([
    api(`/api/units/${unitId}`),
    api(`/api/dispatches?unit_id=${unitId}`),
    api("/api/incident-types"),
  ]);
  state.unit = unit;
  for (const type of types) state.types.set(type.code, type);
  $("#call-sign").textContent = unit.call_sign;
  document.title = `${unit.call_sign} · precinct`;
  for (const order of orders) learn(order);
  await Promise.all(orders.map((order) => loadDetails(order)));
  render();
  document.body.dataset.ready = "true";
}

async function loadDetails(order) {
  if (state.details.has(order.incident_id)) return;
  const [incident, route] = await Promise.all([
    api(`/api/incidents/${order.incident_id}`),
    api(`/api/incidents/${order.incident_id}/route?unit_id=${unitId}`).catch(() => null),
  ]);
  state.details.set(order.incident_id, { incident, route });
}

// What the server says of an order, unless the page already knows it further on (state.orders holds only what the
// server said; what the queue will do is laid over it when drawn). An event can come late (a reconnection replays
// the last half minute, and the page never heard what came before it opened), and a reply can be overtaken by the
// event of a later step: taken as they came, they set an order back, hid the feedback form of an officer on scene
// and offered the arrival again. Returns whether the page took it.
function learn(order) {
  const known = state.orders.get(order.id);
  if (known && PROGRESS[order.status] < PROGRESS[known.status]) return false;
  // Events do not carry the feedback, and once filed it stays filed.
  state.orders.set(order.id, { ...known, ...order, feedback_at: order.feedback_at ?? known?.feedback_at ?? null });
  return true;
}

async function onEvent(event) {
  const payload = event.payload;
  if (ORDER_TOPICS.has(event.topic)) {
    const isNew = !state.orders.has(payload.id);
    // Also an order the page did not know: an end it hears of keeps a late "ordered" from bringing the order back.
    if (!learn(payload)) return;
    if (OPEN_ORDER.has(payload.status)) await loadDetails(payload).catch((error) => console.warn(error));
    if (isNew && event.topic === "dispatch.ordered") {
      toast(alerts, t("terminal.new_order"), { kind: "alarm" });
      navigator.vibrate?.(300);
    }
  } else if (event.topic === "unit.moved" || event.topic === "unit.updated") {
    state.unit = { ...state.unit, ...payload };
  } else {
    return;
  }
  render();
}

// --- drawing -----------------------------------------------------------------------------------------------------

// One card per order, redrawn in place. A field that leaves the page loses the keyboard, even when it is put back
// in the same task: cards built anew on each redraw carried the kept feedback form over to the new card, and what
// the officer typed after any event went nowhere (on a phone, the keyboard closed). Nothing that the officer may be
// typing in is taken out of the page while its order is open.
const cards = new Map();

function render() {
  const queue = readQueue();
  const open = [...state.orders.values()].map((order) => withQueued(order, queue)).filter((order) => OPEN_ORDER.has(order.status));
  const openIds = new Set(open.map((order) => order.id));
  for (const [id, card] of cards) {
    if (openIds.has(id)) continue;
    card.remove();
    cards.delete(id);
    feedbackForms.delete(id);
    problems.delete(id);
  }
  const list = $("#orders");
  let following = list.firstElementChild;
  for (const order of open) {
    if (!cards.has(order.id)) {
      // The problem line is there from the start, so that it is announced when its text changes (role="alert").
      const problem = el("p", { className: "problem", role: "alert", hidden: true });
      cards.set(order.id, el("article", { dataset: { order: order.id } }, problem));
    }
    const card = cards.get(order.id);
    drawCard(card, order);
    // Orders keep the place they came in at, so only a new card is inserted; a card already in place never moves.
    if (card === following) following = card.nextElementSibling;
    else list.insertBefore(card, following);
  }
  $("#no-orders").hidden = open.length > 0;
  if (!map) return;
  const first = open[0] && state.details.get(open[0].incident_id);
  map.getSource("route").setData(first?.route ?? EMPTY);
  if (first?.route && framed !== open[0].id) {
    framed = open[0].id;
    const bounds = new maplibregl.LngLatBounds();
    for (const point of first.route.geometry.coordinates) bounds.extend(point);
    map.fitBounds(bounds, { padding: 40, maxZoom: 16, duration: 0 });
  }
  map.getSource("incidents").setData(
    points(open.map((o) => state.details.get(o.incident_id)?.incident).filter(Boolean), (i) => ({
      id: i.id,
      priority: i.priority,
      status: i.status,
      awaiting: false,
      overdue: false,
      selected: true,
    })),
  );
  map.getSource("units").setData(points(state.unit ? [state.unit] : [], (u) => ({ status: u.status, highlight: true })));
}

// The card's text and step button are drawn again; its problem line, and its feedback form while the order wants
// one, stay where they are. A report the server refused is shown again even though one was filed (by another
// device, say): the officer's text is nowhere else.
function drawCard(card, order) {
  const details = state.details.get(order.incident_id);
  const incident = details?.incident;
  const route = details?.route?.properties;
  const next = NEXT[order.status];
  const problem = problems.get(order.id);
  const wantsReport = !order.feedback_at || problem?.feedback;
  const form = order.status === "on_scene" && wantsReport ? feedbackFormFor(order) : null;
  const line = card.querySelector(":scope > .problem");
  const text = problem ? t(problem.feedback ? "terminal.feedback_refused" : "terminal.refused", { message: problem.message }) : "";
  if (line.textContent !== text) line.textContent = text; // the same text again is not announced again
  line.hidden = !problem;
  card.className = `card order ${order.status}`;
  for (const node of [...card.childNodes]) if (node !== form && node !== line) node.remove();
  const summary = [
    el("h2", {}, incident ? `${typeName(state.types.get(incident.type_code))}` : `#${order.incident_id}`),
    el("p", { className: "state" }, t(`status.${order.status}`)),
    incident ? el("p", { className: "number" }, incident.number) : null,
    incident?.address ? el("p", { className: "address" }, incident.address) : null,
    incident?.narrative ? el("p", { className: "narrative" }, incident.narrative) : null,
    route ? el("p", { className: "route" }, t("terminal.route", { min: (route.eta_s / 60).toFixed(1), km: (route.distance_m / 1000).toFixed(1) })) : null,
  ];
  card.prepend(...summary.filter(Boolean));
  if (form && form.parentNode !== card) card.append(form);
  if (next) {
    card.append(
      el(
        "button",
        { type: "button", className: `wide step ${next[0]}`, dataset: { action: next[0] }, onclick: () => step(order, next[0]) },
        t(`terminal.${next[0]}`),
      ),
    );
  }
}

// One form per order, kept across redraws (and kept in the page by drawCard): an event arriving while the officer
// types must neither wipe the report nor take the keyboard from it.
const feedbackForms = new Map();
function feedbackFormFor(order) {
  if (!feedbackForms.has(order.id)) feedbackForms.set(order.id, feedbackForm(order));
  return feedbackForms.get(order.id);
}

function feedbackForm(order) {
  const outcome = el("select", { name: "outcome_code" }, OUTCOMES.map((code) => el("option", { value: code }, t(`outcome.${code}`))));
  const helped = el("input", { name: "people_helped", type: "number", min: 0, value: 0 });
  const casualties = el("input", { name: "casualties", type: "number", min: 0, value: 0 });
  const text = el("textarea", { name: "text", rows: 2, maxlength: 4000 });
  return el(
    "form",
    {
      className: "feedback",
      onsubmit: (event) => {
        event.preventDefault();
        const body = {
          outcome_code: outcome.value,
          people_helped: Number(helped.value) || 0,
          casualties: Number(casualties.value) || 0,
          text: text.value,
        };
        enqueue({ path: `/api/dispatches/${order.id}/feedback`, body, orderId: order.id, feedback: true });
      },
    },
    el("h3", {}, t("terminal.feedback")),
    el("label", {}, t("terminal.outcome"), outcome),
    el("label", {}, t("terminal.people_helped"), helped),
    el("label", {}, t("terminal.casualties"), casualties),
    el("label", {}, t("terminal.feedback_text"), text),
    el("button", { type: "submit", className: "wide" }, t("terminal.send_feedback")),
  );
}

// --- actions and the offline queue ------------------------------------------------------------------------------

function step(order, action) {
  enqueue({ path: `/api/dispatches/${order.id}/${action}`, body: {}, orderId: order.id, action });
}

function readQueue() {
  return JSON.parse(localStorage.getItem(queueKey) || "[]");
}

function writeQueue(queue) {
  localStorage.setItem(queueKey, JSON.stringify(queue));
  showQueued();
}

function enqueue(action) {
  writeQueue([...readQueue(), { ...action, key: newKey(`u${unitId}`) }]);
  problems.delete(action.orderId); // the officer has acted on it: the earlier refusal is past
  render();
  flush();
}

// An order as the queued actions will leave it, shown at once: an officer who acknowledged offline sees it
// acknowledged. Only laid over what the server said, never written into it: an action the server refuses leaves
// the queue, and what it showed goes with it.
function withQueued(order, queue) {
  const shown = { ...order };
  for (const action of queue) {
    if (action.orderId !== order.id) continue;
    if (action.feedback) shown.feedback_at ??= "pending";
    else if (NEXT[shown.status]?.[0] === action.action) shown.status = NEXT[shown.status][1];
  }
  return shown;
}

let flushing = false;
async function flush() {
  if (flushing) return;
  flushing = true;
  let sent = 0;
  try {
    for (let queue = readQueue(); queue.length; queue = readQueue()) {
      const [action] = queue;
      let order = null;
      let refusal = null;
      try {
        order = await api(action.path, { method: "POST", body: action.body, headers: { "Idempotency-Key": action.key } });
      } catch (error) {
        if (!refusedForGood(error)) return; // kept for the next try
        refusal = error;
      }
      writeQueue(readQueue().slice(1)); // done with, taken or refused for good
      if (refusal) await refused(action, refusal);
      else {
        learn(order);
        sent += 1;
      }
    }
  } finally {
    flushing = false;
    if (sent) toast(alerts, t("terminal.sent"));
    render();
  }
}

// A refusal that the same request would meet again (a 4xx). No connection, a server error, a session that ended
// (signing in again lets the action through) or too many requests at once are worth another try.
function refusedForGood(error) {
  return error instanceof ApiError && error.status >= 400 && error.status < 500 && ![401, 408, 429].includes(error.status);
}

// The officer reads the server's reason on the order's card, and the order is fetched again: a step refused as
// illegal means the page had it wrong (a step taken by radio while the live feed was down, say). A refused report
// comes back with what the officer wrote, kept in its form.
const problems = new Map(); // order id → { message, feedback }
async function refused(action, error) {
  const order = await api(`/api/dispatches/${action.orderId}`).catch(() => null);
  if (order) learn(order);
  if (OPEN_ORDER.has(state.orders.get(action.orderId)?.status)) {
    problems.set(action.orderId, { message: error.message, feedback: Boolean(action.feedback) });
  } else {
    toast(alerts, t("terminal.refused", { message: error.message }), { kind: "alarm" });
  }
}

function showQueued() {
  const count = readQueue().length;
  const queued = $("#queued");
  queued.hidden = count === 0;
  queued.textContent = t("terminal.queued", { count });
}

// --- position ----------------------------------------------------------------------------------------------------

function sendPosition() {
  if (!navigator.geolocation) return;
  navigator.geolocation.getCurrentPosition(
    async (position) => {
      try {
        state.unit = await api(`/api/units/${unitId}/position`, {
          method: "PUT",
          body: { lon: position.coords.longitude, lat: position.coords.latitude },
        });
        toast(alerts, t("terminal.position_sent"));
        render();
      } catch (error) {
        toast(alerts, t("common.error", { message: error.message }), { kind: "alarm" });
      }
    },
    (error) => toast(alerts, t("common.error", { message: error.message }), { kind: "alarm" }),
    { enableHighAccuracy: true, timeout: 10_000 },
  );
}
