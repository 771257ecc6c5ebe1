"""Events, version 1: the facts the ledger records. `data` of every message on the topic.

Each model declares its `meaning` for the balances (schemas/meaning.py) beside its fields; the
checks at the end of this module fail at import when an event type lacks one or it does not fit.
"""

import typing
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.fields import FieldInfo

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
from schemas.meaning import GRANT_MEASURES, YEAR_FIELD, Meaning, Measure, Span
from schemas.money import NonNegativeOre, PositiveOre, SignedOre
from schemas.recipients import RecipientType

EVENT_SCHEMA_VERSION = 1

YearAmounts = Annotated[dict[YearKey, PositiveOre], Field(min_length=1)]


class EventData(BaseModel):
    """Base of every event's own fields; each event type declares its `meaning`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    meaning: ClassVar[Meaning]

    programme_id: Identifier


class GrantEventData(EventData):
    """Base of the events about one application/grant."""

    application_id: Identifier
    recipient: RecipientCode


class ProgrammeEstablished(EventData):
    """A grant programme was created with these rules."""

    meaning: ClassVar[Meaning] = Meaning(agency_field="administering_agency")
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

    meaning: ClassVar[Meaning] = Meaning(Measure.APPROPRIATED, "amount_ore", Span.ONE_YEAR)
    type: Literal["AppropriationSet"] = "AppropriationSet"
    year: Year
    amount_ore: NonNegativeOre
    decision_ref: Reference


class AppropriationAmended(EventData):
    """A year's appropriation was raised or cut; `amount_ore` is the year's new appropriation."""

    meaning: ClassVar[Meaning] = Meaning(
        Measure.APPROPRIATED, "change_ore", Span.ONE_YEAR, signed=True
    )
    type: Literal["AppropriationAmended"] = "AppropriationAmended"
    year: Year
    change_ore: SignedOre
    amount_ore: NonNegativeOre
    decision_ref: Reference
    reason: Text


class ProgrammeHandedOver(EventData):
    """Administration of the programme moved to another agency from the effective date."""

    meaning: ClassVar[Meaning] = Meaning(agency_field="to_agency")
    type: Literal["ProgrammeHandedOver"] = "ProgrammeHandedOver"
    from_agency: AgencySlug
    to_agency: AgencySlug
    decision_ref: Reference


class ApplicationSubmitted(GrantEventData):
    """A recipient applied for amounts per year."""

    meaning: ClassVar[Meaning] = Meaning(Measure.REQUESTED, "amounts_ore", Span.YEARS)
    type: Literal["ApplicationSubmitted"] = "ApplicationSubmitted"
    recipient_type: RecipientType
    amounts_ore: YearAmounts
    total_cost_ore: PositiveOre | None


class ApplicationRejected(GrantEventData):
    """The application was refused."""

    meaning: ClassVar[Meaning] = Meaning()
    type: Literal["ApplicationRejected"] = "ApplicationRejected"
    decision_ref: Reference
    reason: Text


class GrantAwarded(GrantEventData):
    """A grant decision: amounts per year awarded on the application."""

    meaning: ClassVar[Meaning] = Meaning(Measure.AWARDED, "amounts_ore", Span.YEARS)
    type: Literal["GrantAwarded"] = "GrantAwarded"
    amounts_ore: YearAmounts
    decision_ref: Reference
    conditions: list[Text]


class GrantExtended(GrantEventData):
    """Further years awarded directly after the grant's last year."""

    meaning: ClassVar[Meaning] = Meaning(Measure.AWARDED, "amounts_ore", Span.YEARS)
    type: Literal["GrantExtended"] = "GrantExtended"
    amounts_ore: YearAmounts
    decision_ref: Reference
    total_cost_ore: PositiveOre | None


class AwardAmended(GrantEventData):
    """A grant-year's award was supplemented (positive) or reduced (negative)."""

    meaning: ClassVar[Meaning] = Meaning(Measure.AWARDED, "change_ore", Span.ONE_YEAR, signed=True)
    type: Literal["AwardAmended"] = "AwardAmended"
    year: Year
    change_ore: SignedOre
    decision_ref: Reference
    reason: Text


class FundsDisbursed(GrantEventData):
    """Awarded money for a grant-year was paid out."""

    meaning: ClassVar[Meaning] = Meaning(Measure.DISBURSED, "amount_ore", Span.ONE_YEAR)
    type: Literal["FundsDisbursed"] = "FundsDisbursed"
    year: Year
    amount_ore: PositiveOre
    payment_ref: Reference


class FundsRecovered(GrantEventData):
    """Disbursed money for a grant-year was claimed back (återkrav)."""

    meaning: ClassVar[Meaning] = Meaning(Measure.RECOVERED, "amount_ore", Span.ONE_YEAR)
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

# --------------------------------------------------------------------------- the checks


def event_type_name(model: type[EventData]) -> str:
    """The `type` string of an event model (its Literal default)."""
    name = model.model_fields["type"].default
    assert isinstance(name, str), model
    return name


def _lower_bound(field: FieldInfo) -> Any:
    for constraint in field.metadata:
        for bound in ("ge", "gt"):
            if hasattr(constraint, bound):
                return getattr(constraint, bound)
    return None


def check_meaning(model: type[EventData]) -> None:
    """Fail loudly when an event type declares no meaning, or one its fields cannot carry."""
    name = model.__name__
    assert "meaning" in model.__dict__, f"{name} declares no `meaning` (schemas/meaning.py)"
    meaning = model.meaning
    fields = model.model_fields
    if meaning.agency_field is not None:
        assert meaning.agency_field in fields, f"{name}: no field {meaning.agency_field}"
    if meaning.measure is None:
        return
    assert meaning.amount_field in fields, f"{name}: no field {meaning.amount_field}"
    amount = fields[meaning.amount_field]
    grant_event = issubclass(model, GrantEventData)
    assert (meaning.measure in GRANT_MEASURES) == grant_event, (
        f"{name}: {meaning.measure.name} needs {'a' if not grant_event else 'no'} recipient"
    )
    if meaning.span is Span.YEARS:
        assert typing.get_origin(amount.annotation) is dict, f"{name}: {amount} is no year map"
        assert not meaning.signed, f"{name}: a map of years holds amounts, not changes"
        return
    assert YEAR_FIELD in fields, f"{name}: one year's amount needs a `{YEAR_FIELD}` field"
    bound = _lower_bound(amount)
    assert bound is not None and (bound < 0) == meaning.signed, (
        f"{name}.{meaning.amount_field}: lower bound {bound} vs signed={meaning.signed}"
    )


assert set(typing.get_args(typing.get_args(AnyEventData)[0])) == set(EVENT_TYPES), (
    "AnyEventData and EVENT_TYPES must list the same event types"
)
for _model in EVENT_TYPES:
    check_meaning(_model)

MEANING_BY_TYPE: dict[str, Meaning] = {
    event_type_name(model): model.meaning for model in EVENT_TYPES
}
