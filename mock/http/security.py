"""``X-Auth-Token`` through Connexion's security layer (``security_map``, its public ``get_fn`` hook):
a request without one is answered 401 here; the token sent goes on in the request, and the engine
checks it against the project's world when it answers (one call for the state and the answer)."""

from __future__ import annotations

from typing import Any

from connexion.security import NO_VALUE, AbstractSecurityHandler

from .exchange import request_of


class TokenHandler(AbstractSecurityHandler):
    def get_fn(self, security_scheme: dict[str, Any], required_scopes: Any):
        location, name = security_scheme.get("in"), security_scheme.get("name", "")
        if location != "header":
            return None  # the contract sends its token in a header; anything else is not checked here

        async def verify(request) -> Any:
            sent = request.headers.get(name)
            if sent is None:
                return NO_VALUE  # no token: Connexion answers 401
            request_of(request.scope).token = sent
            return {"sub": "token sent"}  # checked by the engine

        return verify
