"""The write load: grant lives racing for one year's money, as officers would send them.

A chain is one application's life: submit, award, three payments and sometimes a recovery; its
commands go one after another (each needs the one before), while many chains run at once. The
appropriation covers about 90 % of the awards asked for, so the last awards race for the last
kronor and some are refused. A few commands are sent twice at once (a client retrying), which
must record them once.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from schemas.recipients import municipalities

AGENCY = "tillvaxtverket"
OFFICER = "load-officer"  # the token's subject: the API records commands for it
YEARS = (2019, 2020)
AWARD_ORE = 1_000_000
PAYMENTS = 3
PAYMENT_ORE = 300_000
RECOVERY_SHARE = 0.1
DOUBLE_SEND_SHARE = 0.02
FUNDED_SHARE = 0.9  # of the awards asked for, per year
COMMANDS_PER_CHAIN = 2 + PAYMENTS + RECOVERY_SHARE  # submit, award, payments, a recovery
SEED = 2019
# Every act is dated inside the programme's life: the ledger refuses acts dated more than five
# years after its last year, so "today" (the default) would not do for a 2019-2020 programme.
ACTS_DATED = f"{YEARS[-1]}-06-15"


@dataclass(frozen=True, slots=True)
class Send:
    """One command to send, and whether to send it twice at once."""

    command: dict[str, Any]
    twice: bool = False


@dataclass(slots=True)
class Chain:
    """One application's commands, in the order they must be recorded."""

    sends: list[Send] = field(default_factory=list)


def _base(command_id: str) -> dict[str, Any]:
    return {
        "command_id": command_id,
        "actor": OFFICER,
        "agency": AGENCY,
        "effective_date": ACTS_DATED,
    }


def programme_ids(programmes: int) -> list[str]:
    """The programmes the load spreads over (one: every command on one stream)."""
    return [f"load-{n}" for n in range(programmes)]


def set_up(programmes: int, chains: int) -> list[dict[str, Any]]:
    """Establish the programmes and appropriate ~90 % of what the chains will ask for."""
    awards_per_year = chains / len(YEARS) / programmes
    appropriation_ore = int(awards_per_year * FUNDED_SHARE) * AWARD_ORE
    commands: list[dict[str, Any]] = []
    for programme_id in programme_ids(programmes):
        commands.append(
            {
                "type": "EstablishProgramme",
                "programme_id": programme_id,
                "name": f"Load {programme_id}",
                "ordinance": "SFS 2018:151",
                "administering_agency": AGENCY,
                "first_year": YEARS[0],
                "last_year": YEARS[-1],
                "recipient_types": ["municipality"],
                **_base(f"{programme_id}-establish"),
            }
        )
        for year in YEARS:
            commands.append(
                {
                    "type": "SetAppropriation",
                    "programme_id": programme_id,
                    "year": year,
                    "amount_ore": appropriation_ore,
                    "decision_ref": f"regleringsbrev {year}",
                    **_base(f"{programme_id}-appropriation-{year}"),
                }
            )
    return commands


def chains(commands: int, programmes: int) -> Iterator[Chain]:
    """About `commands` commands in chains over the programmes (deterministic)."""
    rng = random.Random(SEED)
    codes = sorted(municipalities())
    for index in range(chain_count(commands)):
        app = f"load-app-{index}"
        # Programmes take turns, and each programme's chains alternate between the years.
        programme_id = programme_ids(programmes)[index % programmes]
        year = YEARS[(index // programmes) % len(YEARS)]
        chain = Chain()

        def send(fields: dict[str, Any], chain: Chain = chain) -> None:
            chain.sends.append(Send(fields, twice=rng.random() < DOUBLE_SEND_SHARE))

        send(
            {
                "type": "SubmitApplication",
                "application_id": app,
                "programme_id": programme_id,
                "recipient": rng.choice(codes),
                "recipient_type": "municipality",
                "amounts_ore": {str(year): AWARD_ORE},
                **_base(f"{app}-submit"),
            }
        )
        send(
            {
                "type": "AwardGrant",
                "application_id": app,
                "amounts_ore": {str(year): AWARD_ORE},
                "decision_ref": f"beslut {app}",
                **_base(f"{app}-award"),
            }
        )
        for payment in range(PAYMENTS):
            send(
                {
                    "type": "DisburseFunds",
                    "application_id": app,
                    "year": year,
                    "amount_ore": PAYMENT_ORE,
                    "payment_ref": f"{app}-{payment}",
                    **_base(f"{app}-pay-{payment}"),
                }
            )
        if rng.random() < RECOVERY_SHARE:
            send(
                {
                    "type": "RecoverFunds",
                    "application_id": app,
                    "year": year,
                    "amount_ore": PAYMENT_ORE // 2,
                    "decision_ref": f"återkrav {app}",
                    "reason": "money not used as decided",
                    **_base(f"{app}-recover"),
                }
            )
        yield chain


def chain_count(commands: int) -> int:
    """How many chains make about `commands` commands."""
    return max(1, round(commands / COMMANDS_PER_CHAIN))
