// The incident panel of the command screen: what one incident is, the orders sent to it, the units to send (with
// why each is ranked where it is), probable duplicates to merge, closing, and its timeline, built from what the
// server answered. The page gives the data it holds and its actions: `page` is { types, units, drawRoute,
// dispatch, act }, where `act(request)` reports a failed request and reloads the panel.

import { api } from "./api.js";
import { el } from "./dom.js";
import { capabilityName, formatTime, t, typeName } from "./i18n.js";

// The panel's contents, in order; an empty string where a part has nothing to show.
export function panelContent(history, ranked, duplicates, page) {
  const incident = history.incident;
  return [
    incidentSummary(incident, page),
    ordersList(history.dispatches, page),
    ranked ? unitsList(incident, ranked, page) : "",
    duplicates.length ? duplicatesList(incident, duplicates, page) : "",
    closeControl(incident, page),
    timeline(history.events),
  ];
}

function incidentSummary(incident, page) {
  const type = page.types.get(incident.type_code);
  return el(
    "div",
    { className: "summary" },
    el("h3", {}, el("span", { className: `priority p${incident.priority}` }, incident.priority), ` ${incident.number}`),
    el("p", {}, `${typeName(type)} · ${t(`status.${incident.status}`)} · ${formatTime(incident.called_at)}`),
    incident.address ? el("p", {}, incident.address) : "",
    incident.narrative ? el("p", { className: "narrative" }, incident.narrative) : "",
    incident.caller_name || incident.caller_phone
      ? el("p", { className: "caller" }, [incident.caller_name, incident.caller_phone].filter(Boolean).join(" · "))
      : "",
  );
}

function ordersList(orders, page) {
  if (!orders.length) return "";
  return el(
    "div",
    {},
    el("h4", {}, t("panel.orders")),
    el(
      "ul",
      { className: "orders" },
      orders.map((order) =>
        el(
          "li",
          { className: `${order.status} ${order.overdue_at && order.status === "ordered" ? "overdue" : ""}` },
          `${page.units.get(order.unit_id)?.call_sign ?? order.unit_id} · ${t(`status.${order.status}`)}`,
        ),
      ),
    ),
  );
}

function unitsList(incident, ranked, page) {
  if (ranked.error) return el("p", { className: "message" }, t("common.error", { message: ranked.error.message }));
  return el(
    "div",
    {},
    el("h4", {}, t("panel.units")),
    ranked.units.length ? "" : el("p", { className: "hint" }, t("panel.no_units")),
    el(
      "ol",
      { className: "ranked" },
      ranked.units.map((unit, index) =>
        el(
          "li",
          { onmouseenter: () => page.drawRoute(incident.id, unit.unit_id) },
          el(
            "div",
            {},
            el("b", {}, unit.call_sign),
            " ",
            t("panel.eta", { min: (unit.eta_s / 60).toFixed(1), km: (unit.distance_m / 1000).toFixed(1) }),
            el("small", { className: "reasons" }, unit.explanations.filter((r) => r.code !== "eta").map(explain).join("；")),
          ),
          el(
            "button",
            {
              type: "button",
              className: "dispatch",
              dataset: { unit: unit.unit_id },
              accesskey: index === 0 ? "d" : undefined,
              onclick: (event) => page.dispatch(incident.id, unit.unit_id, event.currentTarget),
            },
            t("panel.dispatch"),
          ),
        ),
      ),
    ),
  );
}

// A ranking reason in the page's language (the ETA itself is already on the line).
function explain(reason) {
  const values = Object.fromEntries(
    Object.entries(reason.values).map(([name, value]) => [name, typeof value === "number" ? Math.round(value * 10) / 10 : value]),
  );
  if (values.capability) values.capability = values.capability.split(" or ").map(capabilityName).join(" / ");
  return t(`reason.${reason.code}`, values);
}

function duplicatesList(incident, duplicates, page) {
  return el(
    "div",
    {},
    el("h4", {}, t("panel.duplicates")),
    el(
      "ul",
      { className: "duplicates" },
      duplicates.map((d) =>
        el(
          "li",
          {},
          `${d.number} · ${Math.round(d.distance_m)} m · ${Math.round(d.seconds_apart / 60)} min `,
          el(
            "button",
            {
              type: "button",
              className: "merge",
              onclick: () => page.act(api(`/api/incidents/${incident.id}/merge`, { method: "POST", body: { into_incident_id: d.incident_id } })),
            },
            t("panel.merge"),
          ),
        ),
      ),
    ),
  );
}

function closeControl(incident, page) {
  if (!incident.allowed_actions.includes("close")) return "";
  const reason = el("input", { placeholder: t("panel.close_reason"), maxlength: 500 });
  return el(
    "div",
    { className: "close" },
    reason,
    el(
      "button",
      {
        type: "button",
        onclick: () =>
          page.act(api(`/api/incidents/${incident.id}/close`, { method: "POST", body: { reason: reason.value || t("panel.close") } })),
      },
      t("panel.close"),
    ),
  );
}

function timeline(events) {
  return el(
    "div",
    {},
    el("h4", {}, t("panel.timeline")),
    el(
      "ol",
      { className: "timeline" },
      events.map((event) =>
        el("li", {}, el("time", {}, formatTime(event.at)), ` ${t(`event.${event.kind}`)} · ${event.actor}`),
      ),
    ),
  );
}
