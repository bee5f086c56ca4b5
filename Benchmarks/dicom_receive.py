#!/usr/bin/env python3
"""Receiving studies by DICOM C-STORE: VRPrep's receiver against DCMTK's storescp and Orthanc.

Usage (from the repository root):

    swift build -c release --product vrprep
    python3 Benchmarks/load_series.py          # prepares Benchmarks/work/{sample,large-432x512x512}
    python3 Benchmarks/dicom_receive.py [--runs 3] [--json results.json]

Receivers, each on a loopback port, fed by DCMTK's ``storescu`` (Debian package dcmtk):

- ``vrprep serve --dicom-port`` (the release binary; a study completes after an idle time of
  an hour, so that no job runs while receiving is timed);
- DCMTK's ``storescp --fork`` (one process per association, files written as received): the
  same library with nothing around it, the floor;
- Orthanc (Debian package orthanc), a PACS that files every instance in its index.

storescp and Orthanc are run twice: as installed, and with TCP_NODELAY=1 in their environment
(DCMTK, which both use, leaves Nagle's algorithm on for accepted sockets unless told; each
C-STORE response then waits for the sender's delayed ACK, about 40 ms an instance). VRPrep
turns it off itself. All offer the same 128 KiB receive PDU (VRPrep's; ``--max-pdu 131072`` for storescp,
``MaximumPduLength`` for Orthanc; their defaults are 16 KiB).

Scenarios: the 512 x 512 x 432 series (227 MB) in one association; the same series split in
four parts sent by four associations at once; the 256 x 256 x 108 sample in one association.
What is timed: storescu's wall time, start to exit, which ends when every instance has been
answered (VRPrep answers only once the instance is written and filed in its study's folder).
Each run starts with an empty store; one warm-up run, then --runs timed runs; median and best.
The load generator runs on the same 2 cores.

Then end to end: the large series sent to VRPrep with completion on release, timed from
storescu's start until the job is done (package published), against ``vrprep process`` on the
same folder in the same run: what receiving by DICOM adds to the pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from segment import binary_info, private_binary  # noqa: E402


# Debian's dcmtk tools by their full paths: pynetdicom installs Python tools of the same names.
STORESCU, STORESCP, ECHOSCU = "/usr/bin/storescu", "/usr/bin/storescp", "/usr/bin/echoscu"


def fail(message: str) -> None:
    print(f"dicom_receive.py: {message}", file=sys.stderr)
    sys.exit(2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def echo_ready(port: int, seconds: float = 20) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if subprocess.run([ECHOSCU, "-aet", "BENCH", "-aec", "VRPREP", "127.0.0.1", str(port)],
                          capture_output=True).returncode == 0:
            return
        time.sleep(0.2)
    fail(f"nothing answers C-ECHO on port {port}")


def send(port: int, parts: list[list[Path]]) -> float:
    """storescu per part, all at once; seconds until the last one exits."""
    start = time.perf_counter()
    senders = [subprocess.Popen([STORESCU, "-aet", "BENCH", "-aec", "VRPREP", "127.0.0.1", str(port)]
                                + [str(f) for f in part], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
               for part in parts]
    for sender in senders:
        _, err = sender.communicate()
        if sender.returncode != 0:
            fail(f"storescu failed: {err.decode()[-500:]}")
    return time.perf_counter() - start


class VRPrep:
    name = "VRPrep"

    def __init__(self, binary: Path, work: Path, completion: str = "idle", idle: float = 3600) -> None:
        self.data = work / "vrprep-data"
        shutil.rmtree(self.data, ignore_errors=True)
        made = subprocess.run([str(binary), "token", "create", "--role", "admin", "--data", str(self.data)],
                              capture_output=True, text=True, check=True)
        self.token = made.stdout.strip().split("\n")[-1].split()[-1]
        self.port = free_port()
        self.process = subprocess.Popen(
            [str(binary), "serve", "--data", str(self.data), "--port", "0", "--dicom-port", str(self.port),
             "--allow-ae", "BENCH", "--dicom-idle-seconds", str(idle), "--dicom-complete-on", completion,
             "--shaders", str(REPO / "Shaders")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        if "127.0.0.1:" not in line:
            fail(f"vrprep serve did not start: {line!r}")
        self.http = int(line.split("127.0.0.1:")[1].split()[0])
        echo_ready(self.port)

    def clear(self) -> None:
        # Studies being received stay in uploads/ until they complete (an hour here): remove them
        # between runs (files only; the records of the incomplete studies do not matter here).
        uploads = self.data / "uploads"
        for entry in uploads.iterdir():
            shutil.rmtree(entry, ignore_errors=True)

    def peak_memory_mib(self) -> float:
        for row in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if row.startswith("VmHWM:"):
                return int(row.split()[1]) / 1024
        return 0.0

    def jobs(self) -> list[dict]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.http}/v1/jobs",
                                         headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())["jobs"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def environment(nodelay: bool) -> dict:
    """DCMTK leaves Nagle's algorithm on for accepted sockets unless TCP_NODELAY=1 is set."""
    return {**os.environ, "TCP_NODELAY": "1"} if nodelay else dict(os.environ)


