// Signing in before a page starts: who the session cookie belongs to, or else a form — a login and password on the
// command screen, the unit's terminal token on the terminal (traded once for a session, then forgotten).

import { api, ApiError } from "./api.js";
import { el } from "./dom.js";
import { t } from "./i18n.js";

// Resolves with who is signed in (GET /api/auth/me), showing the sign-in form for as long as no one is.
export async function signedIn({ terminal = false } = {}) {
  try {
    return await api("/api/auth/me");
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
  }
  return new Promise((resolve) => document.body.append(form(terminal, resolve)));
}

export async function signOut() {
  await api("/api/auth/sign-out", { method: "POST" }).catch(() => null);
  location.reload();
}

function form(terminal, resolve) {
  const problem = el("p", { className: "problem", role: "alert", hidden: true });
  const fields = terminal
    ? [field("token", "password", t("sign_in.token"), "off")]
    : [field("login", "text", t("sign_in.login"), "username"), field("password", "password", t("sign_in.password"), "current-password")];
  const submit = el("button", { type: "submit" }, t("sign_in.submit"));
  const box = el("form", { className: "card sign-in", id: "sign-in" }, el("h2", {}, t(terminal ? "sign_in.terminal_title" : "sign_in.title")), ...fields, problem, submit);
  box.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    problem.hidden = true;
    try {
      const me = terminal
        ? await api("/api/auth/terminal-sign-in", { method: "POST", headers: { Authorization: `Bearer ${box.token.value.trim()}` } })
        : await api("/api/auth/sign-in", { method: "POST", body: { login: box.login.value, password: box.password.value } });
      box.remove();
      resolve(me);
    } catch (error) {
      problem.textContent = error.status === 401 || error.status === 403 ? t("sign_in.refused") : error.message;
      problem.hidden = false;
      submit.disabled = false;
    }
  });
  return box;
}

function field(name, type, label, autocomplete) {
  return el("label", {}, label, el("input", { name, type, required: true, autocomplete, maxlength: 1024 }));
}
