"""A small Cloud Backup API client, as a client team would write it, to show the mock in use.

It retries on 503 after the Retry-After the server sends, turns 409 into a clear error,
and follows a 202's Location until the result is ready.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import httpx


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


class Conflict(ApiError):
    """The request does not fit the resource's state (a move its lifecycle does not allow, a deleted configuration)."""


class FingerprintConflict(Conflict):
    """Another host authenticates with this agent's credentials."""


ENDED = {"completed", "completed_with_errors", "failed", "stopped", "skipped"}


class BackupClient:
    def __init__(self, base_url: str, project_id: str, token: str | None = None, *, max_retries: int = 3,
                 sleep: Callable[[float], None] = time.sleep, agent_id: str | None = None):
        headers = {"X-Auth-Token": token} if token else {}
        if agent_id:
            headers["X-Agent-Id"] = agent_id
        self.http = httpx.Client(base_url=f"{base_url}/v2/{project_id}", headers=headers, timeout=10)
        self.max_retries, self.sleep = max_retries, sleep

    def __enter__(self) -> "BackupClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(self.max_retries + 1):
            response = self.http.request(method, path, **kwargs)
            if response.status_code != 503 or attempt == self.max_retries:
                break
            self.sleep(float(response.headers.get("Retry-After", "1")))
        if response.status_code == 409:
            error = FingerprintConflict if path == "/agents/tokens" else Conflict
            raise error(409, response.json()["message"])
        if response.status_code >= 400:
            raise ApiError(response.status_code, response.json().get("message", ""))
        return response

    def authenticate(self, agent_id: str, password: str, host: dict[str, Any], **agent: Any) -> str:
        body = {"project_id": agent.get("project_id", ""), "id": agent_id, "password": password,
                "name": agent.get("name", "agent"), "version": agent.get("version", "1.0"), "host": host}
        token = self._send("POST", "/agents/tokens", json=body).json()["token"]["id"]
        self.http.headers["X-Auth-Token"] = token
        self.http.headers["X-Agent-Id"] = agent_id
        return token

    def get_agent(self, agent_id: str) -> dict[str, Any]:
        return self._send("GET", f"/agents/{agent_id}").json()

    def verify_vault_password(self, agent_id: str, encrypted_password_hex: str, target_agent_id: str | None = None,
                              poll_interval: float = 0.05, timeout: float = 10) -> bool:
        accepted = self._send("POST", f"/agents/{agent_id}/vault-password-verification-requests",
                              json={"encrypted_password_hex": encrypted_password_hex, "agent_id": target_agent_id})
        location = accepted.headers["Location"]
        deadline = time.monotonic() + timeout
        while True:
            result = self.http.get(location)
            if result.status_code == 200:
                return result.json()["valid"]
            if result.status_code != 404 or time.monotonic() > deadline:
                raise ApiError(result.status_code, result.json().get("message", "no result"))
            time.sleep(poll_interval)

    # ---- a control panel: configure, back up, wait, restore
    def create_configuration(self, agent_id: str, name: str, paths: list[str], **fields: Any) -> dict[str, Any]:
        body = {"agent_id": agent_id, "name": name, "enabled": True,
                "schedule": {"recurrence": ["RRULE:FREQ=DAILY"], "time_zone": "UTC"}, "retention": {"days": 30},
                "inclusions": [{"type": "folder", "path": path} for path in paths], "exclusions": [],
                "notifications": [], **fields}
        return self._send("POST", "/configurations", json=body).json()

    def start_backup(self, configuration_id: str) -> dict[str, Any]:
        return self._send("POST", "/backups", json={"configuration_id": configuration_id,
                                                    "state": "start_requested"}).json()

    def wait_for(self, kind: str, record_id: str, poll_interval: float = 5, timeout: float = 3600) -> dict[str, Any]:
        """Read a backup, restore or cleanup (``kind``: ``backups``, …) until it has ended; ``sleep`` waits between reads."""
        waited = 0.0
        while True:
            record = self._send("GET", f"/{kind}/{record_id}").json()
            if record["state"] in ENDED:
                return record
            if waited >= timeout:
                raise ApiError(408, f"{kind[:-1]} {record_id} still {record['state']} after {timeout} s")
            self.sleep(poll_interval)
            waited += poll_interval

    def start_restore(self, backup_id: str, destination_agent_id: str, destination_path: str,
                      encrypted_password_hex: str = "") -> dict[str, Any]:
        body = {"backup_id": backup_id, "destination_agent_id": destination_agent_id,
                "destination_path": destination_path, "overwrite_files": False,
                "encrypted_password_hex": encrypted_password_hex, "inclusions": [], "exclusions": []}
        return self._send("POST", "/restores", json=body).json()

    # ---- an agent: pick up what it was asked to back up, report its progress
    def next_backup(self, agent_id: str) -> dict[str, Any] | None:
        """The oldest backup of this agent that nobody has picked up yet."""
        backups = self._send("GET", "/backups").json()["backups"]
        return next((b for b in backups if b["agent"]["id"] == agent_id and b["state"] == "start_requested"), None)

    def report_backup(self, backup_id: str, state: str, **results: Any) -> None:
        patch = [{"op": "replace", "path": "/state", "value": state}]
        patch += [{"op": "replace", "path": f"/{name}", "value": value} for name, value in results.items()]
        self._send("PATCH", f"/backups/{backup_id}", json=patch, headers={"Content-Type": "application/json-patch+json"})
