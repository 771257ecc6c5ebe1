"""The Programme aggregate's business rules: every refusal names its field and records nothing.

Each rule has its refusal next to the case it allows. The aggregate is tested directly, without
a database; the rules at the application boundary (the programme must exist, a programme id is
established once) are in tests/integration/test_ledger_routing.py.
"""

import contextlib
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from ledger.domain.errors import RuleViolation
from ledger.domain.programme import Programme
from schemas.commands import CommandBase, EstablishProgramme
from schemas.events import ProgrammeHandedOver
from schemas.money import MAX_AMOUNT_ORE
from tests.builders import (
    AGENCY,
    DECIDED_ON,
    ESTABLISHED_ON,
    GOTEBORG,
    HANDED_OVER_ON,
    LAST_YEAR,
    MALMO,
    STOCKHOLM,
    STOCKHOLMS_LAN,
    SUCCESSOR,
    THIRD_AGENCY,
    UPPLANDS_VASBY,
    amend_appropriation,
    amend_award,
    application,
    assert_recorded,
    assert_refused,
    award,
    context_for,
    ctx,
    disburse,
    establish,
    extend,
    hand_over,
    perform,
    programme_with,
    recorded_on,
    recover,
    reject,
    set_appropriation,
)

APPROPRIATION = 1_000_000
FUNDED_YEARS = (2018, 2019, 2020, 2021, 2022, 2023)


def funded(*commands: CommandBase, established: EstablishProgramme | None = None) -> Programme:
    """A programme with 1 000 000 öre appropriated for each of 2018–2023, then `commands`."""
    appropriations = [set_appropriation(year, APPROPRIATION) for year in FUNDED_YEARS]
    return programme_with(*appropriations, *commands, established=established)


def awarded_malmo(amounts: dict[int, int] | None = None, *more: CommandBase) -> Programme:
    """A funded programme where Malmö's application is awarded what it asked for (2018–2020)."""
    amounts = amounts or {2018: 500_000, 2019: 500_000, 2020: 500_000}
    return funded(application(amounts_ore=amounts), award(amounts_ore=amounts), *more)


# --------------------------------------------------------------- establishing the programme


def test_a_programme_is_established_by_its_administering_agency() -> None:
    """EstablishProgramme records ProgrammeEstablished when the acting agency will administer it."""
    command = establish()
    programme = Programme.establish(command, context_for(command))
    assert [event.data.type for event in programme.collect_events()] == ["ProgrammeEstablished"]
    assert programme.version == 1
    assert programme.agency == AGENCY


def test_another_agency_cannot_establish_a_programme() -> None:
    """EstablishProgramme from an agency other than the administering one is refused on `agency`."""
    command = establish(administering_agency=AGENCY)
    with pytest.raises(RuleViolation) as refusal:
        Programme.establish(command, ctx(agency=SUCCESSOR, effective_date=ESTABLISHED_ON))
    assert refusal.value.field == "agency"
    assert refusal.value.value == SUCCESSOR


# --------------------------------------------------------------- years of the programme


def test_an_appropriation_year_must_lie_within_the_programme() -> None:
    """SetAppropriation outside first_year–last_year is refused on `year`; inside is recorded."""
    programme = programme_with()
    assert_refused(programme, set_appropriation(2017), "year")
    assert_refused(programme, set_appropriation(LAST_YEAR + 1), "year")
    assert_recorded(programme, set_appropriation(LAST_YEAR), "AppropriationSet")


def test_an_application_year_must_lie_within_the_programme() -> None:
    """An application for a year after last_year is refused on `amounts_ore.YEAR`."""
    programme = funded()
    outside = application(amounts_ore={LAST_YEAR: 1, LAST_YEAR + 1: 1})
    assert_refused(programme, outside, f"amounts_ore.{LAST_YEAR + 1}")
    before = application(amounts_ore={2017: 1, 2018: 1})
    assert_refused(programme, before, "amounts_ore.2017")
    assert_recorded(programme, application(amounts_ore={LAST_YEAR: 1}), "ApplicationSubmitted")


# --------------------------------------------------------------- appropriations


def test_a_year_is_set_once_then_amended() -> None:
    """A second SetAppropriation for a year is refused on `year`; AmendAppropriation changes it."""
    programme = funded()
    assert_refused(programme, set_appropriation(2018, 5), "year")
    assert_recorded(programme, amend_appropriation(2018, 250_000), "AppropriationAmended")
    assert programme.appropriated_ore[2018] == APPROPRIATION + 250_000


