"""CPU instructions per request, in process, counted by valgrind's callgrind: a figure that does not move
with the machine's load, to see what a change costs.

    .venv/bin/python benchmarks/instructions.py [--op all|getAgent|verify|token] [--few 100] [--many 600] [--grown]

Runs ``profile_request_path.py --no-profile`` (the app ``serve`` runs, called with ASGI messages) under
callgrind twice, with --few and --many requests; the difference of the two totals divided by the
difference of the counts is the cost of one request, start-up and imports cancelled out. ``--grown``: in
a grown world (10,000 projects, 1,000 agents in the project under test, a full journal). Needs valgrind
(``apt-get install -y valgrind``). Prints one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def collected(op: str, requests: int, grown: bool = False) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
               str(HERE / "profile_request_path.py"), "--op", op, "--no-profile", "--requests", str(requests),
               *(["--grown"] if grown else [])]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    found = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or not found:
        raise SystemExit(f"callgrind run failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--op", default="all", choices=["all", "getAgent", "verify", "token"])
    parser.add_argument("--few", type=int, default=100)
    parser.add_argument("--many", type=int, default=600)
    parser.add_argument("--grown", action="store_true", help="in a grown world (see profile_request_path.py)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: apt-get install -y valgrind", file=sys.stderr)
        return 2
    few, many = collected(args.op, args.few, args.grown), collected(args.op, args.many, args.grown)
    per_request = (many - few) / (args.many - args.few)
    print(json.dumps({"op": args.op, "grown": args.grown, "instructions_per_request": round(per_request),
                      "start_up_and_few_requests": few, "few": args.few, "many": args.many}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
