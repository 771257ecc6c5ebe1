"""The reference scenario: the real SFS 2018:151 programme, as a JSON Lines file of commands.

Regenerate the shipped file with
    python -m commands.scenarios.sfs_2018_151 > commands/scenarios/sfs_2018_151.jsonl

The facts follow the public record summarised, with sources, in sfs_2018_151.md beside this
file (Tillväxtverket 2018-2020, the Riksdag's cut of 2019, Delmos from 2021, Delmos closed
2022-12-31). Whatever the public record leaves open is a choice made here, and the note of every
command that rests on one says "assumption".
Commands run in date order, and every step keeps the ledger's rules: no award beyond what a
year has left, no award or increase while a year is over-committed, no payment beyond the award.
"""

import json
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from schemas.commands import COMMAND_ADAPTER
from schemas.money import ORE_PER_SEK
from schemas.recipients import eligible_sfs_2018_151, municipalities

Command = dict[str, Any]

PROGRAMME_ID = "sfs-2018-151"
ID_PREFIX = "sfs2018151"
TILLVAXTVERKET = "tillvaxtverket"
DELMOS = "delmos"
# Assumption: which agency took over Delmos's open grant cases after 2022 is not public.
SUCCESSOR = "boverket"
ACTORS = {TILLVAXTVERKET: "tvv-officer-1", DELMOS: "delmos-officer-1"}
PAYMENT_PREFIX = {TILLVAXTVERKET: "TVV", DELMOS: "DELMOS"}
COST_SHARE_CAP_PERCENT = 90
# Stated costs are whole thousands of kronor, as budgets in applications usually are.
COST_ROUNDING_KR = 1_000

# Appropriations in whole kronor.
APPROPRIATION_2018_KR = 425_000_000
PLANNED_2019_KR = 1_350_000_000
PLANNED_2020_KR = 2_200_000_000
# Assumption: the press says "about 100 M" was left after the cut; 88.6 M is what makes the
# 321.4 M supplement land 2019 at the "about 410 M" Tillväxtverket reported.
AFTER_CUT_2019_KR = 88_600_000
SUPPLEMENT_2019_KR = 321_400_000
# Assumption: public sources give "about 410-415 M" for 2020.
APPROPRIATION_2020_KR = 415_000_000
APPROPRIATION_2021_KR = 160_000_000
# Assumption: no 2022 money under SFS 2018:151 is in our sources (Delmos was wound up in 2022).
APPROPRIATION_2022_KR = 0

# The plan of 2018-03-15 as (year, kronor, decision_ref, note). The ledger awards only against a
# recorded appropriation, and the three-year decisions of autumn 2018 were made against the
# plan, so the planned 2019 and 2020 money is recorded as appropriated, then amended to what the
# Riksdag decided.
PLAN_2018 = (
    (
        2018,
        APPROPRIATION_2018_KR,
        "Plan 2018-03-15; regleringsbrev 2018 för Tillväxtverket",
        "assumption: dated when the plan was announced; the budget decision date is not in "
        "our sources",
    ),
    (
        2019,
        PLANNED_2019_KR,
        "Plan 2018-03-15: beräknat 1 350 mnkr för 2019",
        "planned amount, recorded so the 2018-2020 decisions can be made against it; "
        "cut by the Riksdag 2018-12-20",
    ),
    (
        2020,
        PLANNED_2020_KR,
        "Plan 2018-03-15: beräknat 2 200 mnkr per år 2020-2027",
        "planned amount, recorded so the 2018-2020 decisions can be made against it; "
        "cut in the budget for 2020",
    ),
)

