"""How the mock's cost grows: with the world it holds, and with the size of its contract.

    .venv/bin/python benchmarks/growth.py [--rounds 3] [--duration 10] [--starts 7]   # ~5 min; needs wrk

1. Throughput of one ``serve`` process on compare.py's mix (wrk, 10 s after 5 s unmeasured) in an empty
   world and in a grown one: 10,000 projects with state, 1,000 agents in the project under test, a full
   journal (all made through the API before the measurement). The two servers are measured in turn, each
   round starting with the other, and the medians compared. Goal: grown within 10 % of empty.
2. Start-up (process start to the first correct answer, as compare.py) with the shipped contract and with
   one the size of the whole v2 API (``large_contract.py``: 63 operations), starts alternating. Goal: the
   large one ≤ 1.2 × the shipped one.

The instruction counts of the same growth (``instructions.py --grown``) do not move with the machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import (  # noqa: E402
    AGENT_ID, HOST, PROJECT_ID, ROOT, TOKEN, BenchError, Result, Running, Server, check_exact, free_port,
    add_load_options, load_spec, measure_load, request_mix, send, write_wrk_script,
)
from large_contract import large_contract, operation_count  # noqa: E402

import yaml  # noqa: E402

PROJECTS, AGENTS = 10_000, 1_000


def scenarios_with_room(folder: Path) -> Path:
    """The shipped scenarios, with room for the grown project's agents (max_agents)."""
    target = folder / "scenarios"
    shutil.copytree(ROOT / "scenarios", target, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    world = target / "world.yaml"
    world.write_text(world.read_text().replace("max_agents: 1000", f"max_agents: {AGENTS + 100}"))
    return target


def grow(port: int) -> None:
    """10,000 projects with state, 1,000 agents in the project under test, a full journal: by requests."""
    spec = load_spec()
    register = json.dumps(next(op for item in spec["paths"].values() for op in item.values()
                               if isinstance(op, dict) and op.get("operationId") == "registerAgent")
                          ["requestBody"]["content"]["application/json"]["example"])
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    headers = {"X-Auth-Token": TOKEN}
    for n in range(PROJECTS - 1):
        conn.request("GET", f"/v2/grown-{n}/agents/{AGENT_ID}", headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise BenchError(f"growing: GET in project grown-{n} answered {response.status}")
    for _ in range(AGENTS - 2):  # the seed has two
        conn.request("POST", f"/v2/{PROJECT_ID}/agents", body=register,
                     headers={**headers, "Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        if response.status != 201:
            raise BenchError(f"growing: registerAgent answered {response.status}")
    conn.request("GET", "/__mock/health")
    health = json.loads(conn.getresponse().read())
    conn.close()
    if health["projects"] < PROJECTS or health["journal"]["entries"] < 1000:
        raise BenchError(f"growing did not grow: {health}")


def throughput(args: argparse.Namespace, scenarios: Path) -> tuple[list[float], list[float]]:
    mix = request_mix(load_spec())
    script = write_wrk_script(mix)
    mock = str(ROOT / ".venv" / "bin" / "cloud-backup-mock")
    server = Server("mock", "cloud-backup-mock",
                    lambda p: [mock, "serve", "--host", HOST, "--port", str(p), "--scenarios", str(scenarios)],
                    check_exact)
    runs = {}
    try:
        for name in ("empty", "grown"):
            runs[name] = Running(server, free_port())
            runs[name].wait_ready(mix[-1])
        print("growing the world (10,000 projects, 1,000 agents, a full journal) ...", file=sys.stderr, flush=True)
        grow(runs["grown"].port)
        figures: dict[str, list[float]] = {"empty": [], "grown": []}
        for n in range(args.rounds):
            for name in (("empty", "grown") if n % 2 == 0 else ("grown", "empty")):
                result = Result()
                measure_load(runs[name], script, args, result)
                if result.failures:
                    raise BenchError(f"{name}: {result.failures[:3]}")
                figures[name].append(result.rps)
                print(f"  round {n + 1}, {name}: {result.rps:.0f} req/s", file=sys.stderr, flush=True)
        return figures["empty"], figures["grown"]
    finally:
        for run in runs.values():
            run.stop()


def start_up(args: argparse.Namespace, large: Path) -> tuple[list[float], list[float]]:
    probe = request_mix(load_spec())[-1]
    mock = str(ROOT / ".venv" / "bin" / "cloud-backup-mock")
    servers = {
        "shipped": Server("shipped", "shipped contract",
                          lambda p: [mock, "serve", "--host", HOST, "--port", str(p)], check_exact),
        "large": Server("large", "large contract",
                        lambda p: [mock, "serve", "--host", HOST, "--port", str(p), "--spec", str(large)], check_exact),
    }
    times: dict[str, list[float]] = {"shipped": [], "large": []}
    for n in range(args.starts):
        for name in (("shipped", "large") if n % 2 == 0 else ("large", "shipped")):
            run = Running(servers[name], free_port())
            try:
                times[name].append(run.wait_ready(probe) * 1000)
            finally:
                run.stop()
    return times["shipped"], times["large"]


def compared(figure: str, unit: str, base: tuple[str, list[float]], other: tuple[str, list[float]],
             ratio_name: str, ok: Callable[[float], bool], goal: str) -> list[str]:
    """Each side's figures and median, then the ratio of the medians with PASS or FAIL."""
    lines = [f"{figure}, {name}: {', '.join(f'{v:.0f}' for v in values)} {unit} (median {statistics.median(values):.0f})"
             for name, values in (base, other)]
    ratio = statistics.median(other[1]) / statistics.median(base[1])
    return lines + [f"{'PASS' if ok(ratio) else 'FAIL'} — {ratio_name} = {ratio:.2f} (goal {goal})"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="throughput measurements of each world (3)")
    add_load_options(parser)
    parser.add_argument("--starts", type=int, default=7, help="starts with each contract (7)")
    parser.add_argument("--part", choices=["both", "world", "contract"], default="both",
                        help="measure the world's growth, the contract's, or both (both)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("error: wrk is needed: apt-get install -y wrk", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        folder_path = Path(folder)
        large = folder_path / "large.yaml"
        document = large_contract()
        large.write_text(yaml.safe_dump(document, sort_keys=False))
        lines = []
        try:
            if args.part in ("both", "world"):
                empty, grown = throughput(args, scenarios_with_room(folder_path))
                lines += compared("throughput", "req/s", ("empty world", empty),
                                  (f"grown world ({PROJECTS:,} projects, {AGENTS:,} agents, full journal)", grown),
                                  "grown ÷ empty", lambda ratio: ratio >= 0.9, "≥ 0.90")
            if args.part in ("both", "contract"):
                shipped, large_times = start_up(args, large)
                lines += compared("start-up", "ms", ("shipped contract (9 operations)", shipped),
                                  (f"large contract ({operation_count(document)} operations)", large_times),
                                  "large ÷ shipped", lambda ratio: ratio <= 1.2, "≤ 1.20")
        except BenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