def test_an_appropriation_must_be_set_before_it_is_amended() -> None:
    """AmendAppropriation of a year without an appropriation is refused on `year`."""
    programme = funded()
    assert_refused(programme, amend_appropriation(2024, 100), "year")


def test_an_appropriation_cannot_go_below_zero() -> None:
    """A cut larger than the appropriation is refused on `change_ore`; a cut to zero is recorded."""
    programme = funded()
    refusal = assert_refused(programme, amend_appropriation(2018, -APPROPRIATION - 1), "change_ore")
    assert refusal.value == -APPROPRIATION - 1
    assert_recorded(programme, amend_appropriation(2018, -APPROPRIATION), "AppropriationAmended")
    assert programme.appropriated_ore[2018] == 0


# --------------------------------------------------------------- recipients


def test_the_recipient_type_must_be_one_the_programme_accepts() -> None:
    """A region applying to a municipalities-only programme is refused on `recipient_type`."""
    programme = funded()
    region = application(recipient=STOCKHOLMS_LAN, recipient_type="region")
    refusal = assert_refused(programme, region, "recipient_type")
    assert refusal.value == "region"
    assert_recorded(programme, application(recipient=MALMO), "ApplicationSubmitted")


def test_the_recipient_must_be_eligible_when_the_programme_lists_who_is() -> None:
    """A municipality outside the annex is refused on `recipient`; one in it is recorded."""
    programme = funded()
    refusal = assert_refused(programme, application(recipient=UPPLANDS_VASBY), "recipient")
    assert refusal.value == UPPLANDS_VASBY
    assert_recorded(programme, application(recipient=STOCKHOLM), "ApplicationSubmitted")


def test_any_recipient_of_an_accepted_type_may_apply_without_an_eligibility_list() -> None:
    """With `eligible` unset, any municipality may apply."""
    programme = funded(established=establish(eligible=None))
    assert_recorded(programme, application(recipient=UPPLANDS_VASBY), "ApplicationSubmitted")


# --------------------------------------------------------------- years per decision


def test_an_application_covers_at_most_max_years_per_decision() -> None:
    """Four years when a decision covers at most 3 are refused on amounts_ore; three are not."""
    programme = funded()
    four = {2018: 1, 2019: 1, 2020: 1, 2021: 1}
    assert_refused(programme, application(amounts_ore=four), "amounts_ore")
    three = {2018: 1, 2019: 1, 2020: 1}
    assert_recorded(programme, application(amounts_ore=three), "ApplicationSubmitted")


def test_an_application_covers_consecutive_years() -> None:
    """An application for 2018 and 2020 without 2019 is refused on `amounts_ore`."""
    programme = funded()
    assert_refused(programme, application(amounts_ore={2018: 1, 2020: 1}), "amounts_ore")


def test_an_award_covers_at_most_max_years_per_decision() -> None:
    """An award of four years is refused on `amounts_ore` on a 3-years-a-decision programme."""
    programme = funded(application(amounts_ore={2018: 1, 2019: 1, 2020: 1}))
    four = {2018: 1, 2019: 1, 2020: 1, 2021: 1}
    assert_refused(programme, award(amounts_ore=four), "amounts_ore")
    assert_recorded(programme, award(amounts_ore={2018: 1, 2019: 1, 2020: 1}), "GrantAwarded")


def test_an_award_covers_consecutive_years() -> None:
    """An award of 2018 and 2020 without 2019 is refused on `amounts_ore`; 2018–2019 is recorded."""
    programme = funded(application(amounts_ore={2018: 1, 2019: 1, 2020: 1}))
    assert_refused(programme, award(amounts_ore={2018: 1, 2020: 1}), "amounts_ore")
    assert_recorded(programme, award(amounts_ore={2018: 1, 2019: 1}), "GrantAwarded")


def test_an_extension_covers_at_most_max_years_per_decision() -> None:
    """An extension of four years is refused on `amounts_ore`; three years are recorded."""
    programme = awarded_malmo()
    four = {2021: 1, 2022: 1, 2023: 1, 2024: 1}
    assert_refused(programme, extend(amounts_ore=four), "amounts_ore")
    assert_recorded(programme, extend(amounts_ore={2021: 1, 2022: 1, 2023: 1}), "GrantExtended")


def test_an_extension_covers_consecutive_years() -> None:
    """An extension of 2021 and 2023 without 2022 is refused on `amounts_ore`."""
    programme = awarded_malmo()
    assert_refused(programme, extend(amounts_ore={2021: 1, 2023: 1}), "amounts_ore")


