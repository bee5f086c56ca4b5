#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of the CDCMTK shim. See Tests/Fuzz/README.md.
#
#   Tests/Fuzz/run.sh build                      build the three targets
#   Tests/Fuzz/run.sh run [TARGET|all] [SECONDS] fuzz each named target for SECONDS (default 60)
#   Tests/Fuzz/run.sh regress [TARGET|all]       run the targets once on Tests/Fuzz/regressions/
#   Tests/Fuzz/run.sh minimize TARGET FILE       minimise a crashing input (-minimize_crash=1)
#
# Targets: dicom_attributes, dicom_frames, jpeg2000.
#
# Environment:
#   FUZZ_WORK  working folder: builds, seeds, the growing corpus, crash artifacts, logs
#              (default /tmp/vrprep-fuzz; never inside the repository)
#   FUZZ_DEPS  instrumented DCMTK + OpenJPEG from build-deps.sh (default /tmp/vrprep-fuzz-deps);
#              used when FUZZ_DEPS/lib/libdcmdata.a exists, else the system's shared libraries
#              (uninstrumented: no coverage feedback, no ASan checks inside them)
#   FUZZ_SYSTEM_DEPS=1  use the system libraries even when instrumented ones exist
#   CXX        clang++ with libFuzzer (default: the one on PATH, e.g. the Swift toolchain's)
#   FUZZ_MAX_LEN, FUZZ_TIMEOUT (s per input, default 20), FUZZ_RSS_MB (default 2048),
#   FUZZ_MALLOC_MB (largest single allocation, default 4200),
#   FUZZ_NICE (default 10), FUZZ_ARGS (more libFuzzer flags)
# One fuzzer process at a time, one core (no -jobs/-workers).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=${FUZZ_WORK:-/tmp/vrprep-fuzz}
DEPS=${FUZZ_DEPS:-/tmp/vrprep-fuzz-deps}
CXX=${CXX:-$(command -v clang++)}
NICE=${FUZZ_NICE:-10}
TIMEOUT=${FUZZ_TIMEOUT:-20}
RSS_MB=${FUZZ_RSS_MB:-2048}
# One allocation may reserve up to 4200 MB: DCMTK reserves a value's declared length (a 32-bit
# field, up to 4 GiB) before reading it where it cannot defer it (deflated datasets); the memory
# really used is what -rss_limit_mb bounds. See README.md, "Known, not fixed".
MALLOC_MB=${FUZZ_MALLOC_MB:-4200}
TARGETS=(dicom_attributes dicom_frames jpeg2000)
SHIM=$ROOT/Sources/CDCMTK
CORPUS=$ROOT/Tests/Fixtures/dicom-corpus

