"""Commands, version 1: what an agency officer asks the ledger to record."""

from typing import Annotated, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)

from schemas.calendar import IsoDate, Year, YearKey
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
# A documented optional field that a rule then requires, published in the field's schema as
# `x-required-when` (naming the programme setting the rule depends on). Giving a field that
# had none such a condition breaks clients that leave it out: the compatibility gate
# (schemas/compatibility.py) counts it as the field becoming required.
REQUIRED_WHEN: Final = "x-required-when"
COST_SHARE_CAP = "cost_share_cap_percent"


def required_when(programme_setting: str) -> dict[str, JsonValue]:
    """The schema annotation of a field the programme's `programme_setting` makes required."""
    return {REQUIRED_WHEN: f"programme.{programme_setting}"}


class CommandBase(BaseModel):
    """Fields every command carries."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    command_id: Identifier = Field(description="Client-chosen idempotency key.")
    actor: Text = Field(description="User id of the officer issuing the command.")
    agency: AgencySlug = Field(description="The acting agency (slug), e.g. tillvaxtverket.")
    effective_date: IsoDate | None = Field(
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

    # Field validators (not a model validator) so a refusal names the field and its value;
    # each sees the fields declared before it in `info.data`.
    @field_validator("last_year")
    @classmethod
    def _not_before_first_year(cls, last_year: int, info: ValidationInfo) -> int:
        first_year = info.data.get("first_year")
        if first_year is not None and last_year < first_year:
            raise ValueError(f"last_year {last_year} is before first_year {first_year}")
        return last_year

    @field_validator("recipient_types")
    @classmethod
    def _distinct_types(cls, types: list[RecipientType]) -> list[RecipientType]:
        if len(set(types)) != len(types):
            raise ValueError("recipient_types has duplicates")
        return types

    @field_validator("eligible")
    @classmethod
    def _eligible_codes(cls, eligible: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if eligible is None:
            return None
        if len(set(eligible)) != len(eligible):
            raise ValueError("eligible has duplicate codes")
        types = info.data.get("recipient_types") or list(RecipientType)
        for code in eligible:
            problems = [recipient_code_problem(code, t) for t in types]
            if all(problems):
                raise ValueError(f"eligible code {code!r}: {problems[0]}")
        return eligible


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
    recipient_type: RecipientType
    recipient: RecipientCode
    amounts_ore: Annotated[dict[YearKey, PositiveOre], Field(min_length=1)]
    total_cost_ore: PositiveOre | None = Field(
        default=None,
        description="The costs of the measures, in integer öre. Required when the programme "
        f"caps grants at a share of costs ({COST_SHARE_CAP}).",
        json_schema_extra=required_when(COST_SHARE_CAP),
    )

    @field_validator("recipient")
    @classmethod
    def _recipient_code(cls, recipient: str, info: ValidationInfo) -> str:
        recipient_type = info.data.get("recipient_type")
        if recipient_type is not None:
            problem = recipient_code_problem(recipient, recipient_type)
            if problem:
                raise ValueError(problem)
        return recipient


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
    total_cost_ore: PositiveOre | None = Field(
        default=None,
        description="The costs of the new years' measures in integer öre, added to the "
        "grant's. Without it a cost-share cap is checked against the costs already stated.",
    )


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