def test_max_years_per_decision_is_the_programmes_own() -> None:
    """On a programme allowing one year a decision, a two-year application is refused."""
    programme = funded(established=establish(max_years_per_decision=1))
    assert_refused(programme, application(amounts_ore={2018: 1, 2019: 1}), "amounts_ore")
    assert_recorded(programme, application(amounts_ore={2019: 1}), "ApplicationSubmitted")


# --------------------------------------------------------------- extensions


def test_only_an_awarded_grant_can_be_extended() -> None:
    """ExtendGrant on a submitted or a rejected application is refused on `application_id`."""
    programme = funded(
        application("app-submitted", {2018: 1}),
        application("app-rejected", {2018: 1}, recipient=GOTEBORG),
        reject("app-rejected"),
    )
    assert_refused(programme, extend("app-submitted", {2019: 1}), "application_id")
    assert_refused(programme, extend("app-rejected", {2019: 1}), "application_id")


def test_an_extension_starts_directly_after_the_grants_last_year() -> None:
    """An extension that leaves a gap or overlaps the grant is refused on `amounts_ore`."""
    programme = awarded_malmo()  # 2018–2020
    assert_refused(programme, extend(amounts_ore={2022: 1}), "amounts_ore")
    assert_refused(programme, extend(amounts_ore={2020: 1, 2021: 1}), "amounts_ore")
    assert_recorded(programme, extend(amounts_ore={2021: 1, 2022: 1}), "GrantExtended")
    assert programme.grants["app-malmo"].last_awarded_year == 2022


def test_an_extension_must_lie_within_the_programme() -> None:
    """An extension past last_year is refused on `amounts_ore.YEAR`."""
    established = establish(last_year=2020)
    programme = programme_with(
        set_appropriation(2018),
        set_appropriation(2019),
        set_appropriation(2020),
        application(amounts_ore={2020: 1}),
        award(amounts_ore={2020: 1}),
        established=established,
    )
    assert_refused(programme, extend(amounts_ore={2021: 1}), "amounts_ore.2021")


# --------------------------------------------------------------- the appropriation limits awards


def test_an_award_is_at_most_what_is_available_in_each_year() -> None:
    """Awarding more than appropriated minus awarded is refused on `amounts_ore.YEAR`."""
    programme = funded(
        application("app-stockholm", {2018: 600_000}, recipient=STOCKHOLM),
        award("app-stockholm", {2018: 600_000}),
        application("app-malmo", {2018: 500_000, 2019: 500_000}),
    )
    refusal = assert_refused(
        programme, award(amounts_ore={2018: 500_000, 2019: 500_000}), "amounts_ore.2018"
    )
    assert refusal.value == 500_000
    assert "400000 öre still available" in refusal.message
    assert_recorded(programme, award(amounts_ore={2018: 400_000, 2019: 500_000}), "GrantAwarded")
    assert programme.available_ore(2018) == 0
    assert programme.available_ore(2019) == APPROPRIATION - 500_000


def test_nothing_can_be_awarded_in_a_year_without_an_appropriation() -> None:
    """With no appropriation set for a year, an award in it is refused: 0 öre are available."""
    programme = programme_with(set_appropriation(2018), application(amounts_ore={2019: 1}))
    refusal = assert_refused(programme, award(amounts_ore={2019: 1}), "amounts_ore.2019")
    assert "0 öre still available" in refusal.message


def test_an_extension_is_at_most_what_is_available() -> None:
    """An extension beyond the year's available money is refused on `amounts_ore.YEAR`."""
    programme = awarded_malmo()
    assert_refused(programme, extend(amounts_ore={2021: APPROPRIATION + 1}), "amounts_ore.2021")
    assert_recorded(programme, extend(amounts_ore={2021: APPROPRIATION}), "GrantExtended")


def test_a_supplement_is_at_most_what_is_available() -> None:
    """A positive AmendAward beyond the year's available money is refused on `change_ore`."""
    programme = awarded_malmo()  # 500 000 of 1 000 000 awarded in 2018
    assert_refused(programme, amend_award(year=2018, change_ore=500_001), "change_ore")
    assert_recorded(programme, amend_award(year=2018, change_ore=500_000), "AwardAmended")
    assert programme.available_ore(2018) == 0


# --------------------------------------------------------------- a cut below what is awarded