class StoreSCP:
    def __init__(self, work: Path, nodelay: bool = False) -> None:
        self.name = "DCMTK storescp" + (", TCP_NODELAY=1" if nodelay else "")
        self.folder = work / ("storescp-nodelay" if nodelay else "storescp")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process = subprocess.Popen([STORESCP, "--fork", "--max-pdu", "131072", "-aet", "VRPREP", "-od", str(self.folder), str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment(nodelay))
        echo_ready(self.port)

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        subprocess.run(["pkill", "-f", f"{STORESCP} --fork --max-pdu 131072 -aet VRPREP -od {self.folder}"], capture_output=True)


class Orthanc:
    def __init__(self, work: Path, nodelay: bool = False) -> None:
        self.name = "Orthanc" + (", TCP_NODELAY=1" if nodelay else "")
        self.nodelay = nodelay
        self.root = work / ("orthanc-nodelay" if nodelay else "orthanc")
        self.port = free_port()
        self.http = free_port()
        self.start()

    def start(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        config = {"Name": "bench", "StorageDirectory": str(self.root / "storage"), "IndexDirectory": str(self.root / "index"),
                  "HttpPort": self.http, "DicomPort": self.port, "DicomAet": "VRPREP", "RemoteAccessAllowed": False,
                  "AuthenticationEnabled": False, "Plugins": [], "DicomCheckCalledAet": False,
                  "MaximumPduLength": 131072}
        (self.root / "orthanc.json").write_text(json.dumps(config))
        self.process = subprocess.Popen(["/usr/sbin/Orthanc", str(self.root / "orthanc.json")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment(self.nodelay))
        echo_ready(self.port)

    def clear(self) -> None:
        # A fresh store each run: Orthanc would otherwise recognise the instances it already has.
        self.stop()
        self.start()

    def version(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/system", timeout=10) as answer:
            return json.loads(answer.read())["Version"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def files_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".dcm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vrprep", type=Path, default=REPO / ".build" / "release" / "vrprep")
    parser.add_argument("--work", type=Path, default=REPO / "Benchmarks" / "work")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    if args.runs < 1:
        fail("--runs must be at least 1")
    if not args.vrprep.is_file():
        fail(f"{args.vrprep} not found: run `swift build -c release --product vrprep` first")
    for tool in (STORESCU, STORESCP, ECHOSCU):
        if not Path(tool).exists():
            fail(f"{tool} not found: apt-get install dcmtk")
    if not Path("/usr/sbin/Orthanc").exists():
        fail("Orthanc not found: apt-get install orthanc")
    large, sample = args.work / "large-432x512x512", args.work / "sample"
    for folder in (large, sample):
        if not folder.is_dir():
            fail(f"{folder} not found: prepare it with Benchmarks/load_series.py")
    large_files, sample_files = files_of(large), files_of(sample)
    quarter = (len(large_files) + 3) // 4
    scenarios = [
        ("large, 1 association", [large_files]),
        ("large in 4 parts, 4 associations at once", [large_files[i:i + quarter] for i in range(0, len(large_files), quarter)]),
        ("sample, 1 association", [sample_files]),
    ]
    scratch = Path(tempfile.mkdtemp(prefix="vrprep-dicom-bench-", dir=args.work))
    results: list[dict] = []
    try:
        with private_binary(args.vrprep, "vrprep-dicom-bench-") as binary:
            info = binary_info(binary)
            receivers: list = []
            try:
                receivers.append(VRPrep(binary, scratch))
                receivers.append(StoreSCP(scratch))
                receivers.append(StoreSCP(scratch, nodelay=True))
                receivers.append(Orthanc(scratch))
                receivers.append(Orthanc(scratch, nodelay=True))
                orthanc_version = receivers[3].version()
                for scenario, parts in scenarios:
                    nbytes = sum(f.stat().st_size for part in parts for f in part)
                    count = sum(len(part) for part in parts)
                    for receiver in receivers:
                        receiver.clear()
                        send(receiver.port, parts)  # warm-up
                        times = []
                        for _ in range(args.runs):
                            receiver.clear()
                            times.append(send(receiver.port, parts))
                        median = statistics.median(times)
                        row = {"scenario": scenario, "receiver": receiver.name, "instances": count, "bytes": nbytes,
                               "median_s": round(median, 3), "best_s": round(min(times), 3),
                               "mb_per_s": round(nbytes / median / 1e6, 1), "instances_per_s": round(count / median, 1)}
                        results.append(row)
                        print(f"{scenario:45s} {receiver.name:30s} {median:7.3f} s  {row['mb_per_s']:7.1f} MB/s", flush=True)
                vrprep_peak = receivers[0].peak_memory_mib()
            finally:
                for receiver in receivers:
                    receiver.stop()

            # End to end: send → package, against `vrprep process` on the same folder.
            end_to_end, process_times = [], []
            for _ in range(args.runs):
                service = None
                try:
                    service = VRPrep(binary, scratch, completion="release")
                    start = time.perf_counter()
                    send(service.port, [large_files])
                    received = time.perf_counter() - start
                    while True:
                        jobs = service.jobs()
                        if jobs and jobs[0]["state"] in ("done", "failed"):
                            break
                        time.sleep(0.1)
                    if jobs[0]["state"] != "done":
                        fail(f"the job failed: {jobs[0]}")
                    end_to_end.append((time.perf_counter() - start, received))
                finally:
                    if service is not None:
                        service.stop()
                out = scratch / "process-out"
                start = time.perf_counter()
                subprocess.run([str(binary), "process", str(large), "--out", str(out), "--json",
                                "--shaders", str(REPO / "Shaders")], check=True, capture_output=True)
                process_times.append(time.perf_counter() - start)
            e2e = {"received_s": round(statistics.median(r for _, r in end_to_end), 3),
                   "send_to_package_s": round(statistics.median(t for t, _ in end_to_end), 3),
                   "vrprep_process_s": round(statistics.median(process_times), 3)}
            print(f"end to end (large): received {e2e['received_s']} s, package done {e2e['send_to_package_s']} s after "
                  f"the send began; vrprep process on the folder {e2e['vrprep_process_s']} s", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    report = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count()}, "vrprep": info,
              "dcmtk": subprocess.run([STORESCU, "--version"], capture_output=True, text=True).stdout.split("\n")[0],
              "orthanc": orthanc_version, "runs": args.runs, "receive": results,
              "vrprep_peak_resident_mib": round(vrprep_peak, 1), "end_to_end_large": e2e}
    print()
    print("| Scenario | Receiver | Median s | Best s | MB/s | Instances/s |")
    print("|---|---|---:|---:|---:|---:|")
    for row in results:
        print(f"| {row['scenario']} | {row['receiver']} | {row['median_s']} | {row['best_s']} | {row['mb_per_s']} | "
              f"{row['instances_per_s']} |")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
