#!/usr/bin/env python3
"""The speed benchmark as a report: runs the peer suite on series of several sizes and thread
counts, and writes a self-contained HTML page (plots by matplotlib, embedded) and the JSON
behind it.

Usage (from the repository root):

    swift build -c release                      # vrprep and vrprep-bench
    pip install -r Benchmarks/requirements.txt  # the peers and matplotlib
    python3 Benchmarks/report.py [--series sample,large,stacked2,stacked3] [--threads 1,2]
                                 [--runs 3] [--suite load,grow,confidence,mesh,render,process]
                                 [--out DIR] [--compare OLD/report.json] [--from DIR]

What it runs: the benchmark scripts of this folder, each with ``--series``, ``--threads``,
``--runs`` and ``--json`` (their own tables are printed as they go):

* ``load``: ``load_series.py`` (VRPrep vs SimpleITK's ImageSeriesReader);
* ``grow`` and ``confidence``: ``segment.py`` (VRPrep vs SimpleITK's ConnectedThreshold and
  ConfidenceConnected, scikit-image's flood, one numpy threshold pass), with
  ``--confidence-large`` (SimpleITK's ConfidenceConnected once on each series beyond the sample);
* ``mesh``: ``mesh.py`` (extraction, smoothing, decimation vs VTK);
* ``render``: ``render.py`` once per thread count (VRPrep vs VTK's ray casters, volume and
  surface, on Mesa's llvmpipe with that many threads);
* ``process``: ``process.py`` (``vrprep process``, no peer; stage times and peak memory).

The series are the ones of ``load_series.py``, made from the sample on first use: ``sample``
(256 x 256 x 108, 7.1 M voxels), ``large`` (512 x 512 x 432, 113 M), ``stacked2`` and
``stacked3`` (the large series two and three times along z: 226 M and 340 M voxels).

What it writes, in ``--out`` (default ``Benchmarks/work/report-DATE``): ``raw/`` (each script's
JSON and log), ``report.json`` (every measurement as one flat record: kernel, tool, series,
voxels, threads, median and best seconds; the machine and the versions) and ``report.html``
(one file, the plots inside): time against voxels per kernel and tool (log-log, with each
curve's slope: 1 is linear cost), VRPrep's speed-up against threads, VRPrep's ratio to each peer
against voxels, the process stages per voxel with the peak memory, and the tables. With
``--compare OLD/report.json``, VRPrep's curves of the old report are drawn dashed beside the new
ones and a table gives old / new per measurement. ``--from DIR`` rebuilds the report from the
``raw/`` folder of an earlier run without running anything.

Timings only mean something on an otherwise idle machine; the scripts wait for one (their idle
check) unless ``--no-idle-check`` is given.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import html
import io
import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from load_series import SERIES, parse_series, parse_threads  # noqa: E402

SUITES = ("load", "grow", "confidence", "mesh", "render", "process")
# Kernel -> its title in the report.
KERNELS = {
    "load": "Load a DICOM series",
    "grow6": "Region growing, 6-connected",
    "grow26": "Region growing, 26-connected",
    "confidence": "Confidence-connected region growing",
    "extract": "Surface extraction",
    "smooth": "Smoothing (20 passes)",
    "decimate": "Decimation to 10 %",
    "render-volume": "Volume rendering, stereo pair 1024 x 1024",
    "render-surface": "Surface rendering, stereo pair 1024 x 1024",
    "process": "vrprep process: study to scene package",
}
STAGES = ("load", "segment", "mesh", "render", "package")


def fail(message: str) -> None:
    print(f"report.py: error: {message}", file=sys.stderr)
    sys.exit(2)


# --------------------------------------------------------------------------- running the suite


def run_suite(args, raw: Path) -> list[str]:
    """Runs the scripts the suite names, each writing its JSON (and log) in `raw`. A script that
    fails is reported (returned, and printed) and the others still run: the report shows what was
    measured and names what was not."""
    failures = []
    series = ",".join(args.series)
    threads = ",".join(map(str, args.threads))
    common = ["--runs", str(args.runs)] + (["--no-idle-check"] if args.no_idle_check else [])
    jobs = []
    if "load" in args.suite:
        jobs.append(("load", ["load_series.py", "--series", series, "--threads", threads,
                              "--runs", str(args.runs)]))
    if "grow" in args.suite or "confidence" in args.suite:
        jobs.append(("segment", ["segment.py", "--series", series, "--threads", threads, "--confidence-large"] + common))
    if "mesh" in args.suite:
        jobs.append(("mesh", ["mesh.py", "--series", series, "--threads", threads] + common))
    if "render" in args.suite:
        for t in args.threads:
            jobs.append((f"render-{t}", ["render.py", "--series", series, "--threads", str(t),
                                         "--images", str(raw / "render-images")] + common))
    if "process" in args.suite:
        jobs.append(("process", ["process.py", "--series", series] + common))
    for name, command in jobs:
        output = raw / f"{name}.json"
        command = [sys.executable, str(HERE / command[0]), *command[1:], "--json", str(output)]
        if args.vrprep_dir:
            binary = "vrprep" if name == "process" else "vrprep-bench"
            command += ["--vrprep", str(args.vrprep_dir / binary)]
        print(f"\n=== {name}: {' '.join(command[1:])}", file=sys.stderr)
        # The script's output goes to the log and to this terminal as it comes (progress).
        last = ""
        with open(raw / f"{name}.log", "w") as log:
            child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=HERE.parent)
            for line in child.stdout:
                log.write(line)
                log.flush()
                sys.stderr.write(line)
                last = line.strip() or last
            child.wait()
        if child.returncode != 0:
            failures.append(f"{name} failed (exit {child.returncode}): {last} (its output: {raw / (name + '.log')})")
            print(f"report.py: {failures[-1]}", file=sys.stderr)
    (raw / "failures.json").write_text(json.dumps(failures, indent=1) + "\n")
    return failures


# --------------------------------------------------------------------------- flat records


def record(kernel, tool, label, series, voxels, threads, median, best, **extra) -> dict:
    return {"kernel": kernel, "tool": tool, "label": label, "series": series, "voxels": int(voxels),
            "threads": int(threads), "median": float(median), "best": float(best), **extra}


def collect(raw: Path) -> tuple[list[dict], dict]:
    """Every measurement of the scripts' JSON files in `raw`, as flat records, and the machine
    and versions they report."""
    records, machine = [], {}

    def load(name):
        path = raw / f"{name}.json"
        if not path.is_file():
            return None
        document = json.loads(path.read_text())
        machine.update({k: v for k, v in (document.get("machine") or {}).items() if not isinstance(v, (dict, list))})
        return document

    voxels_of = {}
    if (document := load("load")):
        for r in document["results"]:
            voxels = math.prod(r["dimensions"])
            voxels_of[r["series"]] = voxels
            records.append(record("load", r["tool"], "VRPrep" if r["tool"] == "vrprep" else "SimpleITK ImageSeriesReader",
                                  r["series"], voxels, r["threads"], r["median"], r["best"]))
    if (document := load("segment")):
        for r in document["results"]:
            voxels_of[r["series"]] = r["voxels"]
            if r["method"] == "confidence":
                kernel = "confidence"
            elif r["method"] == "connected":
                kernel = f"grow{r['connectivity']}"
                if r["tool"] == "skimage" and not r.get("thresholdInside"):
                    continue  # the flood with its threshold timed is the fair peer: VRPrep thresholds inside
            else:  # the numpy threshold pass: the memory-bandwidth reference of the 6-connected growth
                if r.get("preallocated"):
                    continue
                kernel = "grow6"
            label = {"vrprep": "VRPrep", "skimage": "scikit-image flood"}.get(r["tool"], r["label"])
            records.append(record(kernel, r["tool"], label, r["series"], r["voxels"], r["threads"], r["median"], r["best"]))
    if (document := load("mesh")):
        for r in document["results"]:
            voxels_of[r["series"]] = r["voxels"]
            if r.get("variant") != "padded":
                continue
            records.append(record(r["step"], r["tool"], r["label"], r["series"], r["voxels"], r["threads"],
                                  r["median"], r["best"], triangles=r.get("trianglesOut")))
    for path in sorted(raw.glob("render-*.json")):
        document = load(path.stem)
        for r in document["results"]:
            pair = r.get("stereoPair")
            if not pair:
                continue
            voxels = math.prod(r["dimensions"]) if r.get("dimensions") else voxels_of.get(r["series"], 0)
            records.append(record(f"render-{r['scene']}", r["tool"], r["label"].replace(" (llvmpipe)", ""), r["series"],
                                  voxels, document["threads"], pair["median"], pair["best"]))
    if (document := load("process")):
        for r in document["results"]:
            voxels = r.get("voxels") or voxels_of.get(r["series"], 0)
            records.append(record("process", "vrprep", "VRPrep", r["series"], voxels, os.cpu_count() or 1,
                                  r["median"], r["best"], stages=r["stages"], peakBytes=r.get("peakBytes")))
    for r in records:  # a series measured by another script gives its voxel count to rows that lack it
        if not r["voxels"]:
            r["voxels"] = voxels_of.get(r["series"], 0)
    return records, machine


def machine_description(machine: dict) -> dict:
    out = dict(machine)
    out.setdefault("nproc", os.cpu_count())
    out["platform"] = out.get("platform") or platform.platform()
    try:
        memory = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        out["memoryGiB"] = round(int(memory.split()[1]) / 2**20, 1)
    except (OSError, StopIteration):
        pass
    try:
        import matplotlib
        out["matplotlib"] = matplotlib.__version__
    except ImportError:
        pass
    return out


# --------------------------------------------------------------------------- analysis


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(time) against log(voxels): 1 is linear cost."""
    points = [(math.log(v), math.log(t)) for v, t in points if v > 0 and t > 0]
    if len(points) < 2 or len({x for x, _ in points}) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)


