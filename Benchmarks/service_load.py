#!/usr/bin/env python3
"""The service under load on loopback: concurrent package downloads and study uploads.

Usage (from the repository root):

    swift build -c release --product vrprep
    python3 Benchmarks/service_load.py [--seconds 60] [--downloaders 20] [--uploaders 4] [--json out.json]

What it does: starts ``vrprep serve`` (a copy of the release binary) on a free loopback
port with a fresh data folder under --work (default Benchmarks/work/service-load),
creates a submitter token (``vrprep token create``), uploads the sample study
(SampleStudies/ct-head-promed0051, zipped) once and waits for its package. Then, for
--seconds, --downloaders threads each download the package's archive again and again
(whole, with ``If-None-Match`` left out so every request sends the bytes), and
--uploaders threads each upload the sample as a zip and wait for the job to end
(polling ``GET /v1/jobs/{id}`` every 0.5 s) again and again. Every request is timed
from sending to the last byte read.

Reported: requests per second and latency percentiles (p50, p99, max) per kind
(download, upload, job poll), errors (any status other than the expected one, any
exception), MiB/s downloaded, jobs finished, and the service's resident memory
(``vrprep_resident_bytes`` from ``GET /metrics`` with an admin token, sampled every second: start, peak,
end). The service runs with one worker (``--workers 1``): the uploads queue.

Goal (service issue): 20 concurrent downloaders and 4 concurrent uploaders for 60 s,
no error, memory bounded.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def fail(message: str) -> None:
    print(f"service_load.py: error: {message}", file=sys.stderr)
    sys.exit(1)


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.bytes = 0
        self.jobs = 0

    def add(self, kind: str, seconds: float, nbytes: int = 0) -> None:
        with self.lock:
            self.times.setdefault(kind, []).append(seconds)
            self.bytes += nbytes

    def error(self, text: str) -> None:
        with self.lock:
            if len(self.errors) < 50:
                self.errors.append(text)
            self.times.setdefault("errors", []).append(0)


def fresh_service(work: Path, vrprep: Path) -> tuple[Path, Path, str]:
    """An empty `work` folder with a copy of the binary (a rebuild meanwhile cannot mix two
    builds), the service's data folder in it, and a submitter token for that data."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    binary = work / "vrprep"
    shutil.copy2(vrprep, binary)
    data = work / "data"
    made = subprocess.run([str(binary), "token", "create", "--role", "submitter", "--data", str(data)],
                          capture_output=True, text=True, check=True)
    return binary, data, made.stdout.strip().split("\n")[-1].split()[-1]


