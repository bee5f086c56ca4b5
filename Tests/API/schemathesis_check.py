#!/usr/bin/env python3
"""The service tested against its own description (/openapi.yaml) by schemathesis (PyPI).

Starts `vrprep serve` on a free port over a new data folder, makes a token of each role, uploads
the sample study so that real ids exist (a study, its job and package, a share link), and runs
schemathesis once per role, with the ids the description cannot know filled in per operation.
Removals run last, in a run of their own, so that the data stays while the rest is tried.

The checks the product promises (the issue's bar): no server error, and every answer as
described: its status, content type, headers and body schema; also the undeclared methods (405)
and a missing credential (401). `--all-checks` adds schemathesis's remaining ones, which judge the
description's strictness rather than the answers; two of them cannot hold here and are left out
with their reason: a random upload is never a study (422), and a random recipe is rarely one.

Prints a table (role, test cases, failures by check) and exits 1 when anything failed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BAR_CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
              "response_schema_conformance", "unsupported_method", "missing_required_header"]
ROLES = ["admin", "submitter", "host", "trainer"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base: str, method: str, path: str, token: str | None = None, body: bytes | None = None, kind: str | None = None):
    request = urllib.request.Request(base + path, data=body, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if kind:
        request.add_header("Content-Type", kind)
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.loads(answer.read() or b"{}")


def sample_zip(folder: Path) -> bytes:
    study = ROOT / "SampleStudies" / "ct-head-promed0051"
    target = folder / "sample.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for file in sorted(study.iterdir()):
            if file.suffix == ".dcm" or file.name.startswith("IM") or file.suffix == "":
                if file.is_file():
                    archive.write(file, file.name)
    return target.read_bytes()


def upload_sample(base: str, token: str, work: Path):
    """The sample uploaded and made into a package: the ids of its study, job and package (False if its job failed)."""
    accepted = call(base, "POST", "/v1/studies", token, sample_zip(work), "application/zip")
    job = accepted["jobId"]
    for _ in range(600):
        state = call(base, "GET", f"/v1/jobs/{job}", token)
        if state.get("state") in ("done", "failed", "cancelled"):
            break
        time.sleep(0.5)
    if state.get("state") != "done":
        print(f"the sample's job did not end done: {state}", file=sys.stderr)
        return False
    return {"study": accepted["studyId"], "job": job, "package": state["packageId"]}


def write_config(path: Path, ids: dict | None, examples: int, seed: int, phases: list[str], checks: list[str], excluded: dict[str, list[str]]) -> None:
    """schemathesis.toml: the run's settings and, per operation, the real ids of its path."""
    lines = [f"seed = {seed}", "continue-on-failure = true", "request-timeout = 120", "workers = 1", "",
             "[generation]", f"max-examples = {examples}", "",
             "[phases]"]
    for phase in ["examples", "coverage", "fuzzing", "stateful"]:
        lines.append(f"{phase}.enabled = {'true' if phase in phases else 'false'}")
    lines += ["", "[checks]", "enabled = false"]
    for check in checks:
        lines.append(f"{check}.enabled = true")
    # A valid request about a study whose files an earlier role's removal run deleted is answered 410
    # Gone, as described: that is acceptance of the request, not a refusal of its data.
    if "positive_data_acceptance" in checks:
        lines.append('positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "410", "429", "5xx"]')
    # TOML literal strings ('…'): the regular expressions keep their backslashes.
    bindings = [(r"^/v1/studies/\{id\}", ids["study"]), (r"^/v1/jobs/\{id\}", ids["job"]),
                (r"^/v1/packages/\{id\}", ids["package"]), (r"^/view/\{id\}", ids["package"])] if ids else []
    for regex, value in bindings if ids else []:
        lines += ["", "[[operations]]", f"include-path-regex = '{regex}'", f'parameters = {{ "path.id" = "{value}" }}']
    for operation, off in excluded.items():
        lines += ["", "[[operations]]", f'include-path = "{operation}"', "[operations.checks]"]
        lines += [f"{check}.enabled = false" for check in off]
    path.write_text("\n".join(lines) + "\n")


