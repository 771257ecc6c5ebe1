"""Commands, version 1: what an agency officer asks the ledger to record."""

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

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
from schemas.recipients import RecipientType, recipient_code_problem

COMMAND_SCHEMA_VERSION = 1
CONDITIONS_MAX = 50


class CommandBase(BaseModel):
    """Fields every command carries."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    command_id: Identifier = Field(description="Client-chosen idempotency key.")
    actor: Text = Field(description="User id of the officer issuing the command.")
    agency: AgencySlug = Field(description="The acting agency (slug), e.g. tillvaxtverket.")
    effective_date: date | None = Field(
        default=None, description="Business date (YYYY-MM-DD); default today in Europe/Stockholm."
    )
    note: Text | None = None


def _no_zero(value: int) -> int:
    if value == 0:
        raise ValueError("must be non-zero: a change of 0 öre records nothing")
    return value


class EstablishProgramme(CommandBase):
    """Create a grant programme with its rules."""

    type: Literal["EstablishProgramme"]
    programme_id: Identifier
    name: Text
    ordinance: Reference
    administering_agency: AgencySlug
    first_year: Year
    last_year: Year
    recipient_types: Annotated[list[RecipientType], Field(min_length=1, max_length=3)]
    eligible: list[RecipientCode] | None = None
    max_years_per_decision: MaxYearsPerDecision = 3
    cost_share_cap_percent: CostSharePercent | None = None

    @model_validator(mode="after")
    def _years_and_eligible(self) -> "EstablishProgramme":
        if self.last_year < self.first_year:
            raise ValueError(
                f"last_year {self.last_year} is before first_year {self.first_year}"
            )
        if len(set(self.recipient_types)) != len(self.recipient_types):
            raise ValueError(f"recipient_types has duplicates: {self.recipient_types}")
        if self.eligible is not None:
            if len(set(self.eligible)) != len(self.eligible):
                raise ValueError("eligible has duplicate codes")
            for code in self.eligible:
                problems = [recipient_code_problem(code, t) for t in self.recipient_types]
                if all(problems):
                    raise ValueError(f"eligible code {code!r}: {problems[0]}")
        return self


class SetAppropriation(CommandBase):
    """Record the appropriation (anslag) a budget decision gives the programme for a year."""

    type: Literal["SetAppropriation"]
    programme_id: Identifier
    year: Year
    amount_ore: NonNegativeOre
    decision_ref: Reference


class AmendAppropriation(CommandBase):
    """Raise or cut a year's appropriation (amending budget)."""

    type: Literal["AmendAppropriation"]
    programme_id: Identifier
    year: Year
    change_ore: SignedOre
    decision_ref: Reference
    reason: Text

    _non_zero = field_validator("change_ore")(_no_zero)


class HandOverProgramme(CommandBase):
    """Move the programme's administration to another agency."""

    type: Literal["HandOverProgramme"]
    programme_id: Identifier
    to_agency: AgencySlug
    decision_ref: Reference


class SubmitApplication(CommandBase):
    """Register a recipient's application for money in one or more years."""

    type: Literal["SubmitApplication"]
    application_id: Identifier
    programme_id: Identifier
    recipient: RecipientCode
    recipient_type: RecipientType
    amounts_ore: Annotated[dict[YearKey, PositiveOre], Field(min_length=1)]
    total_cost_ore: PositiveOre | None = None

    @model_validator(mode="after")
    def _recipient_code(self) -> "SubmitApplication":
        problem = recipient_code_problem(self.recipient, self.recipient_type)
        if problem:
            raise ValueError(f"recipient: {problem}")
        return self


class AwardGrant(CommandBase):
    """Decide to grant (beslut om bidrag) amounts per year on an application."""

    type: Literal["AwardGrant"]
    application_id: Identifier
    amounts_ore: Annotated[dict[YearKey, PositiveOre], Field(min_length=1)]
    decision_ref: Reference
    conditions: Annotated[list[Text], Field(max_length=CONDITIONS_MAX)] = []


class RejectApplication(CommandBase):
    """Decide not to grant an application."""

    type: Literal["RejectApplication"]
    application_id: Identifier
    decision_ref: Reference
    reason: Text


class DisburseFunds(CommandBase):
    """Pay out awarded money for a grant-year."""

    type: Literal["DisburseFunds"]
    application_id: Identifier
    year: Year
    amount_ore: PositiveOre
    payment_ref: Reference


class ExtendGrant(CommandBase):
    """Award further years directly after an awarded grant's last year."""

    type: Literal["ExtendGrant"]
    application_id: Identifier
    amounts_ore: Annotated[dict[YearKey, PositiveOre], Field(min_length=1)]
    decision_ref: Reference
    total_cost_ore: PositiveOre | None = None


class AmendAward(CommandBase):
    """Supplement (positive) or reduce (negative) an awarded grant-year."""

    type: Literal["AmendAward"]
    application_id: Identifier
    year: Year
    change_ore: SignedOre
    decision_ref: Reference
    reason: Text

    _non_zero = field_validator("change_ore")(_no_zero)


class RecoverFunds(CommandBase):
    """Claw back disbursed money (återkrav)."""

    type: Literal["RecoverFunds"]
    application_id: Identifier
    year: Year
    amount_ore: PositiveOre
    decision_ref: Reference
    reason: Text


Command = Annotated[
    EstablishProgramme
    | SetAppropriation
    | AmendAppropriation
    | HandOverProgramme
    | SubmitApplication
    | AwardGrant
    | RejectApplication
    | DisburseFunds
    | ExtendGrant
    | AmendAward
    | RecoverFunds,
    Field(discriminator="type"),
]

COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)

PROGRAMME_COMMANDS = (EstablishProgramme, SetAppropriation, AmendAppropriation, HandOverProgramme)
APPLICATION_COMMANDS = (
    SubmitApplication,
    AwardGrant,
    RejectApplication,
    DisburseFunds,
    ExtendGrant,
    AmendAward,
    RecoverFunds,
)
