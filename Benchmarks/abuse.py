#!/usr/bin/env python3
"""Tries, against a real ``vrprep serve`` on loopback, what a careless or hostile sender does.

Usage (from the repository root):

    swift build --product vrprep                  # or -c release
    python3 Benchmarks/abuse.py [--vrprep .build/debug/vrprep] [--short] [--work DIR] [--json out.json]

It starts the service (HTTP and DICOM on free loopback ports, a fresh data folder, an HTTP
idle time of 2 s, uploads up to 64 MiB), creates tokens, and tries each case of the issue
"Nothing a sender does takes VRPrep down" and the ones that already held: bad tokens and
roles, wrong content types, archives that are not zips, zip-slip and zip bombs, forms of
too many parts, studies with absurd geometry, JSON bodies with wrong types and numbers,
share links used where they should not open anything, collections read again and again or
past their expiry, the same study sent by two submitters, silent and slow HTTP
connections, oversized headers, a job's process killed, idle connections on the DICOM
port. For each it prints the case, the answer expected, the answer given and the time;
then whether the service is still alive and how many answers were server errors (5xx).

Exit status: 0 when every case was answered as expected, no answer was a 5xx and the
service is alive at the end; 1 otherwise. ``--short`` leaves out the two cases that run whole
jobs besides the sample's (the same study from a second submitter, a job's process killed),
which the Swift tests cover on their own; the tests run the short form.

Needs: Debian's dcmtk tools (dcmodify, echoscu) and Python 3's standard library.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "SampleStudies" / "ct-head-promed0051"


class Service:
    """``vrprep serve`` on free ports over a fresh data folder."""

    def __init__(self, binary: Path, data: Path) -> None:
        self.binary, self.data = binary, data
        self.dicom_port = free_port()
        self.process = subprocess.Popen(
            [str(binary), "serve", "--data", str(data), "--port", "0", "--dicom-port", str(self.dicom_port),
             "--allow-ae", "ABUSE", "--max-upload-mb", "64", "--http-idle-seconds", "2", "--job-timeout-minutes", "5"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline() if self.process.stdout else ""
        if "http://127.0.0.1:" not in line:
            raise SystemExit(f"abuse.py: error: vrprep serve did not start: {line!r}")
        self.port = int(line.split("http://127.0.0.1:")[1].split()[0])
        threading.Thread(target=lambda: [None for _ in self.process.stdout], daemon=True).start()
        self.server_errors: list[str] = []

    def token(self, role: str, name: str) -> str:
        made = subprocess.run([str(self.binary), "token", "create", "--role", role, "--name", name, "--data", str(self.data)],
                              capture_output=True, text=True, check=True)
        return made.stdout.strip().split("\n")[-1].split()[-1]

    def request(self, method: str, path: str, token: str | None = None, body: bytes | None = None,
                content_type: str | None = None, headers: dict[str, str] | None = None,
                timeout: float = 120) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        if content_type:
            all_headers["Content-Type"] = content_type
        try:
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        if response.status >= 500:
            self.server_errors.append(f"{method} {path}: {response.status} {data[:200]!r}")
        return response.status, data

    def json(self, method: str, path: str, token: str | None = None, body: bytes | None = None,
             content_type: str | None = None) -> tuple[int, dict]:
        status, data = self.request(method, path, token, body, content_type)
        try:
            return status, json.loads(data)
        except ValueError:
            return status, {"raw": data[:200].decode(errors="replace")}

    def wait(self, job: str, token: str, states: set[str], seconds: float = 300) -> dict:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            _, answer = self.json("GET", f"/v1/jobs/{job}", token)
            if answer.get("state") in states:
                return answer
            time.sleep(0.1)
        return {"state": "timed out waiting"}

    def alive(self) -> bool:
        try:
            return self.process.poll() is None and self.request("GET", "/healthz", timeout=10)[0] == 200
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def zipped(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(name, data)
    return buffer.getvalue()


def sample_files(folder: Path = SAMPLE) -> list[tuple[str, bytes]]:
    return [(f"study/{f.name}", f.read_bytes()) for f in sorted(folder.glob("*.dcm"))]


def modified_sample(work: Path, label: str, modification: str) -> bytes:
    folder = work / label
    folder.mkdir()
    for f in sorted(SAMPLE.glob("*.dcm")):
        shutil.copy(f, folder / f.name)
    subprocess.run(["/usr/bin/dcmodify", "-nb", "-m", modification, *sorted(str(f) for f in folder.glob("*.dcm"))],
                   check=True, capture_output=True)
    return zipped(sample_files(folder))


def form(parts: int, boundary: str = "abuse") -> bytes:
    part = f'--{boundary}\r\nContent-Disposition: form-data; name="f"; filename="x.dcm"\r\n\r\nabc\r\n'.encode()
    return part * parts + f"--{boundary}--\r\n".encode()


def seconds_until_closed(port: int, payload: bytes, limit: float) -> float:
    with socket.create_connection(("127.0.0.1", port)) as s:
        if payload:
            s.sendall(payload)
        s.settimeout(limit)
        start = time.monotonic()
        try:
            while s.recv(4096):
                pass
        except (socket.timeout, ConnectionResetError):
            if time.monotonic() - start >= limit:
                return float("inf")
        return time.monotonic() - start


def job_processes(job: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                words = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"run-job" in words and job.encode() in words:
                found.append(int(entry))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vrprep", type=Path, default=REPO / ".build" / "debug" / "vrprep")
    parser.add_argument("--work", type=Path)
    parser.add_argument("--short", action="store_true", help="leave out the slowest case")
    parser.add_argument("--json", type=Path, help="write the table as JSON")
    args = parser.parse_args()
    if not args.vrprep.is_file():
        print(f"abuse.py: error: {args.vrprep} does not exist (swift build --product vrprep)", file=sys.stderr)
        return 1
    work = args.work or Path(tempfile.mkdtemp(prefix="vrprep-abuse-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    service = Service(args.vrprep.resolve(), data)
    rows: list[dict] = []

    def case(name: str, expected: str, run) -> None:
        start = time.monotonic()
        try:
            answer, ok = run()
        except Exception as error:  # noqa: BLE001 - every failure is a row of the table
            answer, ok = f"exception: {error}", False
        rows.append({"case": name, "expected": expected, "answer": answer, "ok": ok,
                     "seconds": round(time.monotonic() - start, 2)})
        mark = "ok " if ok else "BAD"
        shown = answer.replace("\n", " ")[:60]
        print(f"{mark} {name:<58} {expected:<34} {shown:<60} {rows[-1]['seconds']:>6.2f} s", flush=True)

    try:
        a, b = service.token("submitter", "surgeon A"), service.token("submitter", "surgeon B")
        host, admin = service.token("host", "conference"), service.token("admin", "operator")
        sample = zipped(sample_files())
        print(f"{'':4}{'case':<58} {'expected':<34} {'answer':<60} {'time':>8}")

        def status(method: str, path: str, expect: set[int], **kw):
            code, body = service.request(method, path, **kw)
            return f"{code} {body[:40].decode(errors='replace')}".strip(), code in expect

        # Who may send.
        case("health", "200", lambda: status("GET", "/healthz", {200}))
        case("upload without a token", "401", lambda: status("POST", "/v1/studies", {401}, body=sample, content_type="application/zip"))
        case("upload with an unknown token", "401",
             lambda: status("POST", "/v1/studies", {401}, token="vrp_nothing", body=sample, content_type="application/zip"))
        case("upload with a host's token", "403",
             lambda: status("POST", "/v1/studies", {403}, token=host, body=sample, content_type="application/zip"))
        # What is sent.
        case("Content-Type application/zipfoo", "415",
             lambda: status("POST", "/v1/studies", {415}, token=a, body=sample, content_type="application/zipfoo"))
        case("Content-Length over --max-upload-mb", "413",
             lambda: status("POST", "/v1/studies", {413}, token=a, body=b"x" * (65 << 20), content_type="application/zip"))
        case("a text file sent as a zip", "422",
             lambda: status("POST", "/v1/studies", {422}, token=a, body=b"not a zip" * 100, content_type="application/zip"))
        case("zip-slip entry ../../evil.dcm", "422",
             lambda: status("POST", "/v1/studies", {422}, token=a, body=zipped([("../../evil.dcm", b"x")]), content_type="application/zip"))
        bomb = zipped(sample_files()[:1] + [("study/zeros.dcm", bytes(200 << 20))])
        case(f"zip bomb ({len(bomb) >> 10} KiB → 200 MiB)", "422 (100× ratio)",
             lambda: status("POST", "/v1/studies", {422}, token=a, body=bomb, content_type="application/zip"))
        case("multipart without its closing boundary", "400",
             lambda: status("POST", "/v1/studies", {400}, token=a, body=form(3)[:-12], content_type="multipart/form-data; boundary=abuse"))

        def many_parts():
            parts = 20_000
            result: dict = {}

            def send():
                result["answer"] = service.request("POST", "/v1/studies", token=a, body=form(parts),
                                                   content_type="multipart/form-data; boundary=abuse")
            sender = threading.Thread(target=send)
            sender.start()
            slowest = 0.0
            while sender.is_alive():
                t = time.monotonic()
                service.request("GET", "/healthz", timeout=30)
                slowest = max(slowest, time.monotonic() - t)
                time.sleep(0.05)
            sender.join()
            code = result["answer"][0]
            return f"{code}, /healthz at most {slowest:.2f} s", code == 400 and slowest < 1
        case("form of 20,000 parts", "400, /healthz < 1 s", many_parts)

        # Studies with absurd numbers: the job fails alone, naming the tag.
        def bad_study(modification: str, tag: str):
            code, answer = service.json("POST", "/v1/studies", a, modified_sample(work, tag, modification), "application/zip")
            if code != 202:
                return f"{code} {answer}", False
            job = service.wait(answer["jobId"], a, {"done", "failed"})
            error = job.get("error", "")
            ok = job.get("state") == "failed" and tag in error and str(data) not in error and service.alive()
            return f"{job.get('state')}: {error[:70]}", ok
        case("study with PixelSpacing 1e-30", "job failed naming PixelSpacing",
             lambda: bad_study(r"(0028,0030)=1e-30\1e-30", "PixelSpacing"))
        case("study with RescaleSlope NaN", "job failed naming RescaleSlope",
             lambda: bad_study("(0028,1053)=NaN", "RescaleSlope"))

        # A good study, and the same study from a second submitter.
        job_a: dict = {}

        def good_study():
            _, answer = service.json("POST", "/v1/studies", a, sample, "application/zip")
            job_a.update(service.wait(answer.get("jobId", "?"), a, {"done", "failed"}))
            return job_a.get("state", "?"), job_a.get("state") == "done"
        case("the sample study", "job done", good_study)
        package = job_a.get("packageId", "?")

        def second_sender():
            code, answer = service.json("POST", "/v1/studies", b, sample, "application/zip")
            job_b = service.wait(answer.get("jobId", "?"), b, {"done", "failed"})
            codes = [service.request("GET", f"/v1/packages/{job_b.get('packageId')}/archive", token=t)[0] for t in (a, b)]
            return f"same package: {job_b.get('packageId') == package}, archives {codes}", codes == [200, 200]
        if not args.short:
            case("the same study from a second submitter", "both download it (200, 200)", second_sender)

        # JSON bodies and share links.
        for body, label in [(b'{"expiresInHours": true}', "expiresInHours: true"), (b'{"expiresInHours": 1e-9}', "expiresInHours: 1e-9"),
                            (b'{"expiresInHours": 1e300}', "expiresInHours: 1e300"), (b'{"x": 1}', "an unknown key"),
                            (b'{"expiresInHours": ', "malformed JSON")]:
            case(f"share with {label}", "400",
                 lambda body=body: status("POST", f"/v1/packages/{package}/shares", {400}, token=a, body=body, content_type="application/json"))
        case("share someone else's package", "404",
             lambda: status("POST", f"/v1/packages/{package}/shares", {404}, token=service.token("submitter", "C")))
        case("owner's token with a foreign ?share=", "200",
             lambda: status("GET", f"/v1/packages/{package}/archive?share=vrs_0", {200}, token=a))
        case("files/../../vrprep.sqlite", "404",
             lambda: status("GET", f"/v1/packages/{package}/files/..%2F..%2Fvrprep.sqlite", {404}, token=a))
        case("/metrics without a token", "401", lambda: status("GET", "/metrics", {401}))
        case("/metrics with an admin token", "200", lambda: status("GET", "/metrics", {200}, token=admin))
        case("Range: bytes=9999999999-", "416",
             lambda: status("GET", f"/v1/packages/{package}/archive", {416}, token=a, headers={"Range": "bytes=9999999999-"}))
        case("an unknown route", "404", lambda: status("GET", "/v1/nothing", {404}))

        # Collections: reading writes nothing; an expired link stays refused.
        trainer = service.token("trainer", "course")
        _, share = service.json("POST", f"/v1/packages/{package}/shares", a)
        items = [{"package": package, "share": share.get("token"), "notes": f"case {n}"} for n in range(100)]
        code, collection = service.json("POST", "/v1/collections", trainer,
                                        json.dumps({"name": "course", "items": items}).encode(), "application/json")

        def share_rows() -> int:
            with sqlite3.connect(data / "vrprep.sqlite") as db:
                return db.execute("SELECT COUNT(*) FROM share").fetchone()[0]

        def read_twice():
            before = share_rows()
            codes = [service.request("GET", collection.get("url", "/"))[0] for _ in range(2)]
            codes += [service.request("GET", f"/v1/collections/{collection.get('id')}", token=trainer)[0] for _ in range(2)]
            made = share_rows() - before
            return f"{codes}, {made} share rows made", codes == [200] * 4 and made == 0
        case("GET a 100-item collection 4 times", "200s, 0 share rows made", read_twice)

        def expired():
            # The collection's expiry moved into the past in the database (the shortest a
            # request may ask for is a minute).
            with sqlite3.connect(data / "vrprep.sqlite") as db:
                db.execute("UPDATE share SET expires = 0 WHERE collectionId = ?", (collection.get("id"),))
            codes = [service.request("GET", collection.get("url", "/"))[0] for _ in range(2)]
            item = service.request("GET", f"/v1/packages/{package}/archive?share={collection.get('token')}")[0]
            return f"collection {codes}, its package {item}", codes == [410, 410] and item == 403
        case("an expired collection link, twice", "410, 410; package 403", expired)

        # Connections.
        case("a silent HTTP connection", "closed after the idle time (2 s)",
             lambda: (lambda s: (f"closed after {s:.1f} s", s < 5))(seconds_until_closed(service.port, b"", 10)))
        case("a header that never ends", "closed after the idle time",
             lambda: (lambda s: (f"closed after {s:.1f} s", s < 5))(
                 seconds_until_closed(service.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", 10)))

        def huge_header():
            try:
                code, _ = service.request("GET", "/healthz", headers={"X-Big": "a" * 200_000})
                return str(code), 400 <= code < 500
            except (ConnectionError, http.client.HTTPException) as error:
                return f"connection closed ({type(error).__name__})", True
        case("a 200 kB header", "4xx or closed", huge_header)
        case("a DICOM peer's host with a NUL byte", "400",
             lambda: status("PUT", "/v1/dicom/peers/PACS", {400}, token=admin, body=b'{"host": "pacs\\u0000x"}', content_type="application/json"))

        # A job's process killed.
        def killed_job():
            code, answer = service.json("POST", "/v1/studies", admin, zipped(sample_files()[:-1]), "application/zip")
            job = answer.get("jobId", "?")
            pids: list[int] = []
            end = time.monotonic() + 60
            while not pids and time.monotonic() < end:
                pids = job_processes(job)
                time.sleep(0.02)
            if not pids:
                return "no process found for the job", False
            os.kill(pids[0], 9)
            alive = service.alive()
            state = service.wait(job, admin, {"done", "failed"})
            return f"{state.get('state')}: {state.get('error', '')[:60]}", alive and "signal 9" in state.get("error", "")
        if not args.short:
            case("SIGKILL to a running job's process", "job failed naming signal 9", killed_job)

        # The DICOM port.
        def echo(ae: str) -> tuple[int, float]:
            start = time.monotonic()
            result = subprocess.run(["/usr/bin/echoscu", "-to", "20", "-aet", ae, "-aec", "VRPREP", "127.0.0.1", str(service.dicom_port)],
                                    capture_output=True, timeout=60)
            return result.returncode, time.monotonic() - start
        case("C-ECHO from an unknown AE", "refused", lambda: (lambda r: (f"exit {r[0]}", r[0] != 0))(echo("STRANGER")))

        def idle_dicom():
            sockets = [socket.create_connection(("127.0.0.1", service.dicom_port)) for _ in range(12)]
            try:
                code, seconds = echo("ABUSE")
            finally:
                for s in sockets:
                    s.close()
            return f"exit {code} after {seconds:.1f} s", code == 0 and seconds < 8
        case("C-ECHO with 12 idle DICOM connections open", "answered within 8 s", idle_dicom)

        def abrupt_associations():
            # A-ASSOCIATE-RQs whose senders close at once: each association ends as its worker
            # starts (this aborted the service with a corrupted heap before the fix).
            def item(kind: int, body: bytes) -> bytes:
                return bytes([kind, 0]) + len(body).to_bytes(2, "big") + body
            context = item(0x20, bytes([1, 0, 0, 0]) + item(0x30, b"1.2.840.10008.1.1") + item(0x40, b"1.2.840.10008.1.2"))
            body = (bytes([0, 1, 0, 0]) + b"VRPREP".ljust(16) + b"ABUSE".ljust(16) + bytes(32) + item(0x10, b"1.2.840.10008.3.1.1.1")
                    + context + item(0x50, item(0x51, bytes([0, 0, 0x40, 0])) + item(0x52, b"1.2.3.4")))
            pdu = bytes([1, 0]) + len(body).to_bytes(4, "big") + body
            count = 100 if args.short else 800
            sent = 0
            for _ in range(count):
                try:
                    with socket.create_connection(("127.0.0.1", service.dicom_port), timeout=5) as s:
                        s.sendall(pdu)
                        sent += 1
                except OSError:
                    pass
            time.sleep(0.5)
            code, seconds = echo("ABUSE")
            return f"{sent} sent; service {'alive' if service.alive() else 'DEAD'}; echo exit {code}", service.alive() and code == 0
        case("DICOM senders that close right after A-ASSOCIATE-RQ", "service alive, echo answered", abrupt_associations)
    finally:
        alive = service.alive()
        service.stop()
    errors = service.server_errors
    print(f"\nservice alive at the end: {alive}; server errors (5xx): {len(errors)}")
    for error in errors:
        print(f"  {error}")
    bad = [row for row in rows if not row["ok"]]
    print(f"{len(rows) - len(bad)} passed, {len(bad)} failed")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "alive": alive, "serverErrors": errors}, indent=2))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if not bad and not errors and alive else 1


if __name__ == "__main__":
    sys.exit(main())
