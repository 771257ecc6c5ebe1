"""Finance's and auditors' balances: four views, filters and time travel, JSON, CSV and XLSX.

Every answer comes from the read side (the read store now; the local replay store as of a date,
an instant or a position), never from replaying the event store, and says which log position it
reflects (the X-Ledger-Position header, and `position` in JSON).
"""

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from commands.exports.csv_export import DIALECTS, csv_bytes
from commands.exports.records import named_fields, named_records, named_values
from commands.exports.workbook import Sheet, workbook_bytes
from commands.http.app_state import settings_of
from commands.http.auth.guard import requires
from commands.http.auth.identity import Identity
from commands.http.auth.roles import Role
from commands.http.responses import POSITION_HEADER, refusals
from commands.http.settings import ServiceSettings
from projections.application.query import BalanceAnswer, balances_answer
from projections.domain.asof import AsOf, parse_as_of
from projections.domain.filters import Filters, distinct, parse_counties, parse_years
from projections.domain.rows import View
from projections.store.location import parse_read_store_url
from schemas.errors import InvalidQuery, QueryParameter

router = APIRouter(tags=["balances"])
FINANCE_OR_AUDITOR = Depends(requires(Role.FINANCE, Role.AUDITOR))
CSV = "text/csv"
JSON = "application/json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("json", "csv", "xlsx")
MAX_VIEWS = len(View)
ListParam = Annotated[list[str] | None, Query()]


@dataclass(frozen=True, slots=True)
class BalanceQuestion:
    """The query parameters, parsed once for every view and format."""

    filters: Filters
    as_of: AsOf
    output: str
    dialect: str | None


def question(
    request: Request,
    *,
    programme: Annotated[list[str] | None, Query(description="Repeat for several.")] = None,
    recipient: Annotated[list[str] | None, Query(description="Kommunkod etc.; repeatable.")] = None,
    county: Annotated[list[str] | None, Query(description="Länskod (county-year view).")] = None,
    agency: Annotated[list[str] | None, Query(description="Agency slug; repeatable.")] = None,
    year: Annotated[
        list[str] | None, Query(description="A year or a range 2019..2021; repeatable.")
    ] = None,
    as_of_date: Annotated[
        str | None, Query(description="Count events effective by this date (YYYY-MM-DD).")
    ] = None,
    as_known_at: Annotated[
        str | None, Query(description="Count events recorded by this instant (ISO 8601).")
    ] = None,
    at_position: Annotated[
        str | None, Query(description="Count log positions 1..N.", pattern=r"^[0-9]{1,18}$")
    ] = None,
    format: Annotated[Literal["json", "csv", "xlsx"] | None, Query()] = None,
    dialect: Annotated[
        Literal["excel-sv"] | None, Query(description="CSV for Swedish Excel.")
    ] = None,
) -> BalanceQuestion:
    """The balance question of a request (format also by Accept: text/csv or XLSX)."""
    output = format or _negotiated(request.headers.get("accept", ""))
    if dialect is not None and output != "csv":
        raise InvalidQuery("dialect", dialect, "a dialect is for format=csv")
    assert dialect is None or dialect in DIALECTS
    filters = Filters(
        programmes=distinct(programme or (), QueryParameter.PROGRAMME),
        recipients=distinct(recipient or (), QueryParameter.RECIPIENT),
        counties=parse_counties(county or ()),
        agencies=distinct(agency or (), QueryParameter.AGENCY),
        years=parse_years(year or ()),
    )
    return BalanceQuestion(
        filters, parse_as_of(as_of_date, as_known_at, at_position), output, dialect
    )


def _negotiated(accept: str) -> str:
    if CSV in accept:
        return "csv"
    if XLSX in accept:
        return "xlsx"
    return "json"


def _answer(settings: ServiceSettings, view: View, asked: BalanceQuestion) -> BalanceAnswer:
    return balances_answer(
        parse_read_store_url(settings.read_store_url),
        settings.replay_dir,
        view,
        asked.filters,
        asked.as_of,
    )


def _as_of_json(as_of: AsOf) -> dict[str, Any] | None:
    if as_of.is_current:
        return None
    return {
        "as_of_date": as_of.as_of_date.isoformat() if as_of.as_of_date else None,
        "as_known_at": as_of.as_known_at.isoformat() if as_of.as_known_at else None,
        "at_position": as_of.at_position,
    }


