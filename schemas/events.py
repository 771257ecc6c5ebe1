"""Events, version 1: the facts the ledger records. `data` of every message on the topic."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from schemas.calendar import Year, YearKey
from schemas.identifiers import (
    AgencySlug,
    CostSharePercent,
    Identifier,
    MaxYearsPerDecision,
    RecipientCode,
    Reference,
    Text,
)
from schemas.money import NonNegativeOre, PositiveOre, SignedOre
from schemas.recipients import RecipientType

EVENT_SCHEMA_VERSION = 1

YearAmounts = Annotated[dict[YearKey, PositiveOre], Field(min_length=1)]


class EventData(BaseModel):
    """Base of every event's own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    programme_id: Identifier


class GrantEventData(EventData):
    """Base of the events about one application/grant."""

    application_id: Identifier
    recipient: RecipientCode


class ProgrammeEstablished(EventData):
    """A grant programme was created with these rules."""

    type: Literal["ProgrammeEstablished"] = "ProgrammeEstablished"
    name: Text
    ordinance: Reference
    administering_agency: AgencySlug
    first_year: Year
    last_year: Year
    recipient_types: list[RecipientType]
    eligible: list[RecipientCode] | None
    max_years_per_decision: MaxYearsPerDecision
    cost_share_cap_percent: CostSharePercent | None


class AppropriationSet(EventData):
    """A year's appropriation was set by a budget decision."""

    type: Literal["AppropriationSet"] = "AppropriationSet"
    year: Year
    amount_ore: NonNegativeOre
    decision_ref: Reference


class AppropriationAmended(EventData):
    """A year's appropriation was raised or cut; `amount_ore` is the year's new appropriation."""

    type: Literal["AppropriationAmended"] = "AppropriationAmended"
    year: Year
    change_ore: SignedOre
    amount_ore: NonNegativeOre
    decision_ref: Reference
    reason: Text


class ProgrammeHandedOver(EventData):
    """Administration of the programme moved to another agency from the effective date."""

    type: Literal["ProgrammeHandedOver"] = "ProgrammeHandedOver"
    from_agency: AgencySlug
    to_agency: AgencySlug
    decision_ref: Reference


class ApplicationSubmitted(GrantEventData):
    """A recipient applied for amounts per year."""

    type: Literal["ApplicationSubmitted"] = "ApplicationSubmitted"
    recipient_type: RecipientType
    amounts_ore: YearAmounts
    total_cost_ore: PositiveOre | None


class ApplicationRejected(GrantEventData):
    """The application was refused."""

    type: Literal["ApplicationRejected"] = "ApplicationRejected"
    decision_ref: Reference
    reason: Text


class GrantAwarded(GrantEventData):
    """A grant decision: amounts per year awarded on the application."""

    type: Literal["GrantAwarded"] = "GrantAwarded"
    amounts_ore: YearAmounts
    decision_ref: Reference
    conditions: list[Text]


class GrantExtended(GrantEventData):
    """Further years awarded directly after the grant's last year."""

    type: Literal["GrantExtended"] = "GrantExtended"
    amounts_ore: YearAmounts
    decision_ref: Reference
    total_cost_ore: PositiveOre | None


class AwardAmended(GrantEventData):
    """A grant-year's award was supplemented (positive) or reduced (negative)."""

    type: Literal["AwardAmended"] = "AwardAmended"
    year: Year
    change_ore: SignedOre
    decision_ref: Reference
    reason: Text


class FundsDisbursed(GrantEventData):
    """Awarded money for a grant-year was paid out."""

    type: Literal["FundsDisbursed"] = "FundsDisbursed"
    year: Year
    amount_ore: PositiveOre
    payment_ref: Reference


class FundsRecovered(GrantEventData):
    """Disbursed money for a grant-year was claimed back (återkrav)."""

    type: Literal["FundsRecovered"] = "FundsRecovered"
    year: Year
    amount_ore: PositiveOre
    decision_ref: Reference
    reason: Text


AnyEventData = Annotated[
    ProgrammeEstablished
    | AppropriationSet
    | AppropriationAmended
    | ProgrammeHandedOver
    | ApplicationSubmitted
    | ApplicationRejected
    | GrantAwarded
    | GrantExtended
    | AwardAmended
    | FundsDisbursed
    | FundsRecovered,
    Field(discriminator="type"),
]

EVENT_DATA_ADAPTER: TypeAdapter[AnyEventData] = TypeAdapter(AnyEventData)

EVENT_TYPES: tuple[type[EventData], ...] = (
    ProgrammeEstablished,
    AppropriationSet,
    AppropriationAmended,
    ProgrammeHandedOver,
    ApplicationSubmitted,
    ApplicationRejected,
    GrantAwarded,
    GrantExtended,
    AwardAmended,
    FundsDisbursed,
    FundsRecovered,
)
