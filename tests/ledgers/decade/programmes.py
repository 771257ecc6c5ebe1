"""The 30 programmes of the decade ledger.

SFS 2018:151 follows what happened (the README's "The domain"): 32 eligible municipalities, at most
90 % of costs, Tillväxtverket until Delmos took over; SFS 2018:118 and 2018:119 are Delmos's own
streams to municipalities/regions and to organisations. The other 27 are synthetic programmes in
their image (their ordinance numbers are made up), spread over 2016-2025 and over the agencies that
run such grants. Assumptions, not public record: the handover dates (Delmos from 2021-01-01) and
Socialstyrelsen as Delmos's successor from 2023-01-01."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from schemas.recipients import RecipientType, eligible_sfs_2018_151

MUNICIPALITY = (RecipientType.MUNICIPALITY,)
REGION = (RecipientType.REGION,)
ORGANISATION = (RecipientType.ORGANISATION,)
PUBLIC = (RecipientType.MUNICIPALITY, RecipientType.REGION)
ANYONE = (RecipientType.MUNICIPALITY, RecipientType.REGION, RecipientType.ORGANISATION)
SEK_ORE = 100
MSEK_ORE = 1_000_000 * SEK_ORE


@dataclass(frozen=True)
class Handover:
    """The programme passes to another agency from a date."""

    effective: date
    to_agency: str
    decision_ref: str


@dataclass(frozen=True)
class ProgrammeSpec:
    """A programme's rules, who runs it when, and how large it is."""

    programme_id: str
    name: str
    ordinance: str
    recipient_types: tuple[RecipientType, ...]
    eligible: tuple[str, ...] | None
    first_year: int
    last_year: int
    cost_share_cap_percent: int | None
    agency: str
    handovers: tuple[Handover, ...]
    # Share of all applications of the ledger (relative weight).
    weight: float
    payments_per_year: int
    yearly_grant_ore: tuple[int, int]  # typical yearly amount of one grant: low, high

    @property
    def years(self) -> int:
        """Grant-years the programme covers."""
        return self.last_year - self.first_year + 1


TO_DELMOS = Handover(date(2021, 1, 1), "delmos", "SFS 2020:1266")
TO_SOCIALSTYRELSEN = Handover(date(2023, 1, 1), "socialstyrelsen", "regleringsbrev 2023")