def over_committed() -> Programme:
    """2018: Malmö awarded 800 000 and paid 400 000, then the appropriation cut to 500 000."""
    programme = funded(
        application(amounts_ore={2018: 800_000}),
        award(amounts_ore={2018: 800_000}),
        disburse(year=2018, amount_ore=400_000),
        application("app-stockholm", {2018: 100_000}, recipient=STOCKHOLM),
    )
    assert_recorded(programme, amend_appropriation(2018, -500_000), "AppropriationAmended")
    return programme


def test_a_cut_below_what_is_awarded_is_recorded_as_over_commitment() -> None:
    """Cutting a year below its awards is recorded, and available_ore goes negative."""
    programme = over_committed()
    assert programme.appropriated_ore[2018] == 500_000
    assert programme.awarded_ore[2018] == 800_000
    assert programme.available_ore(2018) == -300_000


def test_no_new_award_in_an_over_committed_year() -> None:
    """While a year is over-committed an AwardGrant in it is refused on `amounts_ore` (the year)."""
    programme = over_committed()
    refusal = assert_refused(programme, award("app-stockholm", {2018: 1}), "amounts_ore")
    assert refusal.value == 2018
    assert "over-committed by 300000 öre" in refusal.message


def test_no_extension_into_an_over_committed_year() -> None:
    """While a year is over-committed an ExtendGrant into it is refused."""
    programme = funded(
        application(amounts_ore={2018: 100_000}),
        award(amounts_ore={2018: 100_000}),
        application("app-stockholm", {2019: 900_000}, recipient=STOCKHOLM),
        award("app-stockholm", {2019: 900_000}),
        amend_appropriation(2019, -APPROPRIATION + 100_000),  # 2019: 100 000 left, 900 000 awarded
    )
    assert programme.available_ore(2019) == -800_000
    assert_refused(programme, extend(amounts_ore={2019: 1}), "amounts_ore")


def test_no_supplement_in_an_over_committed_year() -> None:
    """While a year is over-committed a positive AmendAward in it is refused on `change_ore`."""
    programme = over_committed()
    refusal = assert_refused(programme, amend_award(year=2018, change_ore=1), "change_ore")
    assert refusal.value == 2018


def test_reductions_disbursements_and_recoveries_go_on_in_an_over_committed_year() -> None:
    """Over-commitment blocks only new money: reduce, pay out and recover are still recorded."""
    programme = over_committed()
    assert_recorded(programme, amend_award(year=2018, change_ore=-100_000), "AwardAmended")
    assert programme.available_ore(2018) == -200_000
    assert_recorded(programme, disburse(year=2018, amount_ore=100_000), "FundsDisbursed")
    assert_recorded(programme, recover(year=2018, amount_ore=50_000), "FundsRecovered")


def test_awards_resume_once_the_appropriation_covers_what_is_awarded() -> None:
    """After a raise ends the over-commitment, awards up to what is available are recorded again."""
    programme = over_committed()
    assert_recorded(programme, amend_appropriation(2018, 300_000), "AppropriationAmended")
    assert programme.available_ore(2018) == 0
    assert_refused(programme, award("app-stockholm", {2018: 1}), "amounts_ore.2018")
    assert_recorded(programme, amend_appropriation(2018, 100_000), "AppropriationAmended")
    assert_recorded(programme, award("app-stockholm", {2018: 100_000}), "GrantAwarded")


# --------------------------------------------------------------- awarded versus requested


def test_an_award_is_at_most_what_was_requested() -> None:
    """Awarding more than requested for a year is refused on `amounts_ore.YEAR`."""
    programme = funded(application(amounts_ore={2018: 500_000}))
    refusal = assert_refused(programme, award(amounts_ore={2018: 500_001}), "amounts_ore.2018")
    assert refusal.value == 500_001
    assert_recorded(programme, award(amounts_ore={2018: 400_000}), "GrantAwarded")


def test_an_award_covers_only_requested_years() -> None:
    """Awarding a year the application did not ask for is refused on `amounts_ore.YEAR`."""
    programme = funded(application(amounts_ore={2018: 500_000}))
    assert_refused(programme, award(amounts_ore={2018: 500_000, 2019: 1}), "amounts_ore.2019")


def test_a_supplement_may_take_the_award_above_the_request() -> None:
    """A positive AmendAward is the one way to grant more than was requested."""
    programme = awarded_malmo({2018: 500_000})
    assert_recorded(programme, amend_award(year=2018, change_ore=100_000), "AwardAmended")
    grant = programme.grants["app-malmo"]
    assert grant.awarded_ore[2018] == 600_000 > grant.requested_ore[2018]


