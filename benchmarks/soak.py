"""Soak: steady load on one mock process for a few minutes, with hostile traffic beside it, sampling
its resident memory.

    .venv/bin/python benchmarks/soak.py [--seconds 180] [--clients 4] [--no-hostile]

The well-behaved clients' mix creates state on every round (tokens, verification requests, journal
entries), so an unbounded structure would show as growth; tokens expire after --token-ttl (20 s). Beside
them, unless --no-hostile: tenant churn (every request to a new project id, registering an agent
there), large bodies (1 MiB refused with 413; 900 KiB strings refused with 400; 60 KiB accepted and cut
in the journal), and slow clients (connections that send a request line and then a header byte a
second, 20 at a time). The server runs with --limit max_projects=2000 so the world reaches its steady
size within the first quarter. Exits non-zero when a well-behaved request fails, a hostile one gets an
answer other than the bound's, or the resident size at the end exceeds the one after warm-up by more
than --max-growth (default 10 %). Traffic goes to 127.0.0.1 only, bounded by --seconds.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).with_name("cloud-backup-mock"))
TOKEN = "0f6e9f63600142f0a970911583522217"
AGENT = "8f135b4f-7a69-4b8a-947f-5e80d772fd97"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def client_loop(url: str, stop: threading.Event, counts: dict, failures: list, project: str) -> None:
    import yaml

    spec = yaml.safe_load((ROOT / "spec" / "openapi.yaml").read_text())
    token_body = spec["paths"]["/v2/{project_id}/agents/tokens"]["post"]["requestBody"]["content"]["application/json"]["example"]
    with httpx.Client(base_url=url, headers={"X-Auth-Token": TOKEN}, timeout=30) as c:
        while not stop.is_set():
            token = c.post(f"/v2/{project}/agents/tokens", json=token_body, headers={"X-Auth-Token": ""})
            verify = c.post(f"/v2/{project}/agents/{AGENT}/vault-password-verification-requests",
                            json={"encrypted_password_hex": "0bff42", "agent_id": None})
            report = c.post(verify.headers.get("location", "/missing"), json={"verified": True})
            agent = c.get(f"/v2/{project}/agents/{AGENT}", headers={"X-Auth-Token": token.json()["token"]["id"]})
            for response, expected in ((token, 200), (verify, 202), (report, 204), (agent, 200)):
                if response.status_code != expected:
                    failures.append(f"{response.request.method} {response.request.url.path}: {response.status_code}")
            counts[project] = counts.get(project, 0) + 4


def churn_loop(url: str, stop: threading.Event, counts: dict, failures: list) -> None:
    import yaml

    spec = yaml.safe_load((ROOT / "spec" / "openapi.yaml").read_text())
    body = spec["paths"]["/v2/{project_id}/agents"]["post"]["requestBody"]["content"]["application/json"]["example"]
    n = 0
    with httpx.Client(base_url=url, headers={"X-Auth-Token": TOKEN}, timeout=30) as c:
        while not stop.is_set():
            n += 1
            answer = c.post(f"/v2/churn-{n}/agents", json=body)
            if answer.status_code != 201:
                failures.append(f"churn: {answer.status_code}")
            counts["churn"] = counts.get("churn", 0) + 1


def large_body_loop(url: str, stop: threading.Event, counts: dict, failures: list) -> None:
    path = f"/v2/large/agents/{AGENT}/vault-password-verification-requests"
    huge = b"{" + b" " * (1024 * 1024) + b"}"
    long_string = json.dumps({"encrypted_password_hex": "a" * (900 * 1024), "agent_id": None}).encode()
    kept = json.dumps({"encrypted_password_hex": "a" * (60 * 1024), "agent_id": None}).encode()
    with httpx.Client(base_url=url, headers={"X-Auth-Token": TOKEN, "Content-Type": "application/json"}, timeout=30) as c:
        while not stop.is_set():
            for content, expected in ((huge, 413), (long_string, 400), (kept, 400)):
                answer = c.post(path, content=content)
                if answer.status_code != expected:
                    failures.append(f"large body: {answer.status_code}, expected {expected}")
                counts["large"] = counts.get("large", 0) + 1


def slow_client_loop(port: int, stop: threading.Event, counts: dict, failures: list) -> None:
    """Connections that never finish their headers: each is answered 408 (or closed) by the server."""
    while not stop.is_set():
        sockets = []
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(b"GET /v2/slow/agents/x HTTP/1.1\r\nHost: x\r\n")
            sockets.append(s)
        for s in sockets:
            s.settimeout(30)
            try:
                answer = s.recv(4096)
                while s.recv(4096):
                    pass
            except OSError:
                answer = b""
            finally:
                s.close()
            if answer and not answer.startswith(b"HTTP/1.1 408 "):
                failures.append(f"slow client: {answer[:40]!r}")
            counts["slow"] = counts.get("slow", 0) + 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--max-growth", type=float, default=0.10)
    parser.add_argument("--token-ttl", type=float, default=20)
    parser.add_argument("--no-hostile", dest="hostile", action="store_false", help="only the well-behaved clients")
    args = parser.parse_args()
    port = free_port()
    # Tokens live --token-ttl seconds, and the projects are capped: the world reaches its steady size within the warm-up.
    server = subprocess.Popen([CLI, "serve", "--port", str(port), "--token-ttl", str(args.token_ttl),
                               "--limit", "max_projects=2000", "--limit", "header_timeout=3"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/__mock/scenarios", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    print("the mock did not start", file=sys.stderr)
                    return 2
                time.sleep(0.1)
        stop, counts, failures = threading.Event(), {}, []
        threads = [threading.Thread(target=client_loop, args=(url, stop, counts, failures, f"soak-{i % 2}"))
                   for i in range(args.clients)]
        if args.hostile:
            threads += [threading.Thread(target=churn_loop, args=(url, stop, counts, failures)),
                        threading.Thread(target=large_body_loop, args=(url, stop, counts, failures)),
                        threading.Thread(target=slow_client_loop, args=(port, stop, counts, failures))]
        for t in threads:
            t.start()
        samples = []
        started = time.monotonic()
        interval = max(args.seconds / 12, 1)
        while (elapsed := time.monotonic() - started) < args.seconds:
            time.sleep(min(interval, args.seconds - elapsed))
            samples.append((round(time.monotonic() - started), rss_mib(server.pid), sum(counts.values())))
            print(f"t={samples[-1][0]:>4}s  rss={samples[-1][1]:7.1f} MiB  requests={samples[-1][2]}", flush=True)
        stop.set()
        for t in threads:
            t.join(60)
        warm = samples[max(1, len(samples) // 4) - 1][1]
        end = samples[-1][1]
        growth = (end - warm) / warm
        total = sum(counts.values())
        print(json.dumps({"seconds": args.seconds, "clients": args.clients, "requests": total,
                          "by_kind": {k: v for k, v in counts.items()},
                          "requests_per_second": round(total / args.seconds), "rss_after_warmup_mib": round(warm, 1),
                          "rss_end_mib": round(end, 1), "growth": round(growth, 4), "failures": len(failures)}))
        if failures:
            print("failed requests:", *failures[:10], sep="\n  ", file=sys.stderr)
            return 1
        if growth > args.max_growth:
            print(f"memory grew {growth:.1%} after warm-up (limit {args.max_growth:.0%})", file=sys.stderr)
            return 1
        return 0
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    sys.exit(main())
