"""FastAPI integration: a dependency that returns the verified session's claims.

::

    from fastapi import Depends, FastAPI
    from tessera_client import AccessClaims
    from tessera_client.fastapi import TesseraFastAPI

    tessera = TesseraFastAPI(base_url="http://127.0.0.1:8080", api_key=VERIFY_KEY)
    app = FastAPI()
    tessera.install(app)

    @app.get("/api/me")
    def me(session: AccessClaims = Depends(tessera.require_session)):
        return {"user": session.user_id}

:meth:`TesseraFastAPI.install` hooks the app's lifespan (keys fetched and the feed synced
once before the app serves; stopped at shutdown) and the exception handler that turns a
refusal into the same 401/503 problem documents as the Flask integration. The revocation feed
is followed by a daemon thread, not an asyncio task: its HTTP calls block (standard library),
and a thread keeps them off the event loop. The dependency is a plain function, so FastAPI runs
it in its thread pool: a rare JWKS refetch never blocks the loop either.
"""

import asyncio
import contextlib
import logging
from typing import Any, AsyncIterator, Callable, Optional

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .claims import AccessClaims
from .errors import TokenRejected, Unavailable
from .problem import CONTENT_TYPE, Answer, bearer_token, for_outage, for_rejection
from .verifier import Verifier

log = logging.getLogger("tessera_client.fastapi")


class SessionRefused(Exception):
    """Raised by the dependency; :meth:`TesseraFastAPI.install` answers it as problem+json."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.body["title"])
        self.answer = answer


class TesseraFastAPI:
    """Verifies access tokens for a FastAPI app.

    Args:
        base_url: the Tessera server.
        api_key: a ``verify`` API key, for the revocation feed.
        verifier: a ready :class:`Verifier` instead (tests inject one with a clock).
        **options: passed to :class:`Verifier` (``issuer``, ``audience``, ``feed_staleness``…).
    """

    def __init__(self, base_url: Optional[str] = None, api_key: Optional[str] = None, *,
                 verifier: Optional[Verifier] = None, **options: Any) -> None:
        if verifier is None:
            if not base_url or not api_key:
                raise ValueError("TesseraFastAPI needs base_url and api_key (or a verifier)")
            verifier = Verifier(base_url, api_key, **options)
        self.verifier = verifier

    def install(self, app: FastAPI) -> None:
        """Runs :meth:`lifespan` around the app's own and answers refusals as problem+json."""
        app.add_exception_handler(SessionRefused, _answer)  # type: ignore[arg-type]
        inner: Callable[[Any], Any] = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(the_app: Any) -> AsyncIterator[Any]:
            async with self.lifespan(the_app), inner(the_app) as state:
                yield state
        app.router.lifespan_context = lifespan

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any = None) -> AsyncIterator[None]:
        """Starts verifying (first sync before serving) and stops at shutdown."""
        await asyncio.get_running_loop().run_in_executor(None, self.verifier.start)
        try:
            yield
        finally:
            await asyncio.get_running_loop().run_in_executor(None, self.verifier.stop)

    def require_session(self, request: Request) -> AccessClaims:
        """The dependency: the verified session's claims, or a 401/503 answer."""
        token = bearer_token(request.headers.get("authorization"))
        try:
            return self.verifier.verify(token)
        except TokenRejected as err:
            log.info("tessera: token rejected: %s", err.reason)
            raise SessionRefused(for_rejection(err)) from None
        except Unavailable as err:
            log.warning("tessera: cannot check tokens: %s", err)
            raise SessionRefused(for_outage(err)) from None


async def _answer(_request: Request, exc: SessionRefused) -> JSONResponse:
    status, headers, body = exc.answer
    return JSONResponse(body, status_code=status, headers=headers, media_type=CONTENT_TYPE)