def test_an_amendment_applies_only_to_a_year_of_the_grant() -> None:
    """AmendAward for a year the grant does not cover is refused on `year`."""
    programme = awarded_malmo({2018: 500_000})
    assert_refused(programme, amend_award(year=2019, change_ore=1), "year")


# --------------------------------------------------------------- cost-share cap


def capped(*commands: CommandBase) -> Programme:
    """A funded programme that caps grants at 90 % of costs."""
    return funded(*commands, established=establish(cost_share_cap_percent=90))


def test_a_capped_programme_requires_total_cost_on_the_application() -> None:
    """An application to a capped programme without total_cost_ore is refused on it."""
    programme = capped()
    assert_refused(programme, application(), "total_cost_ore")
    assert_recorded(programme, application(total_cost_ore=1_000_000), "ApplicationSubmitted")


def test_an_uncapped_programme_needs_no_total_cost() -> None:
    """Without a cost-share cap total_cost_ore may be left out."""
    programme = funded()
    assert_recorded(programme, application(), "ApplicationSubmitted")


def test_an_award_covers_at_most_the_cap_share_of_costs() -> None:
    """Awarding over 90 % of total_cost_ore is refused on amounts_ore; exactly 90 % is recorded."""
    programme = capped(application(amounts_ore={2018: 1_000_000}, total_cost_ore=1_000_000))
    refusal = assert_refused(programme, award(amounts_ore={2018: 900_001}), "amounts_ore")
    assert refusal.value == 900_001
    assert_recorded(programme, award(amounts_ore={2018: 900_000}), "GrantAwarded")


def test_a_supplement_may_not_break_the_cost_share_cap() -> None:
    """A positive AmendAward taking the grant above 90 % of costs is refused on `change_ore`."""
    programme = capped(
        application(amounts_ore={2018: 800_000}, total_cost_ore=1_000_000),
        award(amounts_ore={2018: 800_000}),
    )
    assert_refused(programme, amend_award(year=2018, change_ore=100_001), "change_ore")
    assert_recorded(programme, amend_award(year=2018, change_ore=100_000), "AwardAmended")


def test_an_extension_of_a_capped_grant_with_costs_adds_them_and_stays_under_the_cap() -> None:
    """With total_cost_ore, the extension's costs are added: grant total / costs within 90 %."""
    programme = capped(
        application(amounts_ore={2018: 900_000}, total_cost_ore=1_000_000),
        award(amounts_ore={2018: 900_000}),
    )
    assert_refused(programme, extend(amounts_ore={2019: 90_000}), "amounts_ore")
    too_much = extend(amounts_ore={2019: 90_001}, total_cost_ore=100_000)
    assert_refused(programme, too_much, "amounts_ore")
    within = extend(amounts_ore={2019: 90_000}, total_cost_ore=100_000)
    assert_recorded(programme, within, "GrantExtended")
    assert programme.grants["app-malmo"].total_cost_ore == 1_100_000


def test_an_extension_of_a_capped_grant_without_costs_is_held_to_the_costs_already_stated() -> None:
    """ExtendGrant in the contract's shape (no total_cost_ore) is accepted on a capped
    programme while the whole grant stays within the cap of the costs the grant states."""
    programme = capped(
        application(amounts_ore={2018: 600_000}, total_cost_ore=1_000_000),
        award(amounts_ore={2018: 600_000}),
    )
    refusal = assert_refused(programme, extend(amounts_ore={2019: 300_001}), "amounts_ore")
    assert refusal.value == 900_001
    assert_recorded(programme, extend(amounts_ore={2019: 300_000}), "GrantExtended")
    assert programme.grants["app-malmo"].total_cost_ore == 1_000_000


# --------------------------------------------------------------- paying out and claiming back


def test_a_disbursement_is_at_most_what_is_awarded_and_not_yet_paid() -> None:
    """Paying out more than awarded minus disbursed for the grant-year is refused on amount_ore."""
    programme = awarded_malmo({2018: 500_000})
    assert_recorded(programme, disburse(year=2018, amount_ore=300_000), "FundsDisbursed")
    refusal = assert_refused(programme, disburse(year=2018, amount_ore=200_001), "amount_ore")
    assert refusal.value == 200_001
    assert_recorded(programme, disburse(year=2018, amount_ore=200_000), "FundsDisbursed")
    assert_refused(programme, disburse(year=2018, amount_ore=1), "amount_ore")


