#!/usr/bin/env python3
"""Live case conferences under load: delivery latency of the presenter's camera to many
participants, annotations lost, and the service's memory, with real WebSocket clients on loopback.

Usage (from the repository root):

    swift build -c release --product vrprep
    pip install websockets
    python3 Benchmarks/sessions.py [--participants 100] [--seconds 60] [--rate 30]
                                   [--sessions 20] [--per-session 10] [--processes 2] [--json F]

What it does:

* Starts ``vrprep serve`` (a copy of the release binary) on a free loopback port with a fresh
  data folder, uploads the sample study (``SampleStudies/ct-head-promed0051``) and waits for
  its package.
* **One large session**: a presenter (holding the host key) and ``--participants`` participants
  (Python ``websockets`` clients, spread over ``--processes`` processes so that the clients'
  own parsing is not what is measured). The presenter sends ``--rate`` camera updates a second
  for ``--seconds`` seconds and an annotation every 5 s. Each camera carries its send time (the
  system's monotonic clock, shared by every process on the machine) in its first coordinate;
  each participant notes when it arrived. Then the session is ended through the API and each
  participant must have received every annotation.
* **Many sessions at once**: ``--sessions`` sessions of ``--per-session`` clients (a presenter
  and the rest participants), all presenters sending at the same rate, for the same time.
* Throughout, the service's resident memory (``/proc/PID/status``) once a second.

Reported: delivery latency p50, p95, p99 and max (ms), cameras delivered (a slow reader may
miss intermediate cameras by design, never an annotation), annotations lost, the service's
memory at the start, its peak and at the end, and its CPU time while the presenters sent (% of
one core). Goals (issue "Live case conferences"): p95 <= 50 ms,
p99 <= 100 ms, no annotation lost, memory bounded.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import statistics
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from service_load import fresh_service, request, sample_package, start_service  # noqa: E402  (the service benchmarks' helpers)

REPO = Path(__file__).resolve().parent.parent
WRAP = 100_000.0  # the send time is the monotonic clock modulo this (coordinates stay small)


def fail(message: str) -> None:
    print(f"sessions.py: {message}", file=sys.stderr)
    sys.exit(1)


def clock() -> float:
    return time.monotonic() % WRAP


def camera(now: float) -> str:
    return json.dumps({"type": "camera", "position": [now, 0.1, 0.4], "target": [0.0, 0.0, 0.0], "up": [0, 1, 0], "fov": 40})


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))] if ordered else float("nan")


# ---- participants (in worker processes) ----

async def participant(url: str, ready: asyncio.Event, counters: dict, latencies: list[float], annotations: dict, key: str) -> None:
    import websockets
    async with websockets.connect(url, max_size=1 << 20, ping_interval=None, open_timeout=60) as socket:
        seen = set()
        async for text in socket:
            arrived = clock()
            message = json.loads(text)
            kind = message.get("type")
            if kind == "snapshot":
                counters["joined"] += 1
                if counters["joined"] == counters["expected"]:
                    ready.set()
            elif kind == "camera":
                latency = arrived - message["position"][0]
                if latency < -WRAP / 2:
                    latency += WRAP
                latencies.append(latency)
            elif kind == "annotation":
                seen.add(message["annotation"]["id"])
            elif kind == "ended":
                break
        annotations[key] = sorted(seen)


def participant_process(urls: list[tuple[str, str]], ready_flag, go_flag, results) -> None:
    async def run() -> None:
        ready = asyncio.Event()
        counters = {"joined": 0, "expected": len(urls)}
        latencies: list[float] = []
        annotations: dict[str, list[str]] = {}
        tasks = []
        for key, url in urls:
            tasks.append(asyncio.create_task(participant(url, ready, counters, latencies, annotations, key)))
            await asyncio.sleep(0.005)
        await asyncio.wait_for(ready.wait(), timeout=120)
        ready_flag.set()
        results_done = await asyncio.gather(*tasks, return_exceptions=True)
        errors = [repr(r) for r in results_done if isinstance(r, BaseException)]
        results.put({"latencies": latencies, "annotations": annotations, "errors": errors})

    asyncio.run(run())


# ---- presenters (in this process) ----

async def presenter(url: str, seconds: float, rate: float, annotation_every: float, sent: dict, key: str) -> None:
    import websockets
    async with websockets.connect(url, max_size=1 << 20, ping_interval=None, open_timeout=60) as socket:
        async def drain() -> None:
            async for _ in socket:
                pass
        reader = asyncio.create_task(drain())
        start = time.monotonic()
        next_at = start
        next_annotation = start + annotation_every
        cameras = 0
        notes: list[str] = []
        while time.monotonic() - start < seconds:
            await socket.send(camera(clock()))
            cameras += 1
            if time.monotonic() >= next_annotation:
                note = f"a{len(notes) + 1}"
                await socket.send(json.dumps({"type": "annotation", "op": "add",
                                              "annotation": {"id": note, "kind": "point", "points": [[0, 0, 0]], "text": note}}))
                notes.append(note)
                next_annotation += annotation_every
            next_at += 1 / rate
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        sent[key] = {"cameras": cameras, "annotations": notes}
        await asyncio.sleep(1.0)  # the last frames reach everyone before the session ends
        reader.cancel()


def memory_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_phase(name: str, port: int, token: str, package: str, sessions: int, per_session: int, seconds: float, rate: float,
              processes: int, server_pid: int) -> dict:
    print(f"{name}: {sessions} session(s) of {per_session} for {seconds:.0f} s …", file=sys.stderr)
    made = []
    for n in range(sessions):
        status, answer = request(port, "POST", f"/v1/packages/{package}/sessions", token,
                                 json.dumps({"title": f"load {n}"}).encode(), "application/json")
        if status != 201:
            fail(f"making a session answered {status}: {answer[:200]!r}")
        made.append(json.loads(answer))
    base = f"ws://127.0.0.1:{port}"
    participants = []
    for n, session in enumerate(made):
        for k in range(per_session - 1):
            participants.append((f"s{n}p{k}", f"{base}{session['webSocket']}&name=" + urllib.parse.quote(f"P{n}-{k}")))
    # Participants join first (spread over processes), then the presenters begin.
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers, flags = [], []
    for w in range(processes):
        share = participants[w::processes]
        if not share:
            continue
        flag = context.Event()
        worker = context.Process(target=participant_process, args=(share, flag, None, results))
        worker.start()
        workers.append(worker)
        flags.append(flag)
    for flag in flags:
        if not flag.wait(180):
            fail("participants did not all join within 180 s")
    memory: list[int] = [memory_of(server_pid)]
    stop_sampling = threading.Event()

    def sample() -> None:
        while not stop_sampling.wait(1.0):
            memory.append(memory_of(server_pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    sent: dict = {}
    cpu_start = cpu_seconds_of(server_pid)

    async def present() -> None:
        await asyncio.gather(*[presenter(f"{base}{s['webSocket']}&name=Host{n}&hostKey={s['hostKey']}", seconds, rate, 5.0, sent, f"s{n}")
                               for n, s in enumerate(made)])

    asyncio.run(present())
    cpu = cpu_seconds_of(server_pid) - cpu_start
    for session in made:
        status, _ = request(port, "DELETE", f"/v1/sessions/{session['sessionId']}", token)
        if status != 204:
            fail(f"ending a session answered {status}")
    latencies: list[float] = []
    annotations: dict = {}
    errors: list[str] = []
    for _ in workers:
        part = results.get(timeout=120)
        latencies += part["latencies"]
        annotations.update(part["annotations"])
        errors += part["errors"]
    for worker in workers:
        worker.join(30)
    time.sleep(1.5)
    stop_sampling.set()
    sampler.join()
    memory.append(memory_of(server_pid))
    cameras_sent = sum(s["cameras"] for s in sent.values()) * (per_session - 1)
    lost = 0
    for key, got in annotations.items():
        wanted = sent[key.split("p")[0]]["annotations"]
        lost += len(set(wanted) - set(got))
    milliseconds = [1000 * x for x in latencies]
    return {
        "phase": name, "sessions": sessions, "clientsPerSession": per_session, "seconds": seconds, "rateHz": rate,
        "camerasSent": cameras_sent, "camerasDelivered": len(latencies),
        "annotationsSent": sum(len(s["annotations"]) for s in sent.values()) * (per_session - 1), "annotationsLost": lost,
        "latencyMs": {"p50": round(percentile(milliseconds, 0.50), 2), "p95": round(percentile(milliseconds, 0.95), 2),
                      "p99": round(percentile(milliseconds, 0.99), 2), "max": round(max(milliseconds, default=float("nan")), 2),
                      "mean": round(statistics.fmean(milliseconds), 2) if milliseconds else None},
        "memoryMB": {"start": round(memory[0] / 2**20, 1), "peak": round(max(memory) / 2**20, 1), "end": round(memory[-1] / 2**20, 1)},
        "serviceCpuPercent": round(100 * cpu / (seconds + 1), 1),
        "clientErrors": errors[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vrprep", type=Path, default=REPO / ".build" / "release" / "vrprep")
    parser.add_argument("--work", type=Path, default=REPO / "Benchmarks" / "work" / "sessions")
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=30)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--per-session", type=int, default=10)
    parser.add_argument("--processes", type=int, default=2, help="processes for the participants' clients (default 2)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args()
    try:
        import websockets  # noqa: F401
    except ImportError:
        fail("needs the websockets package: pip install websockets")
    if not args.vrprep.is_file():
        fail(f"{args.vrprep} not found: run `swift build -c release --product vrprep` first")
    work = args.work.resolve()
    binary, data, token = fresh_service(work, args.vrprep)
    server, port = start_service(binary, data)
    rows = []
    try:
        package = sample_package(port, token, work)
        rows.append(run_phase("one session", port, token, package, 1, args.participants + 1, args.seconds, args.rate, args.processes, server.pid))
        rows.append(run_phase("many sessions", port, token, package, args.sessions, args.per_session, args.seconds, args.rate,
                              args.processes, server.pid))
    finally:
        server.terminate()
        server.wait(30)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    print(f"\nLive sessions on loopback ({machine}); camera {args.rate:.0f}/s per presenter, {args.seconds:.0f} s\n")
    print("| phase | clients | cameras delivered | p50 ms | p95 ms | p99 ms | max ms | annotations lost | service memory MB (start / peak / end) | service CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        clients = f"{r['sessions']} × {r['clientsPerSession']}"
        delivered = f"{r['camerasDelivered']:,} of {r['camerasSent']:,}"
        lat = r["latencyMs"]
        mem = r["memoryMB"]
        print(f"| {r['phase']} | {clients} | {delivered} | {lat['p50']} | {lat['p95']} | {lat['p99']} | {lat['max']} | "
              f"{r['annotationsLost']} of {r['annotationsSent']} | {mem['start']} / {mem['peak']} / {mem['end']} | {r['serviceCpuPercent']} % |")
        if r["clientErrors"]:
            print(f"  client errors: {r['clientErrors']}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