case "$WORK" in "$ROOT"|"$ROOT"/*) echo "FUZZ_WORK must be outside the repository" >&2; exit 2 ;; esac

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$HERE/lsan.supp:print_suppressions=0}

instrumented() { [ -z "${FUZZ_SYSTEM_DEPS:-}" ] && [ -f "$DEPS/lib/libdcmdata.a" ]; }

# Debian's libraries have no frame pointers: without the slow unwinder, allocation stacks stop at
# their first frame and lsan.supp cannot match them.
if ! instrumented; then export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0"; fi

# The build folder depends on the dependency flavour, so both can coexist.
bin_dir() { if instrumented; then echo "$WORK/bin-instrumented"; else echo "$WORK/bin-system"; fi; }

build() {
    local bin; bin=$(bin_dir)
    mkdir -p "$bin/obj"
    # The shim and the targets: libFuzzer's coverage, ASan, and UBSan that stops at the first
    # report (a report is a crash for libFuzzer).
    local sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
    # FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (libFuzzer's convention): the shim's inflation
    # allowance for deflated datasets is 256 KiB instead of 4 MiB (see cdcmtk.cpp).
    local cflags=(-std=c++17 -O1 -g -fno-omit-frame-pointer $sanitize -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
                  -I"$SHIM/include" -I"$SHIM")
    local libs
    if instrumented; then
        echo "build: DCMTK and OpenJPEG instrumented, from $DEPS"
        cflags+=(-I"$DEPS/include")
        # The static libraries of the modules build-deps.sh builds, dependants first.
        libs=(-L"$DEPS/lib" -ldcmjpls -ldcmtkcharls -ldcmjpeg -lijg8 -lijg12 -lijg16 -ldcmimgle
              -ldcmdata -loflog -lofstd -lopenjp2 -lz -lpthread)
    else
        echo "build: system DCMTK and OpenJPEG (not instrumented)"
        # As Package.swift's CDCMTK target links them (Debian's dcmtk.pc is broken).
        libs=(-ldcmseg -ldcmfg -ldcmiod -ldcmnet -ldcmtls -ldcmjpls -ldcmjpeg -ldcmimgle
              -ldcmdata -loflog -lofstd -lopenjp2 -lstdc++)
    fi
    local source
    for source in cdcmtk jpeg2000; do
        nice -n "$NICE" "$CXX" "${cflags[@]}" -fsanitize=fuzzer-no-link -c "$SHIM/$source.cpp" \
            -o "$bin/obj/$source.o"
    done
    local target
    for target in "${TARGETS[@]}"; do
        nice -n "$NICE" "$CXX" "${cflags[@]}" -fsanitize=fuzzer "$HERE/targets/$target.cpp" \
            "$bin/obj/cdcmtk.o" "$bin/obj/jpeg2000.o" -fuse-ld=lld "${libs[@]}" -o "$bin/$target"
    done
    echo "build: $bin/{$(IFS=,; echo "${TARGETS[*]}")}"
}

ensure_built() { [ -x "$(bin_dir)/$1" ] || build; }

# Seeds: every file of the DICOM corpus (any extension), flat, named after its path.
dicom_seeds() {
    local seeds=$WORK/seeds/dicom
    if [ ! -d "$seeds" ]; then
        mkdir -p "$seeds"
        (cd "$CORPUS" && find . -type f -print0 | while IFS= read -r -d '' file; do
            local name=${file#./}
            cp "$file" "$seeds/${name//\//__}"
        done)
    fi
    echo "$seeds"
}

# Seeds for jpeg2000: the codestreams of the corpus files whose fragments hold JPEG 2000
# (items starting with SOC+SIZ FF4FFF51 or a JP2 signature; a frame's following fragments
# appended), at most 4 per file, plus a handful of tiny made-up headers.
j2k_seeds() {
    local seeds=$WORK/seeds/jpeg2000
    if [ ! -d "$seeds" ]; then
        mkdir -p "$seeds"
        python3 - "$CORPUS" "$seeds" <<'EOF'
import os, struct, sys
corpus, out = sys.argv[1], sys.argv[2]
ITEM, DELIM = b"\xfe\xff\x00\xe0", b"\xfe\xff\xdd\xe0"
JP2 = b"\x00\x00\x00\x0cjP  "
count = 0
for folder, _, files in os.walk(corpus):
    for name in sorted(files):
        data = open(os.path.join(folder, name), "rb").read()
        streams, pos = [], 0
        while len(streams) < 4:
            soc = data.find(b"\xff\x4f\xff\x51", pos)
            jp2 = data.find(JP2, pos)
            start = min(x for x in (soc, jp2, len(data)) if x >= 0)
            if start == len(data): break
            # An encapsulated fragment: the item header is right before it.
            if start >= 8 and data[start - 8:start - 4] == ITEM:
                length = struct.unpack("<I", data[start - 4:start])[0]
                stream = bytearray(data[start:start + length])
                end = start + length
                # Following fragments of the same frame (not starting a new codestream).
                while data[end:end + 4] == ITEM:
                    length = struct.unpack("<I", data[end + 4:end + 8])[0]
                    body = data[end + 8:end + 8 + length]
                    if body[:4] == b"\xff\x4f\xff\x51" or body[:8] == JP2: break
                    stream += body
                    end += 8 + length
                streams.append(bytes(stream))
                pos = end
            else:
                pos = start + 4
        for index, stream in enumerate(streams):
            rel = os.path.relpath(os.path.join(folder, name), corpus).replace("/", "__")
            open(os.path.join(out, f"{rel}.{index}.j2k"), "wb").write(stream)
            count += 1
# Tiny hand-made starts: SOC + SIZ of a 1x1 and a 3-component 8x8 image, nothing more.
def siz(w, h, comps, prec):
    body = struct.pack(">HIIIIIIIIH", 0, w, h, 0, 0, w, h, 0, 0, comps) + bytes([prec - 1, 1, 1]) * comps
    return b"\xff\x4f\xff\x51" + struct.pack(">H", len(body) + 2) + body
open(os.path.join(out, "tiny-1x1.j2k"), "wb").write(siz(1, 1, 1, 8) + b"\xff\xd9")
open(os.path.join(out, "tiny-8x8x3.j2k"), "wb").write(siz(8, 8, 3, 12) + b"\xff\xd9")
print(f"jpeg2000 seeds: {count} codestreams from the corpus", file=sys.stderr)
EOF
    fi
    echo "$seeds"
}

seeds_for() {
    case "$1" in
        jpeg2000) j2k_seeds ;;
        *) dicom_seeds ;;
    esac
}

max_len_for() {
    case "$1" in
        jpeg2000) echo "${FUZZ_MAX_LEN:-262144}" ;;
        *) echo "${FUZZ_MAX_LEN:-262144}" ;;
    esac
}

# Sums what the libFuzzer runs of one campaign printed.
summarise() {  # target log-files...
    local target=$1; shift
    local execs=0 seconds=0 last="" line
    for log in "$@"; do
        local n s
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        execs=$((execs + ${n:-0}))
        line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 || true)
        [ -n "$line" ] && last=$line
    done
    seconds=$(cat "$WORK/logs/$target.seconds")
    local cov ft
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    local corpus_files corpus_bytes
    corpus_files=$(find "$WORK/corpus/$target" -type f | wc -l)
    corpus_bytes=$(du -sb "$WORK/corpus/$target" | cut -f1)
    local crashes
    crashes=$(find "$WORK/artifacts/$target" -type f 2>/dev/null | wc -l)
    echo "== $target: ${seconds}s, executions $execs ($((execs / (seconds > 0 ? seconds : 1))) exec/s)," \
         "cov ${cov:-?} ft ${ft:-?}, corpus $corpus_files files ($corpus_bytes bytes), artifacts $crashes"
    find "$WORK/artifacts/$target" -type f 2>/dev/null | sed 's/^/   artifact: /'
}

run_target() {  # target seconds
    local target=$1 total=$2
    ensure_built "$target"
    local bin; bin=$(bin_dir)/$target
    local seeds; seeds=$(seeds_for "$target")
    local corpus=$WORK/corpus/$target artifacts=$WORK/artifacts/$target logs=$WORK/logs
    mkdir -p "$corpus" "$artifacts" "$logs"
    local readOnly=("$seeds")
    [ -d "$HERE/regressions/$target" ] && readOnly+=("$HERE/regressions/$target")
    local start=$SECONDS left=$total round=0 logsOfRun=()
    # A crash, leak, timeout or OOM stops libFuzzer: note it and go on for the time left
    # (at most 20 restarts; a crash found again at once would otherwise eat the time).
    while [ "$left" -gt 5 ] && [ "$round" -lt 20 ]; do
        round=$((round + 1))
        local log=$logs/$target.$(date +%Y%m%d-%H%M%S).$round.log
        logsOfRun+=("$log")
        echo "-- $target round $round, ${left}s, log $log"
        # The first corpus folder is written to; the others (seeds, regressions) only read.
        set +e
        nice -n "$NICE" "$bin" "$corpus" "${readOnly[@]}" \
            -max_total_time="$left" -print_final_stats=1 -max_len="$(max_len_for "$target")" \
            -timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB" -malloc_limit_mb="$MALLOC_MB" \
            -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} >"$log" 2>&1
        local rc=$?
        set -e
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|contract violated|ALARM|artifact_prefix|Test unit written)' "$log" | head -8 || true
        left=$((total - (SECONDS - start)))
        [ "$rc" -eq 0 ] && break
    done
    echo "$((SECONDS - start))" >"$logs/$target.seconds"
    summarise "$target" "${logsOfRun[@]}"
}

regress() {  # target
    local target=$1 dir=$HERE/regressions/$1
    ensure_built "$target"
    local files=()
    [ -d "$dir" ] && mapfile -t files < <(find "$dir" -type f ! -name '*.md' | sort)
    if [ ${#files[@]} -eq 0 ]; then echo "== $target: no regression inputs"; return 0; fi
    if "$(bin_dir)/$target" -timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB" -malloc_limit_mb="$MALLOC_MB" \
        "${files[@]}" >"$WORK/logs/$target.regress.log" 2>&1; then
        echo "== $target: ${#files[@]} regression input(s) pass"
    else
        echo "== $target: FAILED on a regression input, see $WORK/logs/$target.regress.log"
        grep -E '^(Running:|==[0-9]+==ERROR|SUMMARY|.*runtime error|contract violated)' "$WORK/logs/$target.regress.log" | tail -5
        return 1
    fi
}

targets_of() {
    if [ "${1:-all}" = all ]; then echo "${TARGETS[@]}"; else echo "$1"; fi
}

mkdir -p "$WORK/logs"
command=${1:-run}
case "$command" in
    build) build ;;
    run)
        for target in $(targets_of "${2:-all}"); do run_target "$target" "${3:-60}"; done ;;
    regress)
        status=0
        for target in $(targets_of "${2:-all}"); do regress "$target" || status=1; done
        exit $status ;;
    minimize)
        target=$2 input=$3
        ensure_built "$target"
        out=$WORK/minimized/$target/$(basename "$input")
        mkdir -p "$(dirname "$out")"
        nice -n "$NICE" "$(bin_dir)/$target" -minimize_crash=1 -max_total_time="${4:-120}" \
            -timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB" -exact_artifact_path="$out" "$input" \
            >"$WORK/logs/minimize-$target.log" 2>&1 || true
        ls -l "$out" ;;
    *) echo "usage: $0 build | run [TARGET|all] [SECONDS] | regress [TARGET|all] | minimize TARGET FILE [SECONDS]" >&2
       exit 2 ;;
esac