def test_a_disbursement_is_for_a_year_of_an_awarded_grant() -> None:
    """A payment outside the grant's years is refused on year; before an award on application_id."""
    programme = awarded_malmo(
        {2018: 500_000}, application("app-stockholm", {2018: 1}, recipient=STOCKHOLM)
    )
    assert_refused(programme, disburse(year=2019, amount_ore=1), "year")
    assert_refused(programme, disburse("app-stockholm", 2018, 1), "application_id")


def test_a_recovery_is_at_most_what_was_paid_out_and_not_yet_recovered() -> None:
    """Claiming back more than disbursed minus recovered is refused on `amount_ore`."""
    programme = awarded_malmo({2018: 500_000}, disburse(year=2018, amount_ore=300_000))
    assert_refused(programme, recover(year=2018, amount_ore=300_001), "amount_ore")
    assert_recorded(programme, recover(year=2018, amount_ore=200_000), "FundsRecovered")
    assert_refused(programme, recover(year=2018, amount_ore=100_001), "amount_ore")
    assert_recorded(programme, recover(year=2018, amount_ore=100_000), "FundsRecovered")


def test_nothing_can_be_recovered_before_anything_is_paid_out() -> None:
    """A recovery on a grant-year with no disbursement is refused on `amount_ore`."""
    programme = awarded_malmo({2018: 500_000})
    assert_refused(programme, recover(year=2018, amount_ore=1), "amount_ore")


def test_a_reduction_may_not_go_below_what_was_paid_out_net_of_recoveries() -> None:
    """Reducing an award below disbursed minus recovered is refused on `change_ore`."""
    programme = awarded_malmo({2018: 500_000}, disburse(year=2018, amount_ore=300_000))
    refusal = assert_refused(programme, amend_award(year=2018, change_ore=-200_001), "change_ore")
    assert refusal.value == -200_001
    assert_recorded(programme, amend_award(year=2018, change_ore=-200_000), "AwardAmended")
    assert_refused(programme, amend_award(year=2018, change_ore=-1), "change_ore")
    assert_recorded(programme, recover(year=2018, amount_ore=100_000), "FundsRecovered")
    assert_recorded(programme, amend_award(year=2018, change_ore=-100_000), "AwardAmended")
    assert programme.grants["app-malmo"].awarded_ore[2018] == 200_000


def test_a_reduction_frees_money_for_other_awards() -> None:
    """A negative AmendAward makes its amount available again in that year."""
    programme = awarded_malmo({2018: APPROPRIATION})
    assert programme.available_ore(2018) == 0
    assert_recorded(programme, amend_award(year=2018, change_ore=-300_000), "AwardAmended")
    assert programme.available_ore(2018) == 300_000


# --------------------------------------------------------------- decisions on applications


def test_only_a_submitted_application_can_be_rejected() -> None:
    """Rejecting an awarded or an already rejected application is refused on `application_id`."""
    programme = awarded_malmo(
        {2018: 1}, application("app-stockholm", {2018: 1}, recipient=STOCKHOLM)
    )
    assert_refused(programme, reject("app-malmo"), "application_id")
    assert_recorded(programme, reject("app-stockholm"), "ApplicationRejected")
    assert_refused(programme, reject("app-stockholm"), "application_id")


def test_only_a_submitted_application_can_be_awarded() -> None:
    """Awarding an awarded or a rejected application is refused on `application_id`."""
    programme = awarded_malmo(
        {2018: 1},
        application("app-stockholm", {2018: 1}, recipient=STOCKHOLM),
        reject("app-stockholm"),
    )
    assert_refused(programme, award("app-malmo", {2018: 1}), "application_id")
    assert_refused(programme, award("app-stockholm", {2018: 1}), "application_id")


def test_a_decision_names_an_application_of_the_programme() -> None:
    """A decision on an application the programme does not hold is refused on `application_id`."""
    programme = funded()
    refusal = assert_refused(programme, award("app-unknown", {2018: 1}), "application_id")
    assert refusal.value == "app-unknown"


def test_an_application_id_is_used_once_in_a_programme() -> None:
    """A second application with the same id is refused on `application_id`."""
    programme = funded(application("app-malmo"))
    assert_refused(programme, application("app-malmo", recipient=STOCKHOLM), "application_id")


# --------------------------------------------------------------- the administering agency


# A command of one type built from the acting agency and the business date.
BuildCommand = Callable[[str, date], CommandBase]


def _param(build: BuildCommand, name: str) -> Any:
    return pytest.param(build, id=name)