# The 2018 amounts reported in the press, in kronor, by kommunkod.
PRESS_2018_KR = {
    "0180": 51_000_000,  # Stockholm
    "1480": 33_000_000,  # Göteborg
    "1280": 22_000_000,  # Malmö
    "0380": 17_000_000,  # Uppsala
    "0580": 14_000_000,  # Linköping
    "1283": 13_000_000,  # Helsingborg
    "1290": 10_300_000,  # Kristianstad
    "2081": 8_800_000,  # Borlänge
    "1282": 8_500_000,  # Landskrona
    "1277": 7_100_000,  # Åstorp
    "1782": 6_900_000,  # Filipstad
    "1275": 6_700_000,  # Perstorp
}

# Assumption: approximate 2018 populations (SCB, rounded to hundreds) of the 20 municipalities
# without a press amount; they share the rest of the 2018 money by this key.
POPULATION_2018 = {
    "0123": 78_500,  # Järfälla
    "0126": 111_700,  # Huddinge
    "0127": 93_300,  # Botkyrka
    "0181": 96_900,  # Södertälje
    "0480": 55_800,  # Nyköping
    "0483": 34_300,  # Katrineholm
    "0484": 105_900,  # Eskilstuna
    "0581": 141_700,  # Norrköping
    "0583": 43_500,  # Motala
    "0680": 139_200,  # Jönköping
    "0780": 92_600,  # Växjö
    "1080": 66_300,  # Karlskrona
    "1380": 100_900,  # Halmstad
    "1485": 56_300,  # Uddevalla
    "1488": 58_600,  # Trollhättan
    "1490": 112_200,  # Borås
    "1880": 153_400,  # Örebro
    "1980": 152_100,  # Västerås
    "2180": 101_500,  # Gävle
    "2181": 39_500,  # Sandviken
}

# Assumption: invented återkrav examples (none is in our sources): municipality, year, kronor.
RECOVERY_2019 = ("1782", 2019, 250_000)  # Filipstad, reported in its 2019 återrapport
RECOVERY_2021 = ("0483", 2021, 180_000)  # Katrineholm, reported in its 2021 återrapport

DATES_NOTE = "assumption: exact per-municipality dates are not public; one date for the round"
REFS_NOTE = "decision and payment references are placeholders (the real ones are not public)"
KEY_NOTE = (
    "assumption: split by the 2018 key (press amounts + population key); "
    "the official per-municipality table is not public"
)


def kr(amount_kr: int) -> int:
    """Whole kronor as öre."""
    return amount_kr * ORE_PER_SEK


