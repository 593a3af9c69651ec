"""The HTTP layer: the only package that imports Connexion, Starlette or uvicorn (app, middleware,
validation, admin API, request log, server, connection bounds). Connexion is imported here first, with its own
import-time warnings silenced, so none reaches a user's test session."""

from ..internals import import_connexion_quietly

import_connexion_quietly()
