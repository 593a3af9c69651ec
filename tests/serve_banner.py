"""The first line ``serve`` writes, from a process started in a directory of the test's choosing."""

import subprocess
import sys
from pathlib import Path


def serve_banner(cwd: Path) -> str:
    process = subprocess.Popen([sys.executable, "-m", "cloud_backup_mock", "serve", "--port", "0"], cwd=cwd,
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        return process.stderr.readline()
    finally:
        process.terminate()
        process.wait(10)
        process.stderr.close()
