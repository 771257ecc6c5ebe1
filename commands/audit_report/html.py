"""The audit report as one self-contained HTML file: inline CSS and SVG, no scripts, no requests.

Every amount is shown in kronor and carries its exact öre in `data-ore`; rows carry their keys
(`data-year`, `data-recipient`), so a reader (or a test in a browser) can hold the figures
against `balances`. Prints to A4 from any browser.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from html import escape
from typing import Final

from commands.audit_report.svg import Series, grouped_bars, horizontal_bars
from ledger.domain.recorded import format_utc
from projections.application.audit_report import ReportData
from projections.domain.findings import Finding, FindingKind
from projections.domain.rows import ProgrammeYearRow, RecipientYearRow
from schemas.money import format_sek
from schemas.recipients import recipient_name

MAX_LISTED_FINDINGS: Final = 25
COLOURS: Final = {
    "appropriated": "#8da0cb",
    "awarded": "#1b6fa8",
    "disbursed": "#2ca25f",
    "recovered": "#e6550d",
    "available": "#756bb1",
}
CSS: Final = """
@page { size: A4; margin: 14mm 12mm; }
body { font: 10.5pt/1.4 "DejaVu Sans", Helvetica, Arial, sans-serif; color: #1a1a1a;
       max-width: 190mm; margin: 0 auto; padding: 8px; }
