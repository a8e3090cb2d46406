// `/projects/{id}/members`: members with their roles (change, remove; the API's refusals,
// such as the last-owner rule, shown as it words them), invitations by email with a role
// (the one-time link shown once, to copy), pending invitations (re-issue, revoke).
import { api, el, toast } from "/studio/static/api.js";
import { $, copyable, onSubmit, table, tryIn, when } from "/studio/static/manage.js";

const projectId = $("members-page").dataset.projectId;
const ROLES = ["annotator", "manager", "owner"];
let me = null;

function memberRow(m) {
  const select = el("select", { "aria-label": `Role of ${m.email}`, "data-email": m.email },
    ...ROLES.map((r) => el("option", { value: r, selected: r === m.role }, r)));
  select.addEventListener("change", () => tryIn($("members-error"), async () => {
    await api("PATCH", `/projects/${projectId}/members/${m.userId}`, { role: select.value });
    toast(`${m.email} is now ${select.value}.`, "info");
  }).then(loadMembers));
  const remove = el("button", { type: "button", class: "danger", "aria-label": `Remove ${m.email}`, onclick: () => {
    if (!confirm(`Remove ${m.email} from the project? Their pending links stop working.`)) return;
    tryIn($("members-error"), () => api("DELETE", `/projects/${projectId}/members/${m.userId}`)).then(loadMembers);
  } }, "Remove");
  return el("tr", { "data-member": m.email },
    el("th", { scope: "row" }, m.email, m.userId === me.id ? el("span", { class: "muted" }, " (you)") : null),
    el("td", {}, select), el("td", {}, remove));
}

async function loadMembers() {
  const { items } = await api("GET", `/projects/${projectId}/members`);
  $("members").replaceChildren(table("Members", ["Member", "Role", ""], items.map(memberRow), "member-table"));
}

function pendingRow(inv) {
  return el("li", { "data-invitation": inv.email },
    el("span", { class: "grow" }, el("strong", {}, inv.email), " ", el("span", { class: "badge" }, inv.role)),
    el("span", { class: inv.expired ? "badge custom" : "muted" }, inv.expired ? "expired" : `until ${when(inv.expiresAt)}`),
    el("button", { type: "button", "aria-label": `Re-issue the invitation of ${inv.email}`, onclick: () =>
      tryIn($("pending-error"), async () => {
        const made = await api("POST", `/projects/${projectId}/invitations/${inv.id}/reissue`);
        $("reissued").replaceChildren(el("div", { class: "shown-once", "data-email": made.email },
          el("p", {}, `A new link for ${made.email} (the old one no longer works), shown only now:`),
          copyable(`Invitation link for ${made.email}`, made.invitation.url, "reissued-url")));
        await loadPending();
      }) }, "Re-issue"),
    el("button", { type: "button", class: "danger", "aria-label": `Revoke the invitation of ${inv.email}`, onclick: () =>
      tryIn($("pending-error"), async () => {
        await api("DELETE", `/projects/${projectId}/invitations/${inv.id}`);
        revoked(inv.email);
        await loadPending();
      }) },
    "Revoke"));
}

/** A link still shown for a revoked invitation would be sent in vain: it says so instead. */
function revoked(email) {
  for (const box of document.querySelectorAll(".shown-once[data-email]")) {
    if (box.dataset.email === email) {
      box.replaceWith(el("p", { class: "muted", "data-revoked": email }, `The invitation of ${email} is revoked: its link no longer works.`));
    }
  }
}

async function loadPending() {
  try {
    const { items } = await api("GET", `/projects/${projectId}/invitations`);
    $("pending").replaceChildren(...items.map(pendingRow));
    if (!items.length) $("pending").append(el("li", { class: "muted" }, "No pending invitation."));
  } catch (e) {
    $("pending").replaceChildren(el("li", { class: "muted" }, e.message));
  }
}

async function main() {
  const [project, who] = await Promise.all([api("GET", `/projects/${projectId}`), api("GET", "/users/me")]);
  me = who;
  $("project-name").textContent = project.name;
  document.title = `Members of ${project.name} · Classifier studio`;
  onSubmit($("invite"), async (form) => {
    const email = form.get("email").trim();
    const added = await api("POST", `/projects/${projectId}/members`, { email, role: form.get("role") });
    $("invite").reset();
    $("invite-link").replaceChildren(added.invitation
      ? el("div", { class: "shown-once", "data-email": email }, el("p", {}, `Send this one-time link to ${email} (shown only now; valid until ${when(added.invitation.expiresAt)}):`),
           copyable(`Invitation link for ${email}`, added.invitation.url, "invite-url"))
      : el("p", { class: "muted" }, `${email} has an account: they see the project now.`));
    await Promise.all([loadMembers(), loadPending()]);
    return `${email} added as ${added.role}.`;
  });
  await Promise.all([loadMembers(), loadPending()]);
  $("members-page").dataset.ready = "true";
}

main().catch((e) => toast(e.message));
