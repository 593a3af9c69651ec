"""The README's commands work as printed: every curl line, run from the clone against a mock (on a free port
in place of 8080), answers what its comment says (a status), or a success."""

import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()


def curl_commands() -> list[tuple[str, int | None]]:
    """Each curl command of the README's sh blocks (continuation lines joined), with the status its comment names."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            line = line.strip().removeprefix("$ ")
            if not line.startswith("curl "):
                continue
            command, _, comment = line.partition(" #")
            expected = re.match(r"\s*(\d{3})\b", comment)
            commands.append((command.split(" | ")[0].strip(), int(expected.group(1)) if expected else None))
    return commands


COMMANDS = curl_commands()


@pytest.fixture(scope="module")
def mock_url():
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "cloud_backup_mock", "serve", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(url + "/__mock/health", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(10)


def test_the_readme_has_curl_examples():
    assert len(COMMANDS) >= 10


@pytest.mark.parametrize("command,expected", COMMANDS, ids=[c[0][:70] for c in COMMANDS])
def test_readme_curl_works_as_printed(mock_url, command, expected):
    args = shlex.split(command.replace("http://127.0.0.1:8080", mock_url)) + ["-o", "/dev/null", "-w", "%{http_code}"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=30, cwd=REPO)
    assert result.returncode == 0, result.stderr
    status = int(result.stdout[-3:])
    if expected is not None:
        assert status == expected, command
    else:
        assert 200 <= status < 300, (command, status)