# Each builds one command of its type from `agency`, dated `day`, valid on `with_grants()`.
AGENCY_COMMANDS = [
    _param(lambda a, d: set_appropriation(2024, agency=a, effective_date=d), "SetAppropriation"),
    _param(lambda a, d: amend_appropriation(2018, 1, agency=a, effective_date=d), "AmendAppr."),
    _param(lambda a, d: hand_over(THIRD_AGENCY, agency=a, effective_date=d), "HandOver"),
    _param(
        lambda a, d: application("app-new", recipient=STOCKHOLM, agency=a, effective_date=d),
        "SubmitApplication",
    ),
    _param(lambda a, d: award("app-submitted", {2018: 1}, agency=a, effective_date=d), "Award"),
    _param(lambda a, d: reject("app-submitted", agency=a, effective_date=d), "Reject"),
    _param(lambda a, d: disburse(amount_ore=1, agency=a, effective_date=d), "Disburse"),
    _param(lambda a, d: extend(amounts_ore={2019: 1}, agency=a, effective_date=d), "Extend"),
    _param(lambda a, d: amend_award(change_ore=1, agency=a, effective_date=d), "AmendAward"),
    _param(lambda a, d: recover(amount_ore=1, agency=a, effective_date=d), "Recover"),
]


def with_grants(*commands: CommandBase) -> Programme:
    """Malmö awarded 2018 with money paid out; Göteborg submitted; all by tillvaxtverket."""
    return funded(
        application(amounts_ore={2018: 500_000}),
        award(amounts_ore={2018: 400_000}),
        disburse(year=2018, amount_ore=100_000),
        application("app-submitted", {2018: 1}, recipient=GOTEBORG),
        *commands,
    )


@pytest.mark.parametrize("build", AGENCY_COMMANDS)
def test_only_the_administering_agency_may_act(build: BuildCommand) -> None:
    """Another agency is refused on `agency`; the same command from the administering one is not."""
    programme = with_grants()
    refusal = assert_refused(programme, build(SUCCESSOR, DECIDED_ON), "agency")
    assert refusal.value == SUCCESSOR
    assert AGENCY in refusal.message
    version = programme.version
    perform(programme, build(AGENCY, DECIDED_ON))
    assert len(programme.collect_events()) == 1
    assert programme.version == version + 1


@pytest.mark.parametrize("build", AGENCY_COMMANDS)
def test_after_a_handover_only_the_new_agency_may_act(build: BuildCommand) -> None:
    """Once a handover has taken effect the old agency is refused on `agency`; the new one acts."""
    programme = with_grants(hand_over(SUCCESSOR, effective_date=HANDED_OVER_ON))
    after = HANDED_OVER_ON.replace(month=2)
    refusal = assert_refused(programme, build(AGENCY, after), "agency")
    assert refusal.value == AGENCY
    perform(programme, build(SUCCESSOR, after))
    assert len(programme.collect_events()) == 1


def test_a_handover_recorded_ahead_takes_effect_on_its_effective_date() -> None:
    """A handover recorded before its effective date leaves the old agency in charge until then."""
    programme = funded()
    assert_recorded(
        programme,
        hand_over(SUCCESSOR, effective_date=HANDED_OVER_ON),
        "ProgrammeHandedOver",
        recorded_at=recorded_on(DECIDED_ON),
    )
    before = HANDED_OVER_ON.replace(year=2020, month=12, day=31)
    assert_refused(
        programme, set_appropriation(2024, agency=SUCCESSOR, effective_date=before), "agency"
    )
    assert_recorded(programme, set_appropriation(2024, effective_date=before), "AppropriationSet")
    assert_refused(programme, set_appropriation(2025, effective_date=HANDED_OVER_ON), "agency")
    on_the_day = set_appropriation(2025, agency=SUCCESSOR, effective_date=HANDED_OVER_ON)
    assert_recorded(programme, on_the_day, "AppropriationSet")


def test_the_agency_in_charge_is_that_of_the_recording_date() -> None:
    """Who may act is decided by when the command is recorded, not by its effective date."""
    programme = funded(hand_over(SUCCESSOR, effective_date=HANDED_OVER_ON))
    backdated = set_appropriation(2024, agency=SUCCESSOR, effective_date=DECIDED_ON)
    assert_recorded(
        programme, backdated, "AppropriationSet", recorded_at=recorded_on(HANDED_OVER_ON)
    )
    backdated_by_old = set_appropriation(2025, agency=AGENCY, effective_date=DECIDED_ON)
    assert_refused(programme, backdated_by_old, "agency", recorded_at=recorded_on(HANDED_OVER_ON))


