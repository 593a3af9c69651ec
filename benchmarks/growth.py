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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import (  # noqa: E402
    AGENT_ID, HOST, PROJECT_ID, ROOT, TOKEN, BenchError, Result, Running, Server, check_exact, free_port,
    load_spec, measure_throughput, request_mix, send, write_wrk_script,
)
from large_contract import large_contract  # noqa: E402

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
                measure_throughput(runs[name], script, args.wrk_warmup, result, record=False)
                measure_throughput(runs[name], script, args.duration, result)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="throughput measurements of each world (3)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk load per measurement (10)")
    parser.add_argument("--wrk-warmup", type=int, default=5, help="unmeasured seconds before each (5)")
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
        operations = sum(1 for item in document["paths"].values() for op in item.values()
                         if isinstance(op, dict) and "operationId" in op)
        lines = []
        try:
            if args.part in ("both", "world"):
                empty, grown = throughput(args, scenarios_with_room(folder_path))
                ratio = statistics.median(grown) / statistics.median(empty)
                lines += [
                    f"throughput, empty world: {', '.join(f'{r:.0f}' for r in empty)} req/s "
                    f"(median {statistics.median(empty):.0f})",
                    f"throughput, grown world ({PROJECTS:,} projects, {AGENTS:,} agents, full journal): "
                    f"{', '.join(f'{r:.0f}' for r in grown)} req/s (median {statistics.median(grown):.0f})",
                    f"{'PASS' if ratio >= 0.9 else 'FAIL'} — grown ÷ empty = {ratio:.2f} (goal ≥ 0.90)"]
            if args.part in ("both", "contract"):
                shipped, large_times = start_up(args, large)
                ratio = statistics.median(large_times) / statistics.median(shipped)
                lines += [
                    f"start-up, shipped contract (9 operations): median {statistics.median(shipped):.0f} ms "
                    f"({', '.join(f'{t:.0f}' for t in shipped)})",
                    f"start-up, large contract ({operations} operations): median "
                    f"{statistics.median(large_times):.0f} ms ({', '.join(f'{t:.0f}' for t in large_times)})",
                    f"{'PASS' if ratio <= 1.2 else 'FAIL'} — large ÷ shipped = {ratio:.2f} (goal ≤ 1.20)"]
        except BenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
