"""What one request of compare.py's mix costs Redis, for the scale plan (benchmarks/README.md).

    .venv/bin/python benchmarks/redis_scale.py [--duration 10] [--rounds 2]   # ~3 min; needs wrk, redis-server, redis-cli

Serves the mix with ``--state redis://`` (one redis-server) and ``--state redis+cluster://`` (three
masters, no replicas), each with one and with two workers, under wrk (-t2 -c16, after an unmeasured
warm-up), and prints per request: Redis's CPU time (each master's on the cluster: the mix's project,
the journal and the project index fall in different slots, so their costs show apart), its round trips
(``total_reads_processed``) and the scripts it ran; and the mock's own CPU per request (all its
processes), beside one ``--state memory`` process's. CPU per request hardly moves with other processes'
load, as throughput does: it decides how many replicas one Redis serves (see the scale plan) and what
two workers on Redis answer against one memory process (two cores against one).
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import (  # noqa: E402
    CLOCK_TICKS, HOST, ROOT, BenchError, Result, Running, Server, _tree, check_exact, free_port, load_spec,
    measure_throughput, request_mix, write_wrk_script,
)


class Node:
    """One redis-server on a free loopback port (no persistence), alone or as a cluster node."""

    def __init__(self, folder: Path, cluster: bool):
        self.port = free_port()
        while cluster and not _free(self.port + 10000):  # the cluster bus port
            self.port = free_port()
        extra = ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{self.port}.conf"] if cluster else []
        self.proc = subprocess.Popen([shutil.which("redis-server"), "--port", str(self.port), "--bind", HOST,
                                      "--save", "", "--appendonly", "no", "--dir", str(folder), *extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while "PONG" not in self.cli("PING"):
            if time.monotonic() > deadline:
                raise BenchError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def cli(self, *words: str) -> str:
        return subprocess.run(["redis-cli", "-p", str(self.port), *words], capture_output=True, text=True).stdout

    def counts(self) -> tuple[int, int, int]:
        """CPU ticks, round trips (less the one asking) and scripts run, so far."""
        info = self.cli("INFO", "all")
        rest = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        scripts = re.search(r"cmdstat_evalsha:calls=(\d+)", info)
        return (int(rest[11]) + int(rest[12]), int(re.search(r"total_reads_processed:(\d+)", info).group(1)) - 1,
                int(scripts.group(1)) if scripts else 0)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _free(port: int) -> bool:
    if port > 65535:
        return False
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
            return True
        except OSError:
            return False


class Shared:
    """The Redis a row keeps its state in: one server, or a cluster of three masters."""

    def __init__(self, cluster: bool):
        self.folder = Path(tempfile.mkdtemp(prefix="cbm-bench-redis-"))
        self.nodes = [Node(self.folder, cluster) for _ in range(3 if cluster else 1)]
        self.cluster = cluster
        if cluster:
            made = subprocess.run(["redis-cli", "--cluster", "create", *(f"{HOST}:{n.port}" for n in self.nodes),
                                   "--cluster-replicas", "0", "--cluster-yes"], capture_output=True, text=True)
            if made.returncode:
                raise BenchError(f"redis-cli --cluster create failed: {made.stdout}{made.stderr}")
            while not all("cluster_state:ok" in n.cli("CLUSTER", "INFO") for n in self.nodes):
                time.sleep(0.1)

    @property
    def url(self) -> str:
        port = self.nodes[0].port
        return f"redis+cluster://{HOST}:{port}" if self.cluster else f"redis://{HOST}:{port}/0"

    def flush(self) -> None:
        for node in self.nodes:
            node.cli("FLUSHALL")

    def holder(self, key: str) -> int:
        """Which node holds the key (the only one, on a single Redis)."""
        if not self.cluster:
            return 0
        slot = int(self.nodes[0].cli("CLUSTER", "KEYSLOT", key))
        for line in self.nodes[0].cli("CLUSTER", "NODES").splitlines():
            fields = line.split()
            ranges = [r.split("-") for r in fields[8:] if not r.startswith("[")]
            if any(int(r[0]) <= slot <= int(r[-1]) for r in ranges):
                port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
                return next(i for i, node in enumerate(self.nodes) if node.port == port)
        return 0

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(rest[11]) + int(rest[12])
    return total


def measure(shared: Shared | None, workers: int, script: Path, mix, args) -> dict:
    """One row: ``shared`` None is ``--state memory``."""
    mock_bin = ROOT / ".venv" / "bin" / "cloud-backup-mock"
    state = shared.url if shared else "memory"
    server = Server("row", "row", lambda p: [str(mock_bin), "serve", "--host", HOST, "--port", str(p), "--state",
                                             state, "--workers", str(workers)], check_exact)
    nodes = shared.nodes if shared else []
    if shared:
        shared.flush()
    run = Running(server, free_port())
    try:
        run.wait_ready(mix[-1])
        result = Result()
        measure_throughput(run, script, args.warmup, result, record=False)
        pids = _tree(run.proc.pid)
        before, mine = [node.counts() for node in nodes], _ticks(pids)
        measure_throughput(run, script, args.duration, result)
        after, mine = [node.counts() for node in nodes], _ticks(pids) - mine
        if not result.wrk_requests:
            raise BenchError(f"the mix failed: {result.failures[:3]}")
        for failure in result.failures:  # shown, and the figures kept: a 503 under load is a finding too
            print(f"  FAILED: {failure[:300]}", file=sys.stderr, flush=True)
        n = result.wrk_requests
        return {"rps": result.rps, "mock_us": mine * 1e6 / CLOCK_TICKS / n,
                "cpu_us": [(a[0] - b[0]) * 1e6 / CLOCK_TICKS / n for a, b in zip(after, before)],
                "trips": sum(a[1] - b[1] for a, b in zip(after, before)) / n,
                "scripts": sum(a[2] - b[2] for a, b in zip(after, before)) / n}
    finally:
        run.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of measured wrk load (10)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured wrk load before it (3)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds; medians are shown (2)")
    parser.add_argument("--no-cluster", action="store_true", help="leave out the cluster rows (a tree without it)")
    args = parser.parse_args()
    for tool in ("wrk", "redis-server", "redis-cli"):
        if not shutil.which(tool):
            print(f"error: {tool} is needed (apt-get install -y wrk redis-server)", file=sys.stderr)
            return 2
    mix = request_mix(load_spec())
    script = write_wrk_script(mix)
    rows = {}
    rounds = [measure(None, 1, script, mix, args) for _ in range(args.rounds)]
    memory = {key: statistics.median(r[key] for r in rounds) for key in ("rps", "mock_us")}
    print(f"  memory, 1 worker: {memory}", file=sys.stderr, flush=True)
    for cluster in (False,) if args.no_cluster else (False, True):
        shared = Shared(cluster)
        try:
            places = {what: shared.holder(key) for what, key in
                      (("project", "cbm:{p:110011}:state"), ("journal", "cbm:{journal}:usage"),
                       ("index", "cbm:{meta}:projects"))}
            for workers in (1, 2):
                rounds = [measure(shared, workers, script, mix, args) for _ in range(args.rounds)]
                rows[(cluster, workers)] = ({key: statistics.median(r[key] for r in rounds)
                                             for key in ("rps", "mock_us", "trips", "scripts")}
                                            | {"cpu_us": [statistics.median(r["cpu_us"][i] for r in rounds)
                                                          for i in range(len(shared.nodes))]}, places)
                print(f"  {'cluster' if cluster else 'redis'}, {workers} worker(s): {rows[(cluster, workers)][0]}",
                      file=sys.stderr, flush=True)
        finally:
            shared.stop()
    print("| state | workers | req/s | the mock's CPU per request, µs | Redis CPU per request, µs | "
          "round trips per request | scripts per request |")
    print("|---|---:|---:|---:|---|---:|---:|")
    print(f"| memory | 1 | {memory['rps']:,.0f} | {memory['mock_us']:.0f} | | | |")
    for (cluster, workers), (row, places) in rows.items():
        if cluster:
            named = {i: [w for w, at in places.items() if at == i] for i in range(3)}
            cpu = ", ".join(f"{us:.0f} ({'+'.join(named[i]) or 'nothing of the mix'})"
                            for i, us in enumerate(row["cpu_us"]))
        else:
            cpu = f"{row['cpu_us'][0]:.0f}"
        print(f"| {'redis+cluster (3 masters)' if cluster else 'redis'} | {workers} | {row['rps']:,.0f} | "
              f"{row['mock_us']:.0f} | {cpu} | "
              f"{row['trips']:.2f} | {row['scripts']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
