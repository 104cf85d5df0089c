// Cross-org grants on the command screen (decision 0011): who outside this org sees what of its records, why and
// until when, with a button to end each one. Only the roles that may grant see the card; the server answers the
// others 403, and the card stays hidden.

import { api, ApiError } from "./api.js";
import { el, toast } from "./dom.js";
import { formatTime, t } from "./i18n.js";

export class GrantsPanel {
  constructor({ card, list, none, alerts, incidentNumber }) {
    Object.assign(this, { card, list, none, alerts, incidentNumber });
    this.orgCodes = null;
    this.allowed = true; // until the server says otherwise
  }

  async load() {
    if (!this.allowed) return;
    let grants;
    try {
      grants = await api("/api/grants");
    } catch (error) {
      if (error instanceof ApiError && error.status === 403) {
        this.allowed = false;
        return;
      }
      throw error;
    }
    if (this.orgCodes === null) {
      this.orgCodes = new Map((await api("/api/orgs")).map((org) => [org.id, org.code]));
    }
    this.card.hidden = false;
    this.none.hidden = grants.length > 0;
    this.list.replaceChildren(...grants.map((grant) => this.item(grant)));
  }

  item(grant) {
    const org = (id) => this.orgCodes.get(id) ?? `#${id}`;
    const to = grant.grantee_org_id !== null ? org(grant.grantee_org_id) : t("grants.user", { id: grant.grantee_user_id });
    const what =
      grant.incident_id !== null
        ? t("grants.incident", { number: this.incidentNumber(grant.incident_id) })
        : t("grants.org", { code: org(grant.org_id) });
    return el(
      "li",
      { dataset: { grant: grant.id } },
      el("b", {}, t("grants.line", { to, what })),
      el("span", { className: "reason" }, grant.reason),
      el("span", { className: "until" }, t("grants.until", { time: formatTime(grant.expires_at) })),
      el("button", { type: "button", className: "revoke", onclick: () => this.revoke(grant) }, t("grants.revoke")),
    );
  }

  async revoke(grant) {
    try {
      await api(`/api/grants/${grant.id}/revoke`, { method: "POST" });
    } catch (error) {
      toast(this.alerts, t("common.error", { message: error.message }), { kind: "error" });
    }
    await this.load();
  }
}