def _caption(answer: BalanceAnswer, as_of: AsOf) -> str:
    asked = _as_of_json(as_of)
    when = (
        "now"
        if asked is None
        else ", ".join(f"{key} {value}" for key, value in asked.items() if value is not None)
    )
    return f"grant-ledger {answer.view.value} balances, {when}; ledger position {answer.position}"


def _respond(view: View, answer: BalanceAnswer, asked: BalanceQuestion) -> Response:
    headers = {POSITION_HEADER: str(answer.position)}
    if asked.output == "csv":
        body = csv_bytes(named_fields(view), named_values(view, answer.rows), asked.dialect)
        headers["Content-Disposition"] = f'attachment; filename="{view.value}.csv"'
        return Response(body, media_type=f"{CSV}; charset=utf-8", headers=headers)
    records = named_records(view, answer.rows)
    if asked.output == "xlsx":
        sheet = Sheet(view, named_fields(view), records, _caption(answer, asked.as_of))
        headers["Content-Disposition"] = f'attachment; filename="{view.value}.xlsx"'
        return Response(workbook_bytes([sheet]), media_type=XLSX, headers=headers)
    document = {
        "view": view.value,
        "position": answer.position,
        "source": answer.source,
        "as_of": _as_of_json(asked.as_of),
        "rows": records,
    }
    # orjson: ~20x the standard library's encoder on a 180 000-row answer (measured).
    return Response(orjson.dumps(document), media_type=JSON, headers=headers)


def _responses(view: View) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": f"The {view.value} rows (integer öre in JSON and plain CSV).",
            "headers": {
                POSITION_HEADER: {
                    "description": "The highest log position the balances count.",
                    "schema": {"type": "integer"},
                }
            },
            "content": {
                "application/json": {"schema": _answer_schema(view)},
                CSV: {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **refusals(401, 403, 404, 422, 503),
    }


def _answer_schema(view: View) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for field in named_fields(view):
        is_number = field == "year" or field.endswith("_ore")
        properties[field] = {"type": "integer" if is_number else "string"}
    return {
        "type": "object",
        "required": ["view", "position", "source", "as_of", "rows"],
        "properties": {
            "view": {"type": "string", "enum": [view.value]},
            "position": {"type": "integer", "minimum": 0},
            "source": {"type": "string", "enum": ["read store", "replay store"]},
            "as_of": {"type": ["object", "null"]},
            "rows": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": list(properties),
                    "properties": properties,
                    "additionalProperties": False,
                },
            },
        },
    }


def _add_view_route(view: View) -> None:
    async def view_balances(
        request: Request,
        _identity: Annotated[Identity, FINANCE_OR_AUDITOR],  # first: 401/403 before 422
        asked: Annotated[BalanceQuestion, Depends(question)],
    ) -> Response:
        answer = await run_in_threadpool(_answer, settings_of(request), view, asked)
        return _respond(view, answer, asked)

    view_balances.__doc__ = f"Balances per {view.value.replace('-', ' and ')}."
    router.add_api_route(
        f"/v1/balances/{view.value}",
        view_balances,
        methods=["GET"],
        name=f"balances_{view.name.lower()}",
        response_class=Response,
        responses=_responses(view),
    )


for _view in View:
    _add_view_route(_view)


@router.get(
    "/v1/balances/workbook",
    response_class=Response,
    responses={
        200: {
            "description": "An Excel workbook, one sheet per view asked for.",
            "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
        },
        **refusals(401, 403, 404, 422, 503),
    },
)
async def balances_workbook(
    request: Request,
    _identity: Annotated[Identity, FINANCE_OR_AUDITOR],  # first: 401/403 before 422
    asked: Annotated[BalanceQuestion, Depends(question)],
    view: Annotated[
        list[View] | None, Query(description="Views, one sheet each (default all four).")
    ] = None,
) -> Response:
    """Several views in one workbook; the filters apply to every view asked for."""
    views = list(dict.fromkeys(view or list(View)))
    settings = settings_of(request)
    answers = [await run_in_threadpool(_answer, settings, each, asked) for each in views]
    sheets = [
        Sheet(
            answer.view,
            named_fields(answer.view),
            named_records(answer.view, answer.rows),
            _caption(answer, asked.as_of),
        )
        for answer in answers
    ]
    headers = {
        POSITION_HEADER: str(min(answer.position for answer in answers)),
        "Content-Disposition": 'attachment; filename="grant-ledger-balances.xlsx"',
    }
    return Response(workbook_bytes(sheets), media_type=XLSX, headers=headers)
