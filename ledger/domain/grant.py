"""The state of one application/grant inside its programme."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any


class GrantStatus(StrEnum):
    """Where an application stands."""

    SUBMITTED = "submitted"
    AWARDED = "awarded"
    REJECTED = "rejected"


@dataclass(slots=True)
class Grant:
    """An application and, once decided, its grant: amounts per year in öre."""

    application_id: str
    recipient: str
    recipient_type: str
    requested_ore: dict[int, int]
    total_cost_ore: int | None
    status: GrantStatus = GrantStatus.SUBMITTED
    awarded_ore: dict[int, int] = field(default_factory=dict)
    disbursed_ore: dict[int, int] = field(default_factory=dict)
    recovered_ore: dict[int, int] = field(default_factory=dict)
    conditions: list[str] = field(default_factory=list)

    @property
    def last_awarded_year(self) -> int:
        """The last year the grant covers."""
        assert self.awarded_ore, "only an awarded grant has years"
        return max(self.awarded_ore)

    def net_disbursed_ore(self, year: int) -> int:
        """Paid out minus claimed back for a year."""
        return self.disbursed_ore.get(year, 0) - self.recovered_ore.get(year, 0)

    def undisbursed_ore(self, year: int) -> int:
        """Awarded but not yet paid out for a year."""
        return self.awarded_ore.get(year, 0) - self.disbursed_ore.get(year, 0)

    def copy(self) -> Grant:
        """An independent copy: every field is a value or a flat container of values."""
        return Grant(*(_copied(getattr(self, name)) for name in _FIELD_NAMES))

    def check_invariants(self) -> None:
        """Assert what must hold after every event."""
        for year, disbursed in self.disbursed_ore.items():
            recovered = self.recovered_ore.get(year, 0)
            assert 0 <= recovered <= disbursed, (self.application_id, year, recovered, disbursed)
        for year, awarded in self.awarded_ore.items():
            assert awarded >= self.net_disbursed_ore(year), (self.application_id, year)


_FIELD_NAMES = tuple(each.name for each in fields(Grant))


def _copied(value: Any) -> Any:
    if isinstance(value, dict | list):
        return value.copy()
    assert isinstance(value, str | int | type(None)), f"copy a {type(value).__name__} deeper"
    return value