def run_schemathesis(config: Path, base: str, token: str, report: Path, methods: str) -> tuple[int, dict]:
    command = ["st", "--config-file", str(config), "run", f"{base}/openapi.yaml", "-H", f"Authorization: Bearer {token}",
               "--no-color", "--report", "ndjson", "--report-ndjson-path", str(report), "--include-method-regex", methods]
    done = subprocess.run(command, capture_output=True, text=True)
    failures: dict[str, int] = {}
    cases = 0
    for line in report.read_text().splitlines() if report.exists() else []:
        event = json.loads(line)
        for kind, body in event.items():
            if kind == "ScenarioFinished":
                for check in (body.get("recorder") or {}).get("checks", {}).values():
                    for entry in check:
                        cases += 1
                        if str(entry.get("status", "")).lower() == "failure":
                            name = entry.get("name", "?")
                            failures[name] = failures.get(name, 0) + 1
    summary = re.findall(r"=+ (.*) in [0-9.]+s =+", done.stdout)
    return done.returncode, {"checks": cases, "failures": failures, "summary": summary[-1] if summary else done.stdout[-400:],
                             "output": done.stdout[-6000:]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vrprep", default=str(ROOT / ".build" / "debug" / "vrprep"))
    parser.add_argument("--examples", type=int, default=25, help="examples per operation and phase")
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--phases", default="examples,coverage,fuzzing")
    parser.add_argument("--roles", default=",".join(ROLES))
    parser.add_argument("--all-checks", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the data folder and reports")
    parser.add_argument("--no-data", action="store_true",
                        help="upload nothing: ids are generated (mostly 404s); fast, for the bounded run of the tests")
    args = parser.parse_args()
    if shutil.which("st") is None:
        print("schemathesis is not installed (python3 -m pip install schemathesis)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="vrprep-schemathesis-"))
    data, port = work / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    # Generated requests fail to authenticate by the thousand: not to be slowed down here.
    log = open(work / "serve.log", "w")
    server = subprocess.Popen([args.vrprep, "serve", "--data", str(data), "--port", str(port), "--shaders", str(ROOT / "Shaders"),
                               "--max-failed-sign-ins", "100000"], stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        tokens = {}
        for role in ROLES:
            made = subprocess.run([args.vrprep, "token", "create", "--role", role, "--name", f"schemathesis {role}", "--data", str(data)],
                                  capture_output=True, text=True, check=True)
            tokens[role] = made.stdout.split()[-1]
        ids = None if args.no_data else upload_sample(base, tokens["submitter"], work)
        if ids is False:
            return 2
        checks = BAR_CHECKS + (["negative_data_rejection", "positive_data_acceptance", "use_after_free", "ensure_resource_availability",
                                "ignored_auth"] if args.all_checks else [])
        excluded = {"/v1/studies": ["positive_data_acceptance"], "/v1/dicom/peers/{ae}": ["positive_data_acceptance"],
                    "/v1/studies/{id}/jobs": ["positive_data_acceptance"], "/v1/studies/{id}/previews": ["positive_data_acceptance"]}
        config = work / "schemathesis.toml"
        write_config(config, ids, args.examples, args.seed, args.phases.split(","), checks, excluded if args.all_checks else {})
        rows, failed = [], False
        for role in args.roles.split(","):
            for methods, label in [("^(GET|POST|PUT)$", "reads and writes"), ("^DELETE$", "removals")]:
                code, result = run_schemathesis(config, base, tokens[role], work / f"{role}-{label.replace(' ', '-')}.ndjson", methods)
                rows.append((role, label, result))
                if code != 0 or result["failures"]:
                    failed = True
                    print(result["output"], file=sys.stderr)
        # Thousands of requests carried tokens and share links: none may be in the service's log.
        server.terminate()
        server.wait(timeout=30)
        leaked = [line for line in (work / "serve.log").read_text(errors="replace").splitlines() if "vrp_" in line or "vrs_" in line]
        if leaked:
            failed = True
            print("tokens in the service's log:\n" + "\n".join(leaked[:5]), file=sys.stderr)
        print(f"service log: {len(leaked)} lines with a token")
        print(f"{'role':10} {'operations':17} {'checks run':>10}  failures")
        for role, label, result in rows:
            failures = ", ".join(f"{k} {v}" for k, v in sorted(result["failures"].items())) or "none"
            print(f"{role:10} {label:17} {result['checks']:>10}  {failures}   ({result['summary']})")
        return 1 if failed else 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept: {work}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
