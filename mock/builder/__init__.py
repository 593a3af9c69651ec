"""The builder: reference pages (reStructuredText) -> OpenAPI paths -> overlay -> ``spec/openapi.yaml``.
Used by the ``spec`` commands only; the server never imports it."""