REAL_PROGRAMMES = (
    ProgrammeSpec(
        "sfs-2018-151",
        "Statsbidrag till kommuner med socioekonomiskt eftersatta områden",
        "SFS 2018:151",
        MUNICIPALITY,
        eligible_sfs_2018_151(),
        2018,
        2022,
        90,
        "tillvaxtverket",
        (TO_DELMOS, TO_SOCIALSTYRELSEN),
        1.0,
        4,
        (2 * MSEK_ORE, 50 * MSEK_ORE),
    ),
    ProgrammeSpec(
        "sfs-2018-118",
        "Statsbidrag för att minska och motverka segregation",
        "SFS 2018:118",
        PUBLIC,
        None,
        2018,
        2022,
        None,
        "delmos",
        (TO_SOCIALSTYRELSEN,),
        2.0,
        4,
        (MSEK_ORE // 2, 5 * MSEK_ORE),
    ),
    ProgrammeSpec(
        "sfs-2018-119",
        "Statsbidrag till organisationer för insatser mot segregation",
        "SFS 2018:119",
        ORGANISATION,
        None,
        2018,
        2022,
        None,
        "delmos",
        (TO_SOCIALSTYRELSEN,),
        2.0,
        4,
        (MSEK_ORE // 10, 3 * MSEK_ORE // 2),
    ),
)


@dataclass(frozen=True)
class Theme:
    """What a synthetic programme pays for, to whom, run by whom, when."""

    theme: str
    recipient_types: tuple[RecipientType, ...]
    agency: str
    first_year: int
    years: int
    cap_percent: int | None = None
    monthly: bool = False


SYNTHETIC_THEMES = (
    Theme("lokalt brottsförebyggande arbete", MUNICIPALITY, "bra", 2016, 10, monthly=True),
    Theme("språkutveckling i förskolan", MUNICIPALITY, "skolverket", 2016, 6, 70, True),
    Theme("sommarlovsaktiviteter för barn", MUNICIPALITY, "socialstyrelsen", 2016, 8),
    Theme("civilsamhällets integrationsinsatser", ORGANISATION, "lansstyrelsen", 2016, 10),
    Theme("hälsofrämjande insatser", PUBLIC, "folkhalsomyndigheten", 2017, 7, 80, True),
    Theme("boendesegregation och bostadsförsörjning", MUNICIPALITY, "boverket", 2017, 9, 50),
    Theme("upprustning av skolmiljöer", MUNICIPALITY, "boverket", 2017, 5, 50),
    Theme("föreningslivets verksamhet för unga", ORGANISATION, "mucf", 2017, 9, monthly=True),
    Theme("insatser för nyanlända", PUBLIC, "arbetsformedlingen", 2018, 8, monthly=True),
    Theme("regional utveckling", REGION, "tillvaxtverket", 2018, 8, 50),
    Theme("kvinnors etablering i arbetslivet", ANYONE, "delmos", 2019, 4, monthly=True),
    Theme("idrott i utsatta områden", ORGANISATION, "riksidrottsforbundet", 2018, 8),
    Theme("kultur för barn och unga", PUBLIC, "kulturradet", 2016, 10),
    Theme("studieförbundens insatser", ORGANISATION, "folkbildningsradet", 2019, 7, monthly=True),
    Theme("trygghetsskapande stadsmiljöåtgärder", MUNICIPALITY, "boverket", 2019, 7, 50),
    Theme("stärkt elevhälsa", MUNICIPALITY, "skolverket", 2019, 6, monthly=True),
    Theme("samhällsorientering för nyanlända", PUBLIC, "lansstyrelsen", 2020, 6),
    Theme("föräldraskapsstöd", MUNICIPALITY, "mfof", 2020, 6, 75, True),
    Theme("digital delaktighet", ORGANISATION, "pts", 2020, 5),
    Theme("mötesplatser för äldre", PUBLIC, "socialstyrelsen", 2020, 6, monthly=True),
    Theme("sociala investeringar", REGION, "tillvaxtverket", 2021, 5, 60),
    Theme("lovskola och läxhjälp", ORGANISATION, "skolverket", 2021, 5, monthly=True),
    Theme("brottsförebyggande insatser för unga", MUNICIPALITY, "socialstyrelsen", 2021, 5),
    Theme("vägledning till studier och arbete", PUBLIC, "delmos", 2021, 2),
    Theme("hemlöshet och bostadslöshet", MUNICIPALITY, "socialstyrelsen", 2022, 4, monthly=True),
    Theme("lokalt näringsliv i utsatta områden", ANYONE, "tillvaxtverket", 2022, 4, 50),
    Theme("jämlik tillgång till fritid", ORGANISATION, "mucf", 2023, 3, monthly=True),
)


def _synthetic(index: int) -> ProgrammeSpec:
    spec = SYNTHETIC_THEMES[index]
    agency, first_year, types = spec.agency, spec.first_year, spec.recipient_types
    last_year = first_year + spec.years - 1
    # The programmes Delmos ran pass to Socialstyrelsen when it closes; some of Tillväxtverket's
    # pass to Delmos as SFS 2018:151 did.
    handovers: tuple[Handover, ...] = ()
    if agency == "delmos" and last_year >= TO_SOCIALSTYRELSEN.effective.year:
        handovers = (TO_SOCIALSTYRELSEN,)
    if agency == "tillvaxtverket" and index % 2 == 0:
        handovers = (TO_DELMOS, TO_SOCIALSTYRELSEN)
    scale = 1 if RecipientType.ORGANISATION in types else 5
    return ProgrammeSpec(
        f"syn-{index + 1:02d}",
        f"Statsbidrag för {spec.theme}",
        f"SFS {first_year - 1}:{900 + index}",
        types,
        None,
        first_year,
        last_year,
        spec.cap_percent,
        agency,
        handovers,
        0.5 + (index % 5) * 0.25,
        12 if spec.monthly else 4,
        (scale * MSEK_ORE // 10, scale * 2 * MSEK_ORE),
    )


def programmes() -> tuple[ProgrammeSpec, ...]:
    """All 30, real ones first."""
    return (*REAL_PROGRAMMES, *(_synthetic(i) for i in range(len(SYNTHETIC_THEMES))))
