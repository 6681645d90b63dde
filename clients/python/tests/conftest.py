"""Fixtures: one real Tessera server for the whole run, and verifiers with a movable clock."""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from tessera_client import TesseraClient, Verifier
from tessera_server import TesseraServer


class Clock:
    """Real time plus an offset the test moves, so expiry and staleness need no sleep."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture(scope="session")
def server() -> Iterator[TesseraServer]:
    srv = TesseraServer().start()
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def verify_key(server: TesseraServer) -> str:
    return server.create_key("app-verify", "verify")


@pytest.fixture(scope="session")
def client(server: TesseraServer) -> TesseraClient:
    return TesseraClient(server.url, server.backend_key())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(server: TesseraServer, verify_key: str, clock: Clock) -> Iterator[Verifier]:
    v = Verifier(server.url, verify_key, clock=clock)
    v.start()
    yield v
    v.stop()