def curves(records: list[dict], kernel: str, threads: int) -> dict[str, list[dict]]:
    """label -> records of one kernel at one thread count, by voxels."""
    out: dict[str, list[dict]] = {}
    for r in records:
        if r["kernel"] == kernel and r["threads"] == threads:
            out.setdefault(r["label"], []).append(r)
    return {label: sorted(rows, key=lambda r: r["voxels"]) for label, rows in out.items()}


def main_threads(records: list[dict]) -> int:
    return max((r["threads"] for r in records), default=1)


def find(records, kernel, tool, series, threads, label=None):
    for r in records:
        if (r["kernel"], r["tool"], r["series"], r["threads"]) == (kernel, tool, series, threads) \
                and (label is None or r["label"] == label):
            return r
    return None


# --------------------------------------------------------------------------- plots


def figure_png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def voxel_axes(ax, title: str, ylabel: str, log_y: bool = True, **legend) -> None:
    """Voxels (millions, log) across, `ylabel` up (log unless `log_y` is false), grid, legend, title."""
    ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("voxels (millions)")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(**({"fontsize": 7} | legend))
    ax.set_title(title, fontsize=10)


def plot_scaling(plt, records, old, kernels, threads) -> str:
    """Time against voxels, log-log, one panel per kernel."""
    columns = 3
    rows = math.ceil(len(kernels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 4.2 * rows), squeeze=False, layout="constrained")
    for ax, kernel in zip(axes.flat, kernels):
        for label, rows_ in curves(records, kernel, threads).items():
            xs, ys = [r["voxels"] / 1e6 for r in rows_], [r["median"] for r in rows_]
            s = slope([(r["voxels"], r["median"]) for r in rows_])
            vrprep = rows_[0]["tool"] == "vrprep"
            ax.plot(xs, ys, marker="o", linewidth=2.4 if vrprep else 1.4,
                    label=f"{label}" + (f" (slope {s:.2f})" if s is not None else ""))
        if old:
            for label, rows_ in curves(old, kernel, threads).items():
                if rows_[0]["tool"] == "vrprep":
                    ax.plot([r["voxels"] / 1e6 for r in rows_], [r["median"] for r in rows_], linestyle="--",
                            color="grey", marker="x", label=f"{label}, old report")
        voxel_axes(ax, KERNELS.get(kernel, kernel), f"seconds, median ({threads} thread{'s' if threads > 1 else ''})")
    for ax in list(axes.flat)[len(kernels):]:
        ax.axis("off")
    figure.suptitle("Time against voxels (log-log: a slope of 1 is a cost linear in the voxels)")
    return figure_png(figure)


