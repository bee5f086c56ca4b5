#!/usr/bin/env python3
"""The service on several nodes, on this machine: jobs per minute with 1 and 2 workers, the time
a lost job waits before another worker takes it, and the API's request rate through nginx with
one and two API nodes.

Usage (from the repository root, as root or as a user that can run PostgreSQL's initdb):

    swift build -c release --product vrprep
    python3 Benchmarks/scale_out.py [--jobs 6] [--lease 5] [--seconds 10] [--clients 8] [--json out.json]

Needs Debian's postgresql (initdb, pg_ctl) and nginx. Every part starts its own PostgreSQL
(initdb into a temporary folder, a loopback port, fsync off: this measures the service, not the
disk), ``vrprep serve --database … --storage … --workers 0`` as the API node(s) and ``vrprep
worker`` processes, all of the release binary, and stops them at the end.

1. Throughput: --jobs uploads of the sample study (SampleStudies/ct-head-promed0051, zipped),
   sent at once through the API node, run by 1 worker process, then (fresh database and storage)
   by 2 worker processes of one job each; time from the first upload to the last job done, as
   jobs per minute. Each job's own process uses every core, so on a machine of few cores two
   workers share them rather than double the rate.
2. A lost job: one worker with --lease seconds; a job uploaded, the worker and the job's process
   killed with SIGKILL once the job is past 20 %, a second worker started at once; the time from
   the kill until the job's process runs again on the second worker, and until the job is done.
3. API rate: --clients threads, each with a keep-alive connection, send ``GET /v1/jobs`` (a
   submitter's list: token check and a records read) for --seconds, through nginx in front of one
   API node, then of two; the same straight to one node for reference. Requests per second, p50
   and p99 latency, errors.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "SampleStudies" / "ct-head-promed0051"


def fail(message: str) -> None:
    print(f"scale_out.py: {message}", file=sys.stderr)
    sys.exit(1)


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name), reverse=True)
    if versions:
        return versions[0].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    fail("PostgreSQL's initdb was not found: install Debian's postgresql")


class Postgres:
    """A PostgreSQL server in a temporary folder on a loopback port (as postgres when root)."""

    def __init__(self, work: Path) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="pg-", dir=work))
        self.bin = postgres_bin()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.folder, "postgres")
        self.port = free_port()
        self.run("initdb", "-D", str(self.folder / "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync",
                 "--no-instructions")
        self.run("pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "log"), "-w", "-o",
                 f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                 "start")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, tool: str, *arguments: str) -> None:
        command = [str(self.bin / tool), *arguments]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            fail(f"{' '.join(command)}: {done.stderr.strip()}")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


class Cluster:
    """PostgreSQL, a storage folder, API nodes and workers of the release binary."""

    def __init__(self, binary: Path, work: Path) -> None:
        self.binary = binary
        self.postgres = Postgres(work)
        self.storage = Path(tempfile.mkdtemp(prefix="storage-", dir=work))
        self.records = ["--database", self.postgres.url, "--storage", str(self.storage)]
        self.processes: list[subprocess.Popen] = []
        made = subprocess.run([str(binary), "token", "create", "--role", "submitter", "--name", "bench", *self.records],
                              capture_output=True, text=True)
        if made.returncode != 0:
            fail(f"vrprep token create: {made.stderr.strip()}")
        self.token = made.stdout.strip().split()[-1]

    def api_node(self) -> int:
        process = subprocess.Popen([str(self.binary), "serve", *self.records, "--port", "0", "--workers", "0",
                                    "--shaders", str(ROOT / "Shaders")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = process.stdout.readline()
        threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
        self.processes.append(process)
        try:
            return int(line.split("127.0.0.1:")[1].split()[0])
        except (IndexError, ValueError):
            fail(f"vrprep serve did not start: {line!r}")

    def worker(self, lease: float = 30) -> subprocess.Popen:
        process = subprocess.Popen([str(self.binary), "worker", *self.records, "--lease-seconds", str(lease),
                                    "--shaders", str(ROOT / "Shaders")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        self.postgres.stop()
        shutil.rmtree(self.storage, ignore_errors=True)


def call(port: int, method: str, path: str, token: str, body: bytes | None = None,
         connection: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "application/zip"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    if own:
        connection.close()
    return response.status, data


def job_state(port: int, token: str, job: str) -> dict:
    return json.loads(call(port, "GET", f"/v1/jobs/{job}", token)[1])


def job_processes(job: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                words = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"run-job" in words and job.encode() in words:
                found.append(int(entry.name))
    return found


def throughput(binary: Path, work: Path, study: bytes, jobs: int, workers: int) -> dict:
    cluster = Cluster(binary, work)
    try:
        port = cluster.api_node()
        for _ in range(workers):
            cluster.worker()
        start = time.perf_counter()
        ids = []
        for _ in range(jobs):
            status, answer = call(port, "POST", "/v1/studies", cluster.token, study)
            if status != 202:
                fail(f"upload answered {status}: {answer[:200]!r}")
            ids.append(json.loads(answer)["jobId"])
        states = {}
        while True:
            states = {job: job_state(port, cluster.token, job)["state"] for job in ids}
            if all(state in ("done", "failed") for state in states.values()):
                break
            time.sleep(0.5)
        seconds = time.perf_counter() - start
        failed = [job for job, state in states.items() if state != "done"]
        return {"workers": workers, "jobs": jobs, "seconds": round(seconds, 1), "jobsPerMinute": round(60 * jobs / seconds, 2),
                "failed": len(failed)}
    finally:
        cluster.stop()


def lost_job(binary: Path, work: Path, study: bytes, lease: float) -> dict:
    cluster = Cluster(binary, work)
    try:
        port = cluster.api_node()
        first = cluster.worker(lease)
        status, answer = call(port, "POST", "/v1/studies", cluster.token, study)
        job = json.loads(answer)["jobId"]
        while True:
            state = job_state(port, cluster.token, job)
            if state["state"] == "running" and state.get("percent", 0) >= 20:
                break
            time.sleep(0.05)
        children = job_processes(job)
        first.send_signal(signal.SIGKILL)
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        killed = time.perf_counter()
        first.wait()
        cluster.worker(lease)
        retaken = None
        while True:
            if retaken is None and job_processes(job):
                retaken = time.perf_counter() - killed
            state = job_state(port, cluster.token, job)
            if state["state"] in ("done", "failed"):
                break
            time.sleep(0.05)
        return {"leaseSeconds": lease, "takenAgainAfterSeconds": round(retaken or float("nan"), 2),
                "doneAfterSeconds": round(time.perf_counter() - killed, 1), "state": state["state"]}
    finally:
        cluster.stop()


NGINX = """
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
{user}
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    upstream vrprep {{
{servers}
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 4g;
        location / {{
            proxy_pass http://vrprep;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_request_buffering off;
        }}
    }}
}}
"""


def nginx_in_front(ports: list[int], work: Path) -> tuple[subprocess.Popen, int, Path]:
    if not shutil.which("nginx"):
        fail("nginx was not found: install Debian's nginx")
    folder = Path(tempfile.mkdtemp(prefix="nginx-", dir=work))
    port = free_port()
    servers = "\n".join(f"        server 127.0.0.1:{p};" for p in ports)
    (folder / "nginx.conf").write_text(NGINX.format(folder=folder, port=port, servers=servers,
                                                    user="user root;" if os.geteuid() == 0 else ""))
    process = subprocess.Popen(["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", str(folder / "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            call(port, "GET", "/healthz", "")
            break
        except OSError:
            time.sleep(0.05)
    return process, port, folder


def hammer(port: int, token: str, seconds: float, clients: int) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    end = time.perf_counter() + seconds

    def client() -> None:
        nonlocal errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad = [], 0
        while time.perf_counter() < end:
            began = time.perf_counter()
            try:
                status, _ = call(port, "GET", "/v1/jobs", token, connection=connection)
                if status != 200:
                    bad += 1
            except (OSError, http.client.HTTPException):
                bad += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - began)
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    return {"requestsPerSecond": round(len(latencies) / seconds, 1), "p50ms": round(1000 * latencies[len(latencies) // 2], 2),
            "p99ms": round(1000 * latencies[int(len(latencies) * 0.99)], 2), "errors": errors}


def api_rate(binary: Path, work: Path, seconds: float, clients: int) -> dict:
    cluster = Cluster(binary, work)
    try:
        ports = [cluster.api_node(), cluster.api_node()]
        results = {"direct, one node": hammer(ports[0], cluster.token, seconds, clients)}
        for count in (1, 2):
            process, port, folder = nginx_in_front(ports[:count], work)
            try:
                results[f"nginx, {count} node{'s' if count > 1 else ''}"] = hammer(port, cluster.token, seconds, clients)
            finally:
                process.terminate()
                process.wait()
                shutil.rmtree(folder, ignore_errors=True)
        return results
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vrprep", default=str(ROOT / ".build" / "release" / "vrprep"))
    parser.add_argument("--work", default=str(ROOT / "Benchmarks" / "work" / "scale-out"))
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--lease", type=float, default=5)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out: throughput, lost, api")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    binary = Path(args.vrprep)
    if not binary.is_file():
        fail(f"{binary} not found: swift build -c release --product vrprep")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chmod(work, 0o777)
    study_zip = work / "sample.zip"
    with zipfile.ZipFile(study_zip, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(SAMPLE.glob("*.dcm")):
            archive.write(file, f"study/{file.name}")
    study = study_zip.read_bytes()
    skip = set(args.skip.split(",")) - {""}
    results: dict = {"cores": os.cpu_count()}
    if "throughput" not in skip:
        results["throughput"] = [throughput(binary, work, study, args.jobs, workers) for workers in (1, 2)]
        for row in results["throughput"]:
            print(f"throughput: {row['workers']} worker(s): {row['jobs']} jobs in {row['seconds']} s = "
                  f"{row['jobsPerMinute']} jobs/min ({row['failed']} failed)", flush=True)
    if "lost" not in skip:
        results["lostJob"] = lost_job(binary, work, study, args.lease)
        row = results["lostJob"]
        print(f"lost job: lease {row['leaseSeconds']} s; running again after {row['takenAgainAfterSeconds']} s, "
              f"{row['state']} after {row['doneAfterSeconds']} s", flush=True)
    if "api" not in skip:
        results["api"] = api_rate(binary, work, args.seconds, args.clients)
        for name, row in results["api"].items():
            print(f"api ({args.clients} clients, GET /v1/jobs): {name}: {row['requestsPerSecond']} req/s, "
                  f"p50 {row['p50ms']} ms, p99 {row['p99ms']} ms, {row['errors']} errors", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