h1 { font-size: 18pt; margin: 0 0 2px; } h2 { font-size: 13pt; margin: 18px 0 6px;
     border-bottom: 2px solid #1b6fa8; padding-bottom: 2px; break-after: avoid; }
h3 { font-size: 11pt; margin: 12px 0 4px; break-after: avoid; }
.meta { color: #555; margin: 0 0 10px; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 10px; font-size: 9pt; }
th, td { border-bottom: 1px solid #ddd; padding: 2px 5px; text-align: left; vertical-align: top; }
th { background: #f0f4f8; } tr { break-inside: avoid; }
td.money, th.money { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.negative { color: #b00020; font-weight: bold; }
.status { padding: 8px 12px; border-radius: 4px; margin: 6px 0; border: 2px solid; }
.status.ok { background: #eaf6ee; border-color: #2ca25f; }
.status.failed { background: #fdecea; border-color: #b00020; color: #7a0015; font-size: 12pt; }
.status.unverified { background: #fff8e1; border-color: #e6a100; }
.hash { font-family: "DejaVu Sans Mono", monospace; font-size: 8.5pt; word-break: break-all; }
.none { color: #2c6e3f; } .count { color: #555; font-weight: normal; }
svg { display: block; margin: 4px 0 8px; max-width: 100%; height: auto; }
svg .grid { stroke: #e3e3e3; } svg .zero { stroke: #333; }
svg text { font: 9px "DejaVu Sans", Helvetica, Arial, sans-serif; fill: #333; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; margin: 4px 0; }
dt { font-weight: bold; } dd { margin: 0; }
section { break-inside: auto; }
"""


def _money(amount_ore: int) -> str:
    negative = " negative" if amount_ore < 0 else ""
    return (
        f'<td class="money{negative}" data-ore="{amount_ore}">{escape(format_sek(amount_ore))}</td>'
    )


def position_ranges(positions: Iterable[int]) -> str:
    """1, 2, 3, 7 -> '1–3, 7'."""
    ordered = sorted(set(positions))
    parts: list[str] = []
    start = previous = None
    for position in ordered:
        if start is None:
            start = previous = position
        elif previous is not None and position == previous + 1:
            previous = position
        else:
            parts.append(f"{start}" if start == previous else f"{start}–{previous}")
            start = previous = position
    if start is not None:
        parts.append(f"{start}" if start == previous else f"{start}–{previous}")
    return ", ".join(parts)


def _chain(data: ReportData) -> str:
    chain = data.chain
    head = (
        f"<p>Chain head (recomputed from genesis over the event store): position "
        f'<b id="head-position">{chain.head_position}</b>, hash '
        f'<span class="hash" id="head-hash">{escape(chain.head_hash or "—")}</span></p>'
    )
    checkpoint = chain.checkpoint
    if checkpoint is None:
        status = (
            '<div class="status unverified" id="chain-status" data-status="unverified">'
            f"No checkpoint to hold the chain against ({escape(chain.checkpoint_source)}): the "
            "head above is the store's own claim.</div>"
        )
    elif chain.matches:
        status = (
            '<div class="status ok" id="chain-status" data-status="ok">The last checkpoint '
            f"({escape(chain.checkpoint_source)}), position {checkpoint.position}, hash "
            f'<span class="hash">{escape(checkpoint.hash)}</span>, lies on the store\'s chain.'
            "</div>"
        )
    else:
        status = (
            '<div class="status failed" id="chain-status" data-status="failed"><b>CHAIN '
            f"FAILURE:</b> the last checkpoint ({escape(chain.checkpoint_source)}) at position "
            f'{checkpoint.position} says <span class="hash">{escape(checkpoint.hash)}</span>; '
            "the store's chain there is "
            f'<span class="hash">{escape(chain.checkpoint_hash_in_store or "missing")}</span>. '
            "The figures below come from a store that does not match what was published."
            "</div>"
        )
    return f'<section id="chain"><h2>Chain</h2>{head}{status}</section>'


def _rules(data: ReportData) -> str:
    rules = data.record.rules
    shown = {
        "Ordinance": rules.get("ordinance"),
        "Years": f"{rules.get('first_year')}–{rules.get('last_year')}",
        "Recipient types": ", ".join(rules.get("recipient_types") or []),
        "Eligible recipients": (
            f"{len(rules['eligible'])} listed" if rules.get("eligible") else "any of the types"
        ),
        "Years per decision": rules.get("max_years_per_decision"),
        "Cost share cap": (
            f"{rules['cost_share_cap_percent']} %"
            if rules.get("cost_share_cap_percent")
            else "none"
        ),
    }
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in shown.items())
    timeline = "".join(
        f"<tr><td>{since}</td><td>{escape(agency)}</td><td>{position}</td>"
        f"<td>{escape(reference or 'established')}</td></tr>"
        for since, agency, position, reference in data.record.timeline
    )
    return (
        f'<section id="rules"><h2>Rules</h2><dl>{items}</dl><h3>Agency timeline</h3>'
        '<table id="timeline"><tr><th>from (effective)</th><th>agency</th><th>position</th>'
        f"<th>decision</th></tr>{timeline}</table></section>"
    )


PROGRAMME_COLUMNS: Final = ("appropriated", "awarded", "disbursed", "recovered", "available")


def _programme_years(rows: Sequence[ProgrammeYearRow]) -> str:
    years = [str(row.year) for row in rows]
    chart = grouped_bars(
        "Per grant-year",
        years,
        [
            Series(name, COLOURS[name], [getattr(row, f"{name}_ore") for row in rows])
            for name in PROGRAMME_COLUMNS
        ],
    )
    header = "".join(f'<th class="money">{name}</th>' for name in PROGRAMME_COLUMNS)
    body = "".join(
        f'<tr data-year="{row.year}"><td>{row.year}</td><td>{escape(row.agency)}</td>'
        + "".join(_money(getattr(row, f"{name}_ore")) for name in PROGRAMME_COLUMNS)
        + "</tr>"
        for row in rows
    )
    return (
        '<section id="per-year"><h2>Money per grant-year</h2>'
        "<p>Available = appropriated − awarded; negative means over-committed.</p>"
        f'{chart}<table id="programme-years"><tr><th>year</th><th>agency</th>{header}</tr>'
        f"{body}</table></section>"
    )


RECIPIENT_COLUMNS: Final = ("requested", "awarded", "disbursed", "recovered", "outstanding")


def _recipient_years(rows: Sequence[RecipientYearRow]) -> str:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        totals[row.recipient][0] += row.awarded_ore
        totals[row.recipient][1] += row.disbursed_ore
    codes = sorted(totals)
    labels = [f"{code} {recipient_name(code) or ''}".strip() for code in codes]
    chart = horizontal_bars(
        "Awarded and disbursed per municipality, all years",
        labels,
        [
            Series("awarded", COLOURS["awarded"], [totals[c][0] for c in codes]),
            Series("disbursed", COLOURS["disbursed"], [totals[c][1] for c in codes]),
        ],
    )
    header = "".join(f'<th class="money">{name}</th>' for name in RECIPIENT_COLUMNS)
    body = "".join(
        f'<tr data-recipient="{escape(row.recipient)}" data-year="{row.year}">'
        f"<td>{escape(row.recipient)} {escape(recipient_name(row.recipient) or '')}</td>"
        f"<td>{row.year}</td>"
        + "".join(_money(getattr(row, f"{name}_ore")) for name in RECIPIENT_COLUMNS)
        + "</tr>"
        for row in rows
    )
    return (
        '<section id="per-municipality"><h2>Money per municipality and grant-year</h2>'
        f'{chart}<table id="recipient-years"><tr><th>recipient</th><th>year</th>{header}</tr>'
        f"{body}</table></section>"
    )


def _finding_rows(findings: Sequence[Finding]) -> str:
    listed = findings[:MAX_LISTED_FINDINGS]
    rows = "".join(
        f"<tr><td>{escape(f.text)}</td>"
        + (_money(f.amount_ore) if f.amount_ore is not None else "<td></td>")
        + f'<td class="positions">{escape(position_ranges(f.positions))}</td></tr>'
        for f in listed
    )
    more = ""
    if len(findings) > len(listed):
        every = position_ranges(p for f in findings for p in f.positions)
        more = f"<p>… and {len(findings) - len(listed)} more; all positions: {escape(every)}</p>"
    return (
        '<table><tr><th>finding</th><th class="money">amount</th><th>positions</th></tr>'
        f"{rows}</table>{more}"
    )


def _findings(data: ReportData) -> str:
    record = data.record
    parts = ['<section id="findings"><h2>Findings</h2>']
    for kind in FindingKind:
        found = record.of_kind(kind)
        anchor = kind.name.lower().replace("_", "-")
        parts.append(
            f'<div class="finding" id="finding-{anchor}" data-count="{len(found)}">'
            f'<h3>{escape(kind.value)} <span class="count">({len(found)})</span></h3>'
        )
        if kind is FindingKind.BACKDATED:
            parts.append(
                f"<p>Acts recorded more than {data.backdating_days} days after their "
                "effective date.</p>"
            )
        if found:
            parts.append(_finding_rows(found))
        elif kind is FindingKind.WRONG_AGENCY:
            parts.append(
                f'<p class="none">None: each of the {record.acts_checked_for_agency} acts was '
                "recorded by the agency administering the programme that day.</p>"
            )
        else:
            parts.append('<p class="none">None.</p>')
        parts.append("</div>")
    parts.append("</section>")
    return "".join(parts)


def render(data: ReportData, ledger_version: str) -> str:
    """The whole report."""
    name = str(data.record.rules.get("name", data.programme_id))
    as_of = f"as of {data.as_of_date}" if data.as_of_date else "as of now"
    return (
        '<!DOCTYPE html><html lang="sv"><head><meta charset="utf-8">'
        f"<title>Audit report: {escape(data.programme_id)}</title>"
        f'<meta name="generator" content="grant-ledger {escape(ledger_version)}">'
        f"<style>{CSS}</style></head><body>"
        f"<header><h1>{escape(name)}</h1>"
        f'<p class="meta">Programme <b id="programme-id">{escape(data.programme_id)}</b> · '
        f"{escape(as_of)} (events effective by then) · {data.record.events} events · generated "
        f"{format_utc(data.generated_at)} by grant-ledger {escape(ledger_version)}</p></header>"
        f"{_chain(data)}{_rules(data)}{_programme_years(data.programme_years)}"
        f"{_findings(data)}{_recipient_years(data.recipient_years)}"
        '<footer><p class="meta">Positions are the ledger\'s global event positions: '
        "`grant-ledger events --from N --limit 1` or an export shows each one with its hash."
        "</p></footer></body></html>\n"
    )
