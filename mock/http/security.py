"""``X-Auth-Token``, checked against the world of the project in the path: a handler class for
Connexion's ``security_map`` (its public ``get_fn`` hook)."""

from __future__ import annotations

from typing import Any

from connexion.exceptions import OAuthResponseProblem
from connexion.security import NO_VALUE, AbstractSecurityHandler

from ..engine import Engine
from .exchange import exchange_of


def token_handler(engine: Engine) -> type[AbstractSecurityHandler]:
    class TokenHandler(AbstractSecurityHandler):
        def get_fn(self, security_scheme: dict[str, Any], required_scopes: Any):
            location, name = security_scheme.get("in"), security_scheme.get("name", "")
            if location != "header":
                return None  # the contract sends its token in a header; anything else is not checked here

            async def verify(request) -> Any:
                sent = request.headers.get(name)
                if sent is None:
                    return NO_VALUE  # no token: Connexion answers 401
                project_id = str((request.scope.get("path_params") or {}).get("project_id", ""))
                token, world = await engine.authenticate(project_id, sent)
                exchange_of(request.scope)["world"] = world  # the request goes on with the state it read
                if token is None:
                    raise OAuthResponseProblem(detail="Provided apikey is not valid")
                return {"sub": token.get("agent_id") or "user", "agent_id": token.get("agent_id"), "id": token["id"]}

            return verify

    return TokenHandler
