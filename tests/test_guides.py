"""The getting-started walkthroughs, as printed: every cURL request of each guide, in the order the guides
take (each test runs the walkthrough up to its guide), sent to the mock with the guides' variables set and
their placeholders filled with what the earlier steps made. Each gets its operation's documented success.

The authentication guide is left out: its requests go to the identity service, not to this API."""

import json
import re
import shlex
from pathlib import Path

import pytest

from cloud_backup_mock.builder import spec_build
from cloud_backup_mock.contract import Contract, schema_errors
from cloud_backup_mock.testing import DOCS_AGENT, DOCS_PROJECT, DOCS_TOKEN

REPO = Path(__file__).resolve().parent.parent
CONTRACT = Contract.load()
GUIDES = Path("shared") / "reference" / "cloud-backup-v2-guides"
WALKTHROUGH = ["list-all-agents-for-project", "list-agent-details", "create-backup-config", "list-configs-for-agent",
               "update-configuration", "start-backup", "check-backup-status", "list-agent-activity", "start-restore",
               "get-restore-details", "delete-backup-config"]  # the order of the guides' own table of contents
# What each placeholder stands for: a fixed value of the docs, or (operation) the id that operation made earlier.
PLACEHOLDERS = {"yourAgentId": DOCS_AGENT, "yourConfigurationId": "createConfiguration",
                "yourConfigurationID": "createConfiguration", "yourBackupId": "startBackup",
                "yourRestoreId": "startRestore",
                "yourHostMachineId": CONTRACT.operation("getAgent").response_example(200)["host"]["machine"]["id"]}


@pytest.fixture(scope="module")
def guides_dir() -> Path:
    for candidate in spec_build.reference_candidates(REPO / "spec", GUIDES, "CLOUD_BACKUP_GUIDES_DIR"):
        if candidate.is_dir():
            return candidate
    pytest.fail(f"the getting-started guides are not at {GUIDES} beside the checkout (set CLOUD_BACKUP_GUIDES_DIR)")


def curl_requests(page: str) -> list[dict]:
    """The cURL commands of a guide page: method, URL, headers and body, as printed."""
    found = []
    for block in re.findall(r"\.\. code::\s*\n\n((?:[ \t]+.*\n|\n)+)", page):
        text = block.strip()
        if not text.startswith("curl"):
            continue
        text = re.sub(r"\\\n|[ \t]/[ \t]*\n", " ", text)  # line continuations (one guide ends a line with " /")
        text = text.split("| python")[0]
        if text.count('"') % 2:  # a header left unclosed where the pipe was
            text += '"'
        words, command = shlex.split(text), {"method": "GET", "headers": {}, "body": None}
        position = 1
        while position < len(words):
            word = words[position]
            if word == "-X":
                command["method"], position = words[position + 1], position + 1
            elif word == "-H":
                name, _, value = words[position + 1].partition(":")
                command["headers"][name.strip()], position = value.strip(), position + 1
            elif word == "-d":
                command["body"], position = words[position + 1], position + 1
            elif word.startswith("$API_ENDPOINT"):
                command["url"] = word
            position += 1
        found.append(command)
    return found


def walk(client, guides_dir: Path, last: str) -> list:
    """The walkthrough up to and including ``last``: the answers of ``last``'s requests."""
    made: dict[str, str] = {}
    answers = []
    for name in WALKTHROUGH[:WALKTHROUGH.index(last) + 1]:
        page = (guides_dir / f"guide-{name}.rst").read_text(encoding="utf-8")
        commands = curl_requests(page)
        assert commands, f"guide-{name}.rst has no cURL request"
        answers = []
        for command in commands:
            url = command["url"].replace("$API_ENDPOINT", "").replace("$TENANT_ID", DOCS_PROJECT)
            for placeholder, meaning in PLACEHOLDERS.items():
                url = url.replace(placeholder, made.get(meaning, meaning))
            headers = {k: v.replace("$AUTH_TOKEN", DOCS_TOKEN) for k, v in command["headers"].items()}
            response = client.request(command["method"], url, headers=headers, content=command["body"])
            match = CONTRACT.routes.match(command["method"], url.split("?")[0])
            assert match.operation_id, f"guide-{name}: {command['method']} {url} is no operation of the contract"
            op = CONTRACT.operation(match.operation_id)
            success = min(s for s in op.statuses if 200 <= s < 300)
            assert response.status_code == success, f"guide-{name}: {command['method']} {url}: {response.text}"
            schema = op.response_schema(success)
            if schema is not None:
                assert schema_errors(schema, response.json()) == [], f"guide-{name}: {op.operation_id}"
                if "id" in response.json():
                    made[op.operation_id] = response.json()["id"]
            answers.append((op.operation_id, response))
    return answers


@pytest.mark.parametrize("guide", WALKTHROUGH)
def test_guide_runs_as_printed(client, mock, guides_dir, guide):
    answers = walk(client, guides_dir, guide)
    operations = [operation for operation, _ in answers]
    if guide == "create-backup-config":
        made = answers[0][1].json()
        assert client.get(f"/v2/{DOCS_PROJECT}/configurations/{made['id']}").json()["name"] == made["name"]
    if guide == "list-configs-for-agent":
        assert len(answers[0][1].json()["configurations"]) == 2  # the docs' own and the one the walkthrough made
    if guide == "check-backup-status":
        assert answers[0][1].json()["state"] == "start_requested"  # the backup the walkthrough started
    if guide == "start-restore":
        assert answers[0][1].json()["backup"]["id"] == "0d95d699-d16b-11e4-93bd-c8e0eb190e3d"
    if guide == "delete-backup-config":
        assert operations == ["deleteConfiguration", "getConfiguration"]
        assert answers[1][1].json()["deleted"] is True
