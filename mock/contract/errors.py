"""The API's error body, ``{"message": "...", "errors": ["..."]}``: built here and nowhere else."""

from __future__ import annotations

import json
from typing import Any, Iterable


def error_document(message: str, errors: Iterable[str] = ()) -> dict[str, Any]:
    return {"message": message, "errors": [str(e) for e in errors]}


def error_json(message: str, errors: Iterable[str] = ()) -> bytes:
    return json.dumps(error_document(message, errors)).encode()
