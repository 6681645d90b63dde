"""Flask integration: a decorator, or a ``before_request`` hook, that admits verified sessions.

::

    from flask import Flask, g
    from tessera_client.flask import TesseraFlask

    app = Flask(__name__)
    tessera = TesseraFlask(app, base_url="http://127.0.0.1:8080", api_key=VERIFY_KEY)

    @app.get("/api/me")
    @tessera.require_session
    def me():
        return {"user": g.tessera_session.user_id}

A request without a valid, unrevoked access token gets 401 (``WWW-Authenticate: Bearer``);
while the revocation feed is stale every protected request gets 503 with ``Retry-After``.
The feed is followed by a daemon thread of this process, started (after a first sync) by
:meth:`TesseraFlask.init_app` and stopped by :meth:`TesseraFlask.close` (also at exit). Under
a forking server (gunicorn) create the app in each worker, not before the fork.
"""

from __future__ import annotations

import atexit
import functools
import json
from typing import Any, Callable, Iterable, Optional, TypeVar, Union, cast

import flask

from .claims import AccessClaims
from .errors import TokenRejected, Unavailable
from .problem import CONTENT_TYPE, Answer, bearer_token, for_outage, for_rejection
from .verifier import Verifier

F = TypeVar("F", bound=Callable[..., Any])

#: Where the claims of the verified session are kept for the request: ``g.tessera_session``.
G_ATTRIBUTE = "tessera_session"


class TesseraFlask:
    """Verifies access tokens for a Flask app.

    Args:
        app: the app, or ``None`` to call :meth:`init_app` later.
        base_url: the Tessera server; default ``app.config["TESSERA_URL"]``.
        api_key: a ``verify`` key; default ``app.config["TESSERA_VERIFY_API_KEY"]``.
        verifier: a ready :class:`Verifier` instead (tests inject one with a clock).
        **options: passed to :class:`Verifier` (``issuer``, ``audience``, ``feed_staleness``…).
    """

    def __init__(self, app: Optional[flask.Flask] = None, *, base_url: Optional[str] = None,
                 api_key: Optional[str] = None, verifier: Optional[Verifier] = None,
                 **options: Any) -> None:
        self._base_url = base_url
        self._api_key = api_key
        self._options = options
        self.verifier = verifier
        if app is not None:
            self.init_app(app)

    def init_app(self, app: flask.Flask) -> None:
        """Starts verifying: fetches the keys and syncs the feed once, then follows it.

        Raises:
            TesseraError: the server could not be reached or refused the key.
            KeyError: neither an argument nor the app config names the server or the key.
        """
        if self.verifier is None:
            base_url = self._base_url or app.config["TESSERA_URL"]
            api_key = self._api_key or app.config["TESSERA_VERIFY_API_KEY"]
            self.verifier = Verifier(base_url, api_key, **self._options)
        self.verifier.start()
        atexit.register(self.close)
        app.extensions["tessera"] = self

    def close(self) -> None:
        """Stops following the feed."""
        if self.verifier is not None:
            self.verifier.stop()

    def check(self) -> Optional[flask.Response]:
        """Verifies the current request; ``None`` if admitted (claims in ``g.tessera_session``),
        else the 401/503 response to send."""
        if self.verifier is None:
            raise RuntimeError("TesseraFlask.init_app(app) was never called")
        token = bearer_token(flask.request.headers.get("Authorization"))
        try:
            setattr(flask.g, G_ATTRIBUTE, self.verifier.verify(token))
        except TokenRejected as err:
            flask.current_app.logger.info("tessera: token rejected: %s", err.reason)
            return _respond(for_rejection(err))
        except Unavailable as err:
            flask.current_app.logger.warning("tessera: cannot check tokens: %s", err)
            return _respond(for_outage(err))
        return None

    def require_session(self, view: F) -> F:
        """Decorator: the view runs only for a verified session (``g.tessera_session``)."""
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            refused = self.check()
            return refused if refused is not None else view(*args, **kwargs)
        return cast(F, guarded)

    def protect(self, scope: Union[flask.Flask, flask.Blueprint],
                exempt: Iterable[str] = ()) -> None:
        """The ``before_request`` form: every request of ``scope`` (an app or a blueprint)
        needs a verified session, except the endpoints named in ``exempt`` (e.g. ``"login"``)."""
        skip = frozenset(exempt)

        def hook() -> Optional[flask.Response]:
            if flask.request.endpoint in skip or flask.request.method == "OPTIONS":
                return None
            return self.check()
        scope.before_request(hook)


def current_session() -> AccessClaims:
    """The verified session of the current request (inside a protected view).

    Raises:
        RuntimeError: the view is not protected by :class:`TesseraFlask`.
    """
    claims = getattr(flask.g, G_ATTRIBUTE, None)
    if not isinstance(claims, AccessClaims):
        raise RuntimeError("no verified session: protect the view with TesseraFlask")
    return claims


def _respond(answer: Answer) -> flask.Response:
    return flask.Response(json.dumps(answer.body), status=answer.status, headers=answer.headers,
                          content_type=CONTENT_TYPE)