def split_kr(total_kr: int, key: Mapping[str, int], remainder_to: str) -> dict[str, int]:
    """Split whole kronor in proportion to `key`, rounding down; the remainder goes to one code."""
    weight = sum(key.values())
    shares = {code: total_kr * share // weight for code, share in sorted(key.items())}
    shares[remainder_to] += total_kr - sum(shares.values())
    return shares


def largest(amounts: Mapping[str, int]) -> str:
    """The code with the largest amount (it absorbs rounding remainders)."""
    return max(sorted(amounts), key=lambda code: amounts[code])


def cost_for(grant_kr: int) -> int:
    """The smallest cost, in whole thousands of kronor, of which `grant_kr` is at most 90 %."""
    # Assumption: real budgets are not public, so each application states the least cost the
    # cap allows; ceiling division keeps this integer (never float).
    minimum_kr = -(-grant_kr * 100 // COST_SHARE_CAP_PERCENT)
    return -(-minimum_kr // COST_ROUNDING_KR) * COST_ROUNDING_KR


def amounts_2018_kr() -> dict[str, int]:
    """Every municipality's 2018 amount: the press amounts, the rest by population key."""
    eligible = set(eligible_sfs_2018_151())
    assert set(PRESS_2018_KR) | set(POPULATION_2018) == eligible, "the key must cover the 32"
    assert not set(PRESS_2018_KR) & set(POPULATION_2018), "a code has two amounts"
    rest_kr = APPROPRIATION_2018_KR - sum(PRESS_2018_KR.values())
    by_population = split_kr(rest_kr, POPULATION_2018, remainder_to=largest(POPULATION_2018))
    amounts = dict(sorted({**PRESS_2018_KR, **by_population}.items()))
    assert sum(amounts.values()) == APPROPRIATION_2018_KR, "2018 must be fully awarded"
    return amounts


def by_key(total_kr: int) -> dict[str, int]:
    """A later year's money split by the 2018 key ("same distribution")."""
    key = amounts_2018_kr()
    return split_kr(total_kr, key, remainder_to=largest(key))


def name(code: str) -> str:
    """The municipality's name, for readable notes."""
    return municipalities()[code]


def application_2018(code: str) -> str:
    """The application id of a municipality's three-year grant decided in 2018."""
    return f"{ID_PREFIX}-{code}-2018"


def application_2021(code: str) -> str:
    """The application id of a municipality's 2021 grant decided by Delmos."""
    return f"{ID_PREFIX}-{code}-2021"


def command(
    command_id: str, kind: str, agency: str, effective_date: str, note: str | None, **fields: Any
) -> Command:
    """One command as a JSON-ready dict, fields in a fixed order so the file is stable."""
    body: Command = {
        "command_id": f"{ID_PREFIX}-{command_id}",
        "type": kind,
        "actor": ACTORS[agency],
        "agency": agency,
        "effective_date": effective_date,
        **fields,
    }
    if note is not None:
        body["note"] = note
    return body


def establishment() -> Iterator[Command]:
    """The ordinance and the 2018 plan: the programme and its first three appropriations."""
    yield command(
        "establish",
        "EstablishProgramme",
        TILLVAXTVERKET,
        "2018-03-15",
        "last_year 2022: Delmos, the last agency to decide grants under the ordinance, was "
        "closed 2022-12-31; the 2018 plan to 2027 was never appropriated "
        "(assumption: the ordinance's own end date is not in our sources)",
        programme_id=PROGRAMME_ID,
        name="Statsbidrag till kommuner med socioekonomiskt eftersatta områden",
        ordinance="SFS 2018:151",
        administering_agency=TILLVAXTVERKET,
        first_year=2018,
        last_year=2022,
        recipient_types=["municipality"],
        eligible=list(eligible_sfs_2018_151()),
        max_years_per_decision=3,
        cost_share_cap_percent=COST_SHARE_CAP_PERCENT,
    )
    for year, amount_kr, ref, note in PLAN_2018:
        yield command(
            f"appropriation-{year}",
            "SetAppropriation",
            TILLVAXTVERKET,
            "2018-03-15",
            note,
            programme_id=PROGRAMME_ID,
            year=year,
            amount_ore=kr(amount_kr),
            decision_ref=ref,
        )


def round_2018() -> Iterator[Command]:
    """Autumn 2018: all 32 apply, Tillväxtverket decides 2018-2020 and pays 2018."""
    amounts_2018 = amounts_2018_kr()
    planned_2019 = by_key(PLANNED_2019_KR)
    planned_2020 = by_key(PLANNED_2020_KR)
    requested = {
        code: {"2018": amounts_2018[code], "2019": planned_2019[code], "2020": planned_2020[code]}
        for code in amounts_2018
    }
    for code, years in requested.items():
        how = (
            "2018 amount as reported in the press"
            if code in PRESS_2018_KR
            else "assumption: 2018 amount by population key, approximate; "
            "the official per-municipality table is not public"
        )
        yield command(
            f"apply-{code}-2018",
            "SubmitApplication",
            TILLVAXTVERKET,
            "2018-09-14",
            f"{name(code)}: applies for the published distribution; {how}; 2019-2020 by the "
            f"same key against the plan; {DATES_NOTE}; assumption: total_cost_ore is the least "
            "cost the 90 % cap allows (real budgets are not public)",
            application_id=application_2018(code),
            programme_id=PROGRAMME_ID,
            recipient=code,
            recipient_type="municipality",
            amounts_ore={year: kr(amount) for year, amount in years.items()},
            total_cost_ore=kr(cost_for(sum(years.values()))),
        )
    for code, years in requested.items():
        yield command(
            f"award-{code}-2018",
            "AwardGrant",
            TILLVAXTVERKET,
            "2018-10-31",
            f"{name(code)}: three-year decision 2018-2020; {DATES_NOTE}; {REFS_NOTE}; "
            "assumption: conditions are typical statsbidrag wording",
            application_id=application_2018(code),
            amounts_ore={year: kr(amount) for year, amount in years.items()},
            decision_ref=f"TVV beslut 2018-10-31 {application_2018(code)}",
            conditions=[
                "Used only for the measures described in the application",
                "Use and results are reported to the administering agency each year",
                "Money not used for the measures is paid back (återkrav)",
            ],
        )
    yield from payments(TILLVAXTVERKET, 2018, amounts_2018, application_2018, "2018-11-30")


def cut_2019() -> Iterator[Command]:
    """The Riksdag's cut of 2019 (over-commitment), the reductions, and the spring supplement."""
    planned = by_key(PLANNED_2019_KR)
    after_cut = by_key(AFTER_CUT_2019_KR)
    final = by_key(AFTER_CUT_2019_KR + SUPPLEMENT_2019_KR)
    yield command(
        "appropriation-2019-cut",
        "AmendAppropriation",
        TILLVAXTVERKET,
        "2018-12-20",
        "leaves 2019 over-committed until the awards are reduced; assumption: 88.6 mnkr left "
        "(press: about 100 M), so that with the spring supplement 2019 lands at about 410 mnkr",
        programme_id=PROGRAMME_ID,
        year=2019,
        change_ore=kr(AFTER_CUT_2019_KR - PLANNED_2019_KR),
        decision_ref="Riksdagens budgetbeslut 2018-12-20 (statens budget 2019)",
        reason="The Riksdag cut the 2019 money; about 100 M left for grants already promised",
    )
    # Two steps, as it happened: first down to what the cut left (Tillväxtverket could promise
    # no more than that in spring 2019), then up by the amending budget. Reducing straight to
    # the final amount would hide the months in which only 88.6 M existed.
    for code in planned:
        yield command(
            f"reduce-{code}-2019",
            "AmendAward",
            TILLVAXTVERKET,
            "2019-01-31",
            f"{name(code)}: 2019 award down to its share of 88.6 mnkr; {KEY_NOTE}; {DATES_NOTE}",
            application_id=application_2018(code),
            year=2019,
            change_ore=kr(after_cut[code] - planned[code]),
            decision_ref=f"TVV ändringsbeslut 2019-01-31 {application_2018(code)}",
            reason="Riksdag cut of the 2019 appropriation (2018-12-20)",
        )
    yield command(
        "appropriation-2019-supplement",
        "AmendAppropriation",
        TILLVAXTVERKET,
        "2019-06-18",
        "assumption: date of the Riksdag's decision on the spring amending budget is approximate",
        programme_id=PROGRAMME_ID,
        year=2019,
        change_ore=kr(SUPPLEMENT_2019_KR),
        decision_ref="Prop. 2018/19:99 Vårändringsbudget för 2019",
        reason="Spring amending budget adds 321.4 mnkr: 2019 back at about the 2018 level",
    )
    for code in planned:
        yield command(
            f"supplement-{code}-2019",
            "AmendAward",
            TILLVAXTVERKET,
            "2019-06-28",
            f"{name(code)}: 2019 award up to its share of 410 mnkr; {KEY_NOTE}; {DATES_NOTE}",
            application_id=application_2018(code),
            year=2019,
            change_ore=kr(final[code] - after_cut[code]),
            decision_ref=f"TVV ändringsbeslut 2019-06-28 {application_2018(code)}",
            reason="Supplement from the spring amending budget 2019 (+321.4 mnkr)",
        )
    yield from payments(TILLVAXTVERKET, 2019, final, application_2018, "2019-07-15")


def cut_2020() -> Iterator[Command]:
    """The budget for 2020 below the plan, the reductions, the payments and an återkrav."""
    planned = by_key(PLANNED_2020_KR)
    final = by_key(APPROPRIATION_2020_KR)
    yield command(
        "appropriation-2020-budget",
        "AmendAppropriation",
        TILLVAXTVERKET,
        "2019-12-18",
        "leaves 2020 over-committed until the awards are reduced; assumption: 415 mnkr "
        "(sources: about 410-415 M) and the decision date is approximate",
        programme_id=PROGRAMME_ID,
        year=2020,
        change_ore=kr(APPROPRIATION_2020_KR - PLANNED_2020_KR),
        decision_ref="Riksdagens budgetbeslut för 2020 (prop. 2019/20:1)",
        reason="The budget for 2020 gives about 415 mnkr instead of the planned 2 200 mnkr",
    )
    for code in planned:
        yield command(
            f"reduce-{code}-2020",
            "AmendAward",
            TILLVAXTVERKET,
            "2020-01-31",
            f"{name(code)}: 2020 award down to its share of 415 mnkr; {KEY_NOTE}; {DATES_NOTE}",
            application_id=application_2018(code),
            year=2020,
            change_ore=kr(final[code] - planned[code]),
            decision_ref=f"TVV ändringsbeslut 2020-01-31 {application_2018(code)}",
            reason="The 2020 appropriation is below the plan the decision was made against",
        )
    yield from payments(TILLVAXTVERKET, 2020, final, application_2018, "2020-03-31")
    yield recovery(TILLVAXTVERKET, "TVV", RECOVERY_2019, application_2018(RECOVERY_2019[0]))


def delmos_years() -> Iterator[Command]:
    """Delmos takes over, decides the 2021 round, handles 2022 and hands over at its closure."""
    yield command(
        "handover-delmos",
        "HandOverProgramme",
        TILLVAXTVERKET,
        "2021-01-01",
        "assumption: SFS 2020:1266 moved the decisions to Delmos; the exact date is not public",
        programme_id=PROGRAMME_ID,
        to_agency=DELMOS,
        decision_ref="SFS 2020:1266",
    )
    yield delmos_appropriation(2021, APPROPRIATION_2021_KR, "2021-01-01", None)
    # New applications, not ExtendGrant on the 2018 grants: Delmos ran a new call (closed
    # 2021-03-31) and took new decisions (2021-05-17), so the ledger records both facts, each
    # under its own application, instead of an extension with no application behind it.
    final = by_key(APPROPRIATION_2021_KR)
    yield from delmos_round_2021(final)
    yield from payments(DELMOS, 2021, final, application_2021, "2021-06-15")
    yield delmos_appropriation(
        2022,
        APPROPRIATION_2022_KR,
        "2022-01-01",
        "assumption: no 2022 money under SFS 2018:151 is in our sources (Delmos was wound up "
        "in 2022); recorded as 0 so the year reads as decided, not unknown",
    )
    yield recovery(DELMOS, "Delmos", RECOVERY_2021, application_2021(RECOVERY_2021[0]))
    yield delmos_closure()


def recovery(
    agency: str, decided_by: str, recovered: tuple[str, int, int], application_id: str
) -> Command:
    """An återkrav: unspent money of a grant-year paid back, decided on 30 June after."""
    code, year, amount_kr = recovered
    day = f"{year + 1}-06-30"
    return command(
        f"recover-{code}-{year}",
        "RecoverFunds",
        agency,
        day,
        f"{name(code)}: assumption: invented återkrav example, none is in our sources; {REFS_NOTE}",
        application_id=application_id,
        year=year,
        amount_ore=kr(amount_kr),
        decision_ref=f"{decided_by} återkrav {day} {application_id}",
        reason=f"Unspent {year} money reported in the {year} återrapport is paid back",
    )


def delmos_round_2021(final: Mapping[str, int]) -> Iterator[Command]:
    """Delmos's 2021 call: every municipality applies, and is awarded its share."""
    for code, amount_kr in final.items():
        yield command(
            f"apply-{code}-2021",
            "SubmitApplication",
            DELMOS,
            "2021-03-31",
            f"{name(code)}: assumption: all 32 applied; dated on the day the call closed; "
            f"{KEY_NOTE}; assumption: total_cost_ore is the least cost the 90 % cap allows",
            application_id=application_2021(code),
            programme_id=PROGRAMME_ID,
            recipient=code,
            recipient_type="municipality",
            amounts_ore={"2021": kr(amount_kr)},
            total_cost_ore=kr(cost_for(amount_kr)),
        )
    for code, amount_kr in final.items():
        yield command(
            f"award-{code}-2021",
            "AwardGrant",
            DELMOS,
            "2021-05-17",
            f"{name(code)}: one-year decision by Delmos; {REFS_NOTE}; "
            "assumption: conditions are typical statsbidrag wording",
            application_id=application_2021(code),
            amounts_ore={"2021": kr(amount_kr)},
            decision_ref=f"Delmos beslut 2021-05-17 {application_2021(code)}",
            conditions=[
                "Used only for the measures described in the application",
                "Use and results are reported to Delmos",
                "Money not used for the measures is paid back (återkrav)",
            ],
        )


def delmos_closure() -> Command:
    """Delmos closes; a successor takes over the decided grants."""
    return command(
        f"handover-{SUCCESSOR}",
        "HandOverProgramme",
        DELMOS,
        "2023-01-01",
        "Delmos closed 2022-12-31; decided grants stay in force. Assumption: which agency took "
        "over Delmos's open grant cases is not public; Boverket took over its statistics work, "
        "so Boverket is used here",
        programme_id=PROGRAMME_ID,
        to_agency=SUCCESSOR,
        decision_ref="Delmos avvecklad 2022-12-31",
    )


def delmos_appropriation(year: int, amount_kr: int, day: str, note: str | None) -> Command:
    """A year's appropriation from Delmos's regleringsbrev."""
    return command(
        f"appropriation-{year}",
        "SetAppropriation",
        DELMOS,
        day,
        note,
        programme_id=PROGRAMME_ID,
        year=year,
        amount_ore=kr(amount_kr),
        decision_ref=f"Regleringsbrev {year} för Delegationen mot segregation",
    )


def payments(
    agency: str,
    year: int,
    amounts_kr: Mapping[str, int],
    application_id: Callable[[str], str],
    day: str,
) -> Iterator[Command]:
    """One payment per municipality of its whole award for the year."""
    for code, amount_kr in amounts_kr.items():
        yield command(
            f"disburse-{code}-{year}",
            "DisburseFunds",
            agency,
            day,
            f"{name(code)}: the year's award in one payment; assumption: payment date; {REFS_NOTE}",
            application_id=application_id(code),
            year=year,
            amount_ore=kr(amount_kr),
            payment_ref=f"{PAYMENT_PREFIX[agency]}-{year}-{code}",
        )


def scenario() -> list[Command]:
    """Every command of the scenario, in the order they are to be submitted."""
    commands = [
        *establishment(),
        *round_2018(),
        *cut_2019(),
        *cut_2020(),
        *delmos_years(),
    ]
    ids = [body["command_id"] for body in commands]
    assert len(ids) == len(set(ids)), "command ids must be unique"
    return commands


def render() -> str:
    """The scenario as JSON Lines, each line validated against the command contract."""
    lines = []
    for body in scenario():
        COMMAND_ADAPTER.validate_python(body)
        lines.append(json.dumps(body, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def main() -> None:
    """Write the scenario to standard output."""
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
