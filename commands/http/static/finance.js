// The finance page: a programme as of a date, its municipality × year and programme × year
// tables, charts, and CSV/XLSX downloads. Uses only the JSON API (GL.json) and its exports.
"use strict";

(() => {
  const MONEY = ["awarded_ore", "disbursed_ore", "recovered_ore", "outstanding_ore"];
  const state = { recipientRows: [], sortField: "recipient", sortAscending: true, charts: {} };
  const byId = (id) => document.getElementById(id);

  function asked() {
    return { programme: byId("programme").value, as_of_date: byId("as-of").value || null };
  }

  async function loadProgrammes() {
    const { body } = await GL.json("/v1/balances/programme-year");
    const select = byId("programme");
    const chosen = select.value;
    select.replaceChildren();
    const ids = [...new Set(body.rows.map((row) => row.programme_id))].sort();
    for (const id of ids) select.append(GL.element("option", { value: id }, id));
    if (ids.includes(chosen)) select.value = chosen;
    else if (ids.includes("sfs-2018-151")) select.value = "sfs-2018-151";
  }

  async function show() {
    if (!byId("programme").value) {
      GL.status("No programme in the read store yet (run grant-ledger project).", true);
      return;
    }
    GL.status("Loading…");
    const params = asked();
    const [programmes, recipients, agencies] = await Promise.all([
      GL.json("/v1/balances/programme-year", params),
      GL.json("/v1/balances/recipient-year", params),
      GL.json("/v1/balances/agency-year", params),
    ]);
    byId("position").textContent = `Ledger position ${recipients.position}`;
    renderProgrammeYears(programmes.body.rows);
    state.recipientRows = recipients.body.rows;
    renderRecipientYears();
    renderCharts(programmes.body.rows, agencies.body.rows);
    GL.status(
      `${recipients.body.rows.length} municipality-years` +
        (params.as_of_date ? ` as of ${params.as_of_date}` : " now"),
    );
  }

  function moneyCell(row, field) {
    const value = row[field];
    return GL.element(
      "td",
      { class: value < 0 ? "money negative" : "money", "data-field": field, "data-ore": value },
      GL.sek(value),
    );
  }

  function renderProgrammeYears(rows) {
    const body = byId("programme-years").tBodies[0];
    body.replaceChildren();
    for (const row of rows) {
      const over = row.available_ore < 0;
      const available = moneyCell(row, "available_ore");
      if (over) available.append(GL.element("span", { class: "badge" }, "over-committed"));
      body.append(
        GL.element(
          "tr",
          { class: over ? "over-committed" : null, "data-year": row.year },
          GL.element("td", {}, row.year),
          GL.element("td", {}, row.agency),
          ...["appropriated_ore", "awarded_ore", "disbursed_ore", "recovered_ore"].map((field) =>
            moneyCell(row, field),
          ),
          available,
        ),
      );
    }
  }

  function renderRecipientYears() {
    const needle = byId("filter").value.trim().toLowerCase();
    const { sortField, sortAscending } = state;
    const rows = state.recipientRows
      .filter(
        (row) =>
          !needle ||
          row.recipient.includes(needle) ||
          row.recipient_name.toLowerCase().includes(needle),
      )
      .sort((left, right) => {
        const a = left[sortField];
        const b = right[sortField];
        const order = typeof a === "number" ? a - b : String(a).localeCompare(String(b), "sv");
        return (sortAscending ? order : -order) || left.year - right.year;
      });
    const body = byId("recipient-years").tBodies[0];
    body.replaceChildren();
    for (const row of rows) {
      const trail = GL.element(
        "a",
        { href: `/auditor#recipient=${encodeURIComponent(row.recipient)}`, title: "the trail" },
        row.recipient,
      );
      body.append(
        GL.element(
          "tr",
          { "data-recipient": row.recipient, "data-year": row.year },
          GL.element("td", { class: "code" }, trail),
          GL.element("td", {}, row.recipient_name),
          GL.element("td", {}, row.year),
          ...MONEY.map((field) => moneyCell(row, field)),
        ),
      );
    }
    for (const header of byId("recipient-years").tHead.rows[0].cells) {
      const active = header.dataset.sort === sortField;
      header.setAttribute("aria-sort", active ? (sortAscending ? "ascending" : "descending") : "none");
    }
  }

  function renderCharts(programmeRows, agencyRows) {
    const years = programmeRows.map((row) => String(row.year));
    const kronor = (ore) => ore / 100;
    draw("awarded-chart", {
      type: "bar",
      data: {
        labels: years,
        datasets: [
          { label: "Awarded", data: programmeRows.map((row) => kronor(row.awarded_ore)) },
          { label: "Disbursed", data: programmeRows.map((row) => kronor(row.disbursed_ore)) },
        ],
      },
      options: chartOptions(false),
    });
    const agencyYears = [...new Set(agencyRows.map((row) => String(row.year)))].sort();
    const agencies = [...new Set(agencyRows.map((row) => row.agency))].sort();
    draw("agency-chart", {
      type: "bar",
      data: {
        labels: agencyYears,
        datasets: agencies.map((agency) => ({
          label: agency,
          data: agencyYears.map((year) => {
            const found = agencyRows.find((row) => row.agency === agency && String(row.year) === year);
            return found ? kronor(found.awarded_ore) : 0;
          }),
        })),
      },
      options: chartOptions(true),
    });
  }

  function chartOptions(stacked) {
    return {
      animation: false,
      maintainAspectRatio: false,
      scales: {
        x: { stacked },
        y: { stacked, ticks: { callback: (value) => `${(value / 1e6).toLocaleString("sv-SE")} Mkr` } },
      },
      plugins: {
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${GL.sek(Math.round(item.raw * 100))}` } },
      },
    };
  }

  function draw(id, config) {
    if (state.charts[id]) state.charts[id].destroy();
    state.charts[id] = new Chart(byId(id), config);
  }

  async function guarded(action) {
    try {
      await action();
    } catch (error) {
      GL.status(error.message, true);
    }
  }

  function start() {
    for (const header of byId("recipient-years").tHead.rows[0].cells) {
      header.addEventListener("click", () => {
        const field = header.dataset.sort;
        state.sortAscending = state.sortField === field ? !state.sortAscending : true;
        state.sortField = field;
        renderRecipientYears();
      });
    }
    byId("filter").addEventListener("input", renderRecipientYears);
    byId("show").addEventListener("click", () => guarded(show));
    byId("programme").addEventListener("change", () => guarded(show));
    byId("download-csv").addEventListener("click", () =>
      guarded(() =>
        GL.download("/v1/balances/recipient-year", { ...asked(), format: "csv" }, "recipient-year.csv"),
      ),
    );
    byId("download-xlsx").addEventListener("click", () =>
      guarded(() =>
        GL.download(
          "/v1/balances/workbook",
          { ...asked(), view: ["programme-year", "recipient-year", "agency-year", "county-year"] },
          "grant-ledger-balances.xlsx",
        ),
      ),
    );
    GL.signIn(() => guarded(async () => {
      await loadProgrammes();
      await show();
    }));
  }

  document.addEventListener("DOMContentLoaded", start);
})();
