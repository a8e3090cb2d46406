// `/account`: the user's API tokens (create with scopes and an optional expiry: the secret
// shown once; revoke) and signing out of every browser session.
import { api, el, toast } from "/studio/static/api.js";
import { $, copyable, onSubmit, table, tryIn, when } from "/studio/static/manage.js";

function row(t) {
  const state = t.revokedAt ? `revoked ${when(t.revokedAt)}` : t.expiresAt ? `until ${when(t.expiresAt)}` : "active";
  return el("tr", { "data-token": t.name },
    el("th", { scope: "row" }, t.name), el("td", {}, t.scopes.join(" + ")), el("td", {}, when(t.createdAt)),
    el("td", {}, state),
    el("td", {}, t.revokedAt ? null : el("button", { type: "button", class: "danger", "aria-label": `Revoke ${t.name}`,
      onclick: () => tryIn($("tokens-error"), () => api("DELETE", `/users/me/tokens/${t.id}`)).then(load) }, "Revoke")));
}

async function load() {
  const { items } = await api("GET", "/users/me/tokens");
  $("tokens").replaceChildren(items.length ? table("Your API tokens", ["Name", "Scopes", "Created", "State", ""], items.map(row), "token-table")
    : el("p", { class: "muted" }, "No token yet."));
}

async function main() {
  onSubmit($("new-token"), async (form) => {
    const body = { name: form.get("name").trim(), scopes: form.get("scopes").split(" ") };
    if (form.get("expiresAt")) body.expiresAt = new Date(form.get("expiresAt")).toISOString();
    const made = await api("POST", "/users/me/tokens", body);
    $("new-token").reset();
    $("secret").replaceChildren(el("div", { class: "shown-once", role: "status" },
      el("p", {}, `The secret of “${made.name}” (${made.scopes.join(" + ")}), shown only now: copy it.`),
      copyable(`Secret of ${made.name}`, made.token, "token-secret")));
    await load();
  });
  $("sign-out-everywhere").onclick = () => tryIn($("sessions-error"), async () => {
    if (!confirm("End every browser session of your account, this one too?")) return;
    await api("DELETE", "/users/me/sessions");
    location.assign("/sign-in");
  });
  await load();
  $("account-page").dataset.ready = "true";
}

main().catch((e) => toast(e.message));