def start_service(binary: Path, data: Path, *extra: str) -> tuple[subprocess.Popen, int]:
    """`vrprep serve` on a free loopback port (with `extra` options): the process and its port."""
    server = subprocess.Popen([str(binary), "serve", "--data", str(data), "--port", "0", "--shaders", str(REPO / "Shaders"), *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = server.stdout.readline()
    if "127.0.0.1:" not in line:
        server.terminate()
        print(f"the service did not start: {line!r}", file=sys.stderr)
        sys.exit(1)
    return server, int(line.split("127.0.0.1:")[1].split()[0])


def sample_package(port: int, token: str, work: Path) -> str:
    """Uploads the sample study (zipped) and waits for its package: its id."""
    zip_path = work / "sample.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for f in sorted((REPO / "SampleStudies" / "ct-head-promed0051").glob("*.dcm")):
            archive.write(f, f"study/{f.name}")
    status, answer = request(port, "POST", "/v1/studies", token, zip_path.read_bytes(), "application/zip")
    if status != 202:
        print(f"the sample's upload answered {status}: {answer[:200]!r}", file=sys.stderr)
        sys.exit(1)
    job = json.loads(answer)["jobId"]
    while True:
        state = json.loads(request(port, "GET", f"/v1/jobs/{job}", token)[1])
        if state["state"] in ("done", "failed", "cancelled"):
            break
        time.sleep(0.5)
    if state["state"] != "done":
        print(f"the sample's job did not finish: {state}", file=sys.stderr)
        sys.exit(1)
    return state["packageId"]


def request(port: int, method: str, path: str, token: str, body: bytes | None = None,
            content_type: str | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Authorization": f"Bearer {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vrprep", default=str(REPO / ".build" / "release" / "vrprep"))
    parser.add_argument("--work", default=str(REPO / "Benchmarks" / "work" / "service-load"))
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--downloaders", type=int, default=20)
    parser.add_argument("--uploaders", type=int, default=4)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    if not Path(args.vrprep).is_file():
        fail(f"{args.vrprep} not found: run `swift build -c release --product vrprep` first")
    work = Path(args.work)
    binary, data, token = fresh_service(work, Path(args.vrprep))
    # /metrics needs an admin token.
    admin = subprocess.run([str(binary), "token", "create", "--role", "admin", "--name", "metrics", "--data", str(data)],
                           capture_output=True, text=True, check=True).stdout.strip().split("\n")[-1].split()[-1]
    server, port = start_service(binary, data, "--workers", "1")
    try:
        # The sample's package first; its zip is what the uploaders send again and again.
        package = sample_package(port, token, work)
        study = (work / "sample.zip").read_bytes()
        stats = Stats()
        memory: list[int] = []
        stop = time.monotonic() + args.seconds

        def downloader() -> None:
            while time.monotonic() < stop:
                start = time.perf_counter()
                try:
                    status, body = request(port, "GET", f"/v1/packages/{package}/archive", token)
                    if status != 200:
                        stats.error(f"download: {status}")
                        continue
                    stats.add("download", time.perf_counter() - start, len(body))
                except Exception as error:  # noqa: BLE001
                    stats.error(f"download: {error}")

        def uploader() -> None:
            while time.monotonic() < stop:
                start = time.perf_counter()
                try:
                    status, body = request(port, "POST", "/v1/studies", token, study, "application/zip")
                    if status != 202:
                        stats.error(f"upload: {status} {body[:100]!r}")
                        continue
                    stats.add("upload", time.perf_counter() - start)
                    job = json.loads(body)["jobId"]
                    while time.monotonic() < stop + 600:
                        t = time.perf_counter()
                        status, body = request(port, "GET", f"/v1/jobs/{job}", token)
                        stats.add("job poll", time.perf_counter() - t)
                        if status != 200:
                            stats.error(f"job poll: {status}")
                            break
                        state = json.loads(body)["state"]
                        if state in ("done", "failed", "cancelled"):
                            if state != "done":
                                stats.error(f"job {job}: {state}")
                            else:
                                with stats.lock:
                                    stats.jobs += 1
                            break
                        if time.monotonic() >= stop:
                            break
                        time.sleep(0.5)
                except Exception as error:  # noqa: BLE001
                    stats.error(f"upload: {error}")

        def sampler() -> None:
            while time.monotonic() < stop:
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    connection.request("GET", "/metrics", headers={"Authorization": f"Bearer {admin}"})
                    text = connection.getresponse().read().decode()
                    connection.close()
                    for row in text.splitlines():
                        if row.startswith("vrprep_resident_bytes "):
                            memory.append(int(row.split()[1]))
                except Exception:  # noqa: BLE001
                    pass
                time.sleep(1)

        threads = [threading.Thread(target=downloader) for _ in range(args.downloaders)]
        threads += [threading.Thread(target=uploader) for _ in range(args.uploaders)]
        threads.append(threading.Thread(target=sampler))
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - began
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    rows = []
    for kind in ("download", "upload", "job poll"):
        values = stats.times.get(kind, [])
        if not values:
            continue
        rows.append({"kind": kind, "requests": len(values), "perSecond": len(values) / elapsed,
                     "p50": percentile(values, 0.5), "p99": percentile(values, 0.99), "max": max(values)})
    errors = len(stats.times.get("errors", []))
    print(f"{args.downloaders} downloaders + {args.uploaders} uploaders for {elapsed:.0f} s on loopback, one worker:")
    print("| kind | requests | per second | p50 s | p99 s | max s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['kind']} | {r['requests']} | {r['perSecond']:.1f} | {r['p50']:.3f} | {r['p99']:.3f} | {r['max']:.3f} |")
    print(f"errors: {errors}; downloaded {stats.bytes / 2**20 / elapsed:.0f} MiB/s; jobs finished {stats.jobs}")
    if memory:
        print(f"resident memory: start {memory[0] / 2**20:.0f} MiB, peak {max(memory) / 2**20:.0f} MiB, "
              f"end {memory[-1] / 2**20:.0f} MiB ({len(memory)} samples)")
    for text in stats.errors[:10]:
        print(f"  error: {text}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"seconds": elapsed, "rows": rows, "errors": errors,
                                                   "errorSamples": stats.errors, "memory": memory,
                                                   "jobsFinished": stats.jobs, "downloadedBytes": stats.bytes}, indent=2))
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