def test_a_handover_goes_to_a_different_agency() -> None:
    """Handing the programme over to the agency that already has it is refused on `to_agency`."""
    programme = funded()
    assert_refused(programme, hand_over(AGENCY), "to_agency")
    assert_recorded(programme, hand_over(SUCCESSOR), "ProgrammeHandedOver")


def test_a_handover_cannot_take_effect_before_the_previous_one() -> None:
    """A handover dated before the previous one is refused on effective_date; the same day is OK."""
    programme = funded(hand_over(SUCCESSOR, effective_date=HANDED_OVER_ON))
    later = recorded_on(HANDED_OVER_ON.replace(month=6))
    early = hand_over(THIRD_AGENCY, agency=SUCCESSOR, effective_date=DECIDED_ON)
    refusal = assert_refused(programme, early, "effective_date", recorded_at=later)
    assert refusal.value == DECIDED_ON.isoformat()
    same_day = hand_over(THIRD_AGENCY, agency=SUCCESSOR, effective_date=HANDED_OVER_ON)
    assert_recorded(programme, same_day, "ProgrammeHandedOver", recorded_at=later)
    assert programme.agency_on(DECIDED_ON) == AGENCY
    assert programme.agency_on(HANDED_OVER_ON) == THIRD_AGENCY


def test_a_first_handover_cannot_take_effect_before_the_programme_was_established() -> None:
    """A handover dated before the establishment is refused on `effective_date`."""
    programme = funded()
    before = hand_over(SUCCESSOR, effective_date=ESTABLISHED_ON.replace(day=14))
    assert_refused(programme, before, "effective_date", recorded_at=recorded_on(DECIDED_ON))


def test_the_timeline_answers_who_administered_the_programme_when() -> None:
    """agency_on(date) gives the agency in charge on that business date."""
    programme = funded(hand_over(SUCCESSOR, effective_date=HANDED_OVER_ON))
    assert programme.agency_on(HANDED_OVER_ON.replace(year=2020)) == AGENCY
    assert programme.agency_on(HANDED_OVER_ON) == SUCCESSOR


def test_a_handover_comes_from_the_agency_in_charge_just_before_it() -> None:
    """Every recorded handover's from_agency is the agency administering the programme the day
    before it takes effect (a second handover during a pending one is refused or says so)."""
    programme = funded()
    events = []
    first = hand_over(SUCCESSOR, effective_date=HANDED_OVER_ON)
    perform(programme, first, recorded_at=recorded_on(DECIDED_ON))  # recorded ahead
    events += programme.collect_events()
    second = hand_over(THIRD_AGENCY, effective_date=HANDED_OVER_ON.replace(month=6))
    with contextlib.suppress(RuleViolation):
        perform(programme, second, recorded_at=recorded_on(DECIDED_ON.replace(month=7)))
    events += programme.collect_events()
    handovers = [event for event in events if event.data.type == "ProgrammeHandedOver"]
    assert handovers
    for event in handovers:
        day_before = event.effective_date - timedelta(days=1)
        assert isinstance(event.data, ProgrammeHandedOver), event.data
        assert event.data.from_agency == programme.agency_on(day_before), event.data


# --------------------------------------------------------------- limits and the books' order


def test_an_appropriation_cannot_be_raised_past_the_ledgers_maximum() -> None:
    """A raise beyond MAX_AMOUNT_ORE is refused on `change_ore`, not an overflow crash."""
    programme = programme_with(set_appropriation(2019, MAX_AMOUNT_ORE))
    assert_refused(programme, amend_appropriation(2019, 1), "change_ore")
    assert_recorded(programme, amend_appropriation(2019, -1), "AppropriationAmended")


def test_a_handover_cannot_reach_back_behind_acts_already_in_the_books() -> None:
    """A handover effective before an act already recorded would re-attribute it: refused."""
    programme = with_grants(disburse(year=2018, amount_ore=1, effective_date=date(2021, 2, 1)))
    late = hand_over(SUCCESSOR, effective_date=date(2021, 1, 1))
    assert_refused(programme, late, "effective_date", recorded_at=recorded_on(date(2021, 3, 1)))
    on_time = hand_over(SUCCESSOR, effective_date=date(2021, 2, 1))
    assert_recorded(programme, on_time, "ProgrammeHandedOver", recorded_on(date(2021, 3, 1)))
