"""Drive the HTTP API with many chains at once and keep every answer (httpx, asyncio).

`request_headers` is the one place requests get their headers: when the API requires bearer
tokens, it adds `Authorization` from the token the fixture hands it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from tests.load.workload import Chain, Send

RECORDED, ALREADY_RECORDED = 201, 200
REFUSED = frozenset({409, 404})
UNAVAILABLE = 503
MAX_RETRIES = 5
RETRY_PAUSE_S = 0.05
REQUEST_TIMEOUT_S = 60.0


def request_headers(token: str | None = None) -> dict[str, str]:
    """Headers of every request the load sends (a bearer token when the API needs one)."""
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return headers


@dataclass(slots=True)
class Answer:
    """What the API said to one request."""

    command_id: str
    status: int
    body: dict[str, Any]


@dataclass(slots=True)
class LoadResult:
    """Every answer of a run, and how long the run took."""

    answers: list[Answer] = field(default_factory=list)
    elapsed_s: float = 0.0
    unsent: int = 0  # commands of chains that stopped at a refusal
    transport_errors: int = 0  # requests resent because the connection broke

    def commands(self) -> int:
        """Distinct commands answered."""
        return len({answer.command_id for answer in self.answers})

    def recorded(self) -> list[Answer]:
        """Answers that say the command is recorded (now, or earlier)."""
        return [a for a in self.answers if a.status in (RECORDED, ALREADY_RECORDED)]

    def write_conflicts(self) -> int:
        """Lost write races the API retried, summed over every answer."""
        return sum(int(a.body.get("write_conflicts", 0)) for a in self.recorded())

    def commands_with_conflicts(self) -> int:
        """Commands that lost at least one race before being recorded."""
        return sum(1 for a in self.recorded() if a.body.get("write_conflicts", 0) > 0)


class Driver:
    """Sends commands to one API, `in_flight` requests at most at a time."""

    def __init__(self, base_url: str, headers: Mapping[str, str], in_flight: int) -> None:
        self.base_url = base_url
        self.headers = dict(headers)
        self.in_flight = in_flight
        self.result = LoadResult()

    async def run(self, set_up: list[dict[str, Any]], chains: list[Chain]) -> LoadResult:
        """Record the set-up one by one, then the chains, `in_flight` at a time."""
        limits = httpx.Limits(
            max_connections=self.in_flight, max_keepalive_connections=self.in_flight
        )
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, limits=limits, timeout=REQUEST_TIMEOUT_S
        ) as client:
            for command in set_up:
                answer = await self._post(client, command)
                assert answer.status in (RECORDED, ALREADY_RECORDED), answer
            queue: asyncio.Queue[Chain] = asyncio.Queue()
            for chain in chains:
                queue.put_nowait(chain)
            started = time.perf_counter()
            await asyncio.gather(*(self._worker(client, queue) for _ in range(self.in_flight)))
            self.result.elapsed_s = time.perf_counter() - started
        return self.result

    async def _worker(self, client: httpx.AsyncClient, queue: asyncio.Queue[Chain]) -> None:
        while not queue.empty():
            chain = queue.get_nowait()
            for number, send in enumerate(chain.sends):
                statuses = await self._send(client, send)
                if not statuses & {RECORDED, ALREADY_RECORDED}:
                    # Refused (the money ran out): an officer stops this grant here.
                    self.result.unsent += len(chain.sends) - number - 1
                    break

    async def _send(self, client: httpx.AsyncClient, send: Send) -> set[int]:
        if not send.twice:
            return {(await self._post(client, send.command)).status}
        # The same command twice at once, as a client that retries too early would.
        first, second = await asyncio.gather(
            self._post(client, send.command), self._post(client, send.command)
        )
        return {first.status, second.status}

    async def _post(self, client: httpx.AsyncClient, command: dict[str, Any]) -> Answer:
        body = orjson.dumps(command)
        answer: Answer | None = None
        for _ in range(MAX_RETRIES):
            try:
                response = await client.post("/v1/commands", content=body)
            except httpx.TransportError:
                # The connection broke (e.g. the server closed an idle keep-alive connection as
                # it was reused): whether it was recorded is unknown, and sending the same
                # command_id again is safe by design, so send it again.
                self.result.transport_errors += 1
                await asyncio.sleep(RETRY_PAUSE_S)
                continue
            answer = Answer(command["command_id"], response.status_code, response.json())
            self.result.answers.append(answer)
            if answer.status != UNAVAILABLE:
                break
            # Lost the race too often or the store was busy: nothing recorded, send it again.
        assert answer is not None, f"{command['command_id']}: no answer in {MAX_RETRIES} tries"
        assert answer.status in (RECORDED, ALREADY_RECORDED, *REFUSED), answer
        return answer