def plot_threads(plt, records, kernels) -> str | None:
    """VRPrep's speed-up (time at 1 thread / time at T threads) on the largest series measured."""
    figure, ax = plt.subplots(figsize=(7, 4.5))
    any_line, top = False, 1
    for kernel in kernels:
        rows = [r for r in records if r["kernel"] == kernel and r["tool"] == "vrprep"]
        if not rows:
            continue
        largest = max(r["voxels"] for r in rows)
        by_threads = {r["threads"]: r["median"] for r in rows if r["voxels"] == largest}
        if 1 not in by_threads or len(by_threads) < 2:
            continue
        ts = sorted(by_threads)
        top = max(top, ts[-1])
        ax.plot(ts, [by_threads[1] / by_threads[t] for t in ts], marker="o", label=KERNELS.get(kernel, kernel))
        any_line = True
    if not any_line:
        plt.close(figure)
        return None
    ax.plot([1, top], [1, top], linestyle=":", color="black", label="ideal")
    ax.set_xlabel("threads")
    ax.set_ylabel("speed-up over 1 thread")
    ax.set_xticks(range(1, top + 1))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("VRPrep's speed-up against threads (largest series of each kernel)")
    return figure_png(figure)


def plot_ratios(plt, records, kernels, threads) -> str | None:
    """Peer time / VRPrep time against voxels: above 1, VRPrep is faster."""
    figure, ax = plt.subplots(figsize=(8, 5))
    any_line = False
    for kernel in kernels:
        for label, rows in curves(records, kernel, threads).items():
            if rows[0]["tool"] in ("vrprep", "numpy"):
                continue
            points = []
            for r in rows:
                v = find(records, kernel, "vrprep", r["series"], threads)
                if v and v["median"] > 0:
                    points.append((r["voxels"] / 1e6, r["median"] / v["median"]))
            if points:
                ax.plot(*zip(*points), marker="o", label=f"{KERNELS.get(kernel, kernel)}: {label}")
                any_line = True
    if not any_line:
        plt.close(figure)
        return None
    ax.axhline(1.0, color="black", linewidth=1)
    voxel_axes(ax, f"VRPrep's ratio to each peer ({threads} threads; above 1: VRPrep is faster)", "peer's time / VRPrep's time",
               fontsize=6, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return figure_png(figure)


def plot_process(plt, records) -> str | None:
    rows = sorted((r for r in records if r["kernel"] == "process"), key=lambda r: r["voxels"])
    if not rows:
        return None
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    xs = [r["voxels"] / 1e6 for r in rows]
    for stage in STAGES:
        left.plot(xs, [r["stages"].get(stage, 0) / r["voxels"] * 1e9 for r in rows], marker="o", label=stage)
    left.plot(xs, [r["median"] / r["voxels"] * 1e9 for r in rows], marker="s", color="black", linewidth=2.4, label="whole run")
    voxel_axes(left, "vrprep process: time per voxel by stage (flat: linear cost)", "nanoseconds per voxel")
    peaks = [(r["voxels"] / 1e6, r["peakBytes"] / (2 * r["voxels"])) for r in rows if r.get("peakBytes")]
    if peaks:
        right.plot(*zip(*peaks), marker="o")
        right.axhline(3.0, color="red", linestyle="--", label="goal: 3x the volume")
        voxel_axes(right, "vrprep process: peak memory", "peak resident memory / volume bytes (2 per voxel)", log_y=False)
    else:
        right.axis("off")
    return figure_png(figure)


# --------------------------------------------------------------------------- HTML


def table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def measurement_rows(records) -> list[list[str]]:
    rows = []
    order = list(KERNELS)
    for r in sorted(records, key=lambda r: (order.index(r["kernel"]) if r["kernel"] in order else 99, r["voxels"],
                                            r["threads"], r["tool"] != "vrprep", r["label"])):
        v = find(records, r["kernel"], "vrprep", r["series"], r["threads"])
        ratio = f"{r['median'] / v['median']:.2f}" if v and r["tool"] != "vrprep" and v["median"] > 0 else ""
        rows.append([KERNELS.get(r["kernel"], r["kernel"]), r["series"], f"{r['voxels'] / 1e6:.1f}", r["threads"],
                     r["label"], f"{r['median']:.4f}", f"{r['best']:.4f}", f"{r['median'] / r['voxels'] * 1e9:.2f}", ratio])
    return rows


def comparison_rows(records, old) -> list[list[str]]:
    rows = []
    for r in records:
        if r["tool"] != "vrprep":
            continue
        o = find(old, r["kernel"], "vrprep", r["series"], r["threads"])
        if o:
            rows.append([KERNELS.get(r["kernel"], r["kernel"]), r["series"], r["threads"], f"{o['median']:.4f}",
                         f"{r['median']:.4f}", f"{o['median'] / r['median']:.2f}"])
    return rows


def write_html(path: Path, document: dict, old: dict | None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = document["records"]
    old_records = old["records"] if old else None
    threads = main_threads(records)
    kernels = [k for k in KERNELS if any(r["kernel"] == k for r in records)]
    figures = []
    scaling = [k for k in kernels if k != "process"]
    if scaling:
        figures.append(("Time against voxels", plot_scaling(plt, records, old_records, scaling, threads)))
    for title, image in (("Process stages and memory", plot_process(plt, records)),
                         ("Speed-up against threads", plot_threads(plt, records, kernels)),
                         ("Ratio to each peer", plot_ratios(plt, records, kernels, threads))):
        if image:
            figures.append((title, image))

    slopes = []
    for kernel in kernels:
        for label, rows in curves(records, kernel, threads).items():
            s = slope([(r["voxels"], r["median"]) for r in rows])
            if s is not None:
                first, last = rows[0], rows[-1]
                per_voxel = lambda r: r["median"] / r["voxels"]
                # The bar compares series of one grid: the large one (113 M) and the largest.
                base = next((r for r in rows if r["series"] == SERIES["large"][0]), None)
                from_large = f"{per_voxel(last) / per_voxel(base):.2f}" if base and base is not last else ""
                slopes.append([KERNELS[kernel], label, f"{s:.2f}", f"{per_voxel(last) / per_voxel(first):.2f}", from_large,
                               f"{first['series']} → {last['series']}"])
    machine = document["machine"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>VRPrep speed report</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1500px;color:#222}",
        "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}",
        "th{background:#f0f0f0}td:nth-child(-n+2){text-align:left}img{max-width:100%;border:1px solid #ddd}",
        "</style></head><body>",
        f"<h1>VRPrep speed report</h1><p>Measured {html.escape(document['date'])} with "
        f"<code>{html.escape(document['command'])}</code>. Times are medians of {document['runs']} run(s) after a warm-up; "
        "each peer ran in the same run on the same machine.</p>",
        *(f"<p style='color:#b00'><b>Not measured:</b> {html.escape(f)}</p>" for f in document.get("failures", [])),
        "<h2>Machine and versions</h2>",
        table(["", ""], [[k, v] for k, v in sorted(machine.items())]),
        "<h2>Series</h2>",
        table(["series", "voxels (millions)"], [[s, f"{v / 1e6:.1f}"] for s, v in sorted(document["series"].items(), key=lambda x: x[1])]),
    ]
    for title, image in figures:
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='data:image/png;base64,{image}'>")
    if slopes:
        parts += [f"<h2>How cost grows ({threads} threads)</h2>",
                  "<p>Slope: of log(time) against log(voxels), 1 is linear. Growth: time per voxel on the largest series "
                  "over time per voxel on the smallest (1.0: linear; the sample's grid differs from the others'), and over "
                  "time per voxel on the large series (113 M voxels, the same grid as the stacked ones: the goal is at most "
                  "1.3).</p>",
                  table(["kernel", "tool", "slope", "growth per voxel", "growth from large", "from → to"], slopes)]
    process = [r for r in records if r["kernel"] == "process"]
    if process:
        ordered = sorted(process, key=lambda r: r["voxels"])
        base = next((r for r in ordered if r["series"] == SERIES["large"][0]), None)
        growth = ""
        if base and base is not ordered[-1]:
            last = ordered[-1]
            cells = [f"{stage} {(last['stages'].get(stage, 0) / last['voxels']) / max(base['stages'].get(stage, 0) / base['voxels'], 1e-12):.2f}"
                     for stage in STAGES]
            growth = (f"<p>Time per voxel, {html.escape(last['series'])} over {html.escape(base['series'])} (goal: each at most "
                      f"1.3): {html.escape(', '.join(cells))}; whole run "
                      f"{(last['median'] / last['voxels']) / (base['median'] / base['voxels']):.2f}.</p>")
        parts += ["<h2>vrprep process</h2>", growth,
                  table(["series", "voxels (M)", "median s", *STAGES, "peak GB", "peak / volume"],
                        [[r["series"], f"{r['voxels'] / 1e6:.1f}", f"{r['median']:.2f}",
                          *[f"{r['stages'].get(s, 0):.2f}" for s in STAGES],
                          f"{(r.get('peakBytes') or 0) / 1e9:.2f}",
                          f"{(r.get('peakBytes') or 0) / (2 * r['voxels']):.2f}"] for r in sorted(process, key=lambda r: r["voxels"])])]
    if old:
        parts += [f"<h2>Compared with the report of {html.escape(old['date'])}</h2>",
                  table(["kernel", "series", "threads", "old s", "new s", "old / new"], comparison_rows(records, old_records))]
    parts += ["<h2>Every measurement</h2>",
              table(["kernel", "series", "voxels (M)", "threads", "tool", "median s", "best s", "ns / voxel", "peer / VRPrep"],
                    measurement_rows(records)),
              "</body></html>"]
    path.write_text("\n".join(parts))


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description="The speed benchmark as an HTML report with plots.")
    parser.add_argument("--series", type=parse_series, default=list(SERIES),
                        help="comma-separated: " + ", ".join(SERIES) + " (default: all)")
    parser.add_argument("--threads", type=parse_threads, default=list(range(1, (os.cpu_count() or 1) + 1)),
                        help="comma-separated thread counts (default: 1 to the number of cores)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measurement (default: 3)")
    parser.add_argument("--suite", default=",".join(SUITES),
                        help="comma-separated: " + ", ".join(SUITES) + " (default: all)")
    parser.add_argument("--out", type=Path, help="the report's folder (default: Benchmarks/work/report-DATE)")
    parser.add_argument("--compare", type=Path, help="an earlier report.json to compare with")
    parser.add_argument("--from", dest="source", type=Path,
                        help="rebuild the report from the raw/ folder of an earlier report folder, running nothing")
    parser.add_argument("--vrprep-dir", type=Path, help="folder of the vrprep and vrprep-bench binaries (default: .build/release)")
    parser.add_argument("--no-idle-check", action="store_true", help="do not wait for an idle machine")
    args = parser.parse_args()
    args.suite = [s.strip() for s in args.suite.split(",") if s.strip()]
    unknown = set(args.suite) - set(SUITES)
    if unknown:
        parser.error(f"--suite: unknown {', '.join(sorted(unknown))}; expected: {', '.join(SUITES)}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        fail("missing Python package matplotlib. Install it with: pip install -r Benchmarks/requirements.txt")
    old = None
    if args.compare:
        try:
            old = json.loads(args.compare.read_text())
            old["records"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            fail(f"--compare {args.compare}: not a report.json ({error})")

    if args.source:
        out = args.out or args.source
        raw = args.source / "raw"
        if not raw.is_dir():
            fail(f"--from {args.source}: no raw/ folder")
        previous = args.source / "report.json"
        command = json.loads(previous.read_text())["command"] if previous.is_file() else "(unknown)"
        runs = json.loads(previous.read_text())["runs"] if previous.is_file() else args.runs
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = args.out or HERE / "work" / f"report-{stamp}"
        raw = out / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        command = "python3 Benchmarks/report.py " + " ".join(sys.argv[1:])
        runs = args.runs
        run_suite(args, raw)
    failures = json.loads((raw / "failures.json").read_text()) if (raw / "failures.json").is_file() else []
    out.mkdir(parents=True, exist_ok=True)

    records, machine = collect(raw)
    if not records:
        fail(f"no measurement found in {raw}")
    series = {}
    for r in records:
        series[r["series"]] = r["voxels"]
    document = {"report": "vrprep-speed", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "command": command, "runs": runs, "machine": machine_description(machine), "series": series,
                "failures": failures, "records": records}
    (out / "report.json").write_text(json.dumps(document, indent=1) + "\n")
    write_html(out / "report.html", document, old)
    print(f"wrote {out / 'report.html'} and {out / 'report.json'} ({len(records)} measurements)", file=sys.stderr)


if __name__ == "__main__":
    main()
