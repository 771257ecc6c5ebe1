// The auditor's page: the chain's status, and a grant's trail (every event with its dates,
// actor, agency, position and hash) reached from the recipients' table. JSON API only.
"use strict";

(() => {
  const byId = (id) => document.getElementById(id);
  const short = (hash) => (hash ? `${hash.slice(0, 12)}…` : "–");

  async function loadChain() {
    const { body } = await GL.json("/v1/chain");
    byId("store-head").textContent =
      `position ${body.store_head.position}, hash ${short(body.store_head.hash)}`;
    byId("store-head").title = body.store_head.hash || "";
    const checkpoint = body.last_checkpoint;
    byId("checkpoint").textContent = checkpoint
      ? `position ${checkpoint.position}, hash ${short(checkpoint.hash)} (${checkpoint.source})`
      : "none yet";
    const verdict = byId("verified");
    verdict.textContent =
      body.verified === true ? "verified" : body.verified === false ? "NOT verified" : "unknown";
    verdict.className = `verdict ${body.verified === true ? "ok" : body.verified === false ? "bad" : "unknown"}`;
    byId("explanation").textContent = body.explanation;
    byId("balances-position").textContent = `ledger position ${body.balances_position}`;
    byId("chain-note").textContent = body.note;
  }

  async function loadProgrammes() {
    const { body } = await GL.json("/v1/balances/programme-year");
    const select = byId("programme");
    const ids = [...new Set(body.rows.map((row) => row.programme_id))].sort();
    select.replaceChildren(...ids.map((id) => GL.element("option", { value: id }, id)));
    if (ids.includes("sfs-2018-151")) select.value = "sfs-2018-151";
  }

  async function loadRecipients() {
    if (!byId("programme").value) return;
    const { body } = await GL.json("/v1/balances/recipient-year", { programme: byId("programme").value });
    const totals = new Map();
    for (const row of body.rows) {
      const total = totals.get(row.recipient) || { ...row, awarded_ore: 0, disbursed_ore: 0, recovered_ore: 0 };
      total.awarded_ore += row.awarded_ore;
      total.disbursed_ore += row.disbursed_ore;
      total.recovered_ore += row.recovered_ore;
      totals.set(row.recipient, total);
    }
    const tbody = byId("recipients").tBodies[0];
    tbody.replaceChildren();
    for (const row of [...totals.values()].sort((a, b) => a.recipient.localeCompare(b.recipient))) {
      const open = GL.element("button", { type: "button", "data-recipient": row.recipient }, "trail");
      open.addEventListener("click", () => guarded(() => showRecipient(row.recipient)));
      tbody.append(
        GL.element(
          "tr",
          { "data-recipient": row.recipient },
          GL.element("td", { class: "code" }, row.recipient),
          GL.element("td", {}, row.recipient_name),
          ...["awarded_ore", "disbursed_ore", "recovered_ore"].map((field) =>
            GL.element("td", { class: "money" }, GL.sek(row[field])),
          ),
          GL.element("td", {}, open),
        ),
      );
    }
  }

  async function showRecipient(code) {
    const { body } = await GL.json(`/v1/recipients/${encodeURIComponent(code)}/history`);
    const groups = new Map();
    for (const event of body) {
      const key = event.data.application_id || "(programme)";
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(event);
    }
    byId("trail-title").textContent = `Trail of recipient ${code}`;
    renderTrail(groups);
    byId("trail").scrollIntoView();
  }

  async function showApplication(id) {
    const { body } = await GL.json(`/v1/applications/${encodeURIComponent(id)}/history`);
    byId("trail-title").textContent = `Trail of grant ${id}`;
    renderTrail(new Map([[id, body]]));
  }

  function amounts(data) {
    if (data.amounts_ore) {
      return Object.entries(data.amounts_ore).map(([year, ore]) => `${year}: ${GL.sek(ore)}`).join("; ");
    }
    for (const field of ["amount_ore", "change_ore"]) {
      if (field in data) return `${data.year}: ${GL.sek(data[field])}`;
    }
    return "";
  }

  function renderTrail(groups) {
    const holder = byId("trail-groups");
    holder.replaceChildren();
    for (const [application, events] of groups) {
      const rows = events.map((event) =>
        GL.element(
          "tr",
          { "data-position": event.position },
          GL.element("td", {}, event.position),
          GL.element("td", {}, event.type),
          GL.element("td", {}, event.effective_date),
          GL.element("td", {}, event.recorded_at),
          GL.element("td", { class: "actor" }, event.actor),
          GL.element("td", {}, event.agency),
          GL.element("td", { class: "money" }, amounts(event.data)),
          GL.element("td", { class: "hash", title: event.hash }, short(event.hash)),
          GL.element("td", { class: "hash", title: event.prev_hash }, short(event.prev_hash)),
        ),
      );
      holder.append(
        GL.element("h3", {}, application),
        GL.element(
          "table",
          { class: "trail", "data-application": application },
          GL.element(
            "thead",
            {},
            GL.element(
              "tr",
              {},
              ...["Position", "Event", "Effective", "Recorded", "Actor", "Agency", "Amounts", "Hash", "Previous hash"].map(
                (title) => GL.element("th", {}, title),
              ),
            ),
          ),
          GL.element("tbody", {}, ...rows),
        ),
      );
    }
  }

  async function guarded(action) {
    try {
      await action();
      GL.status("");
    } catch (error) {
      GL.status(error.message, true);
    }
  }

  function fromAddress() {
    const wanted = new URLSearchParams(window.location.hash.slice(1)).get("recipient");
    if (wanted) return showRecipient(wanted);
    return null;
  }

  function start() {
    byId("programme").addEventListener("change", () => guarded(loadRecipients));
    byId("open-application").addEventListener("click", () =>
      guarded(() => showApplication(byId("application").value.trim())),
    );
    window.addEventListener("hashchange", () => guarded(fromAddress));
    GL.signIn(() =>
      guarded(async () => {
        await loadChain();
        await loadProgrammes();
        await loadRecipients();
        await fromAddress();
      }),
    );
  }

  document.addEventListener("DOMContentLoaded", start);
})();
