#!/usr/bin/env bash
# Builds the libFuzzer harnesses in Fuzz/ (with -sanitize=fuzzer,address) and runs each
# one in turn, seeded from the repository's real fixtures, config and rules.
#
#   bash scripts/fuzz.sh [seconds-per-harness] [harness ...]     (default: 60, all)
#
#   FUZZ_RUNS=N        also stop a harness after N inputs (whichever comes first)
#   FUZZ_SCRATCH=DIR   build and work directory (default: .build-fuzz)
#   FUZZ_TIMEOUT=S     seconds one input may take before it counts as a hang (default: 25)
#   FUZZ_SKIP_BUILD=1  reuse the binaries already built
#
# Per harness it prints the inputs executed; it exits non-zero when any harness crashes,
# trips an invariant, leaks or hangs, and keeps the input under
# $FUZZ_SCRATCH/fuzz/crashes/<harness>/ (printed in hex too). See FUZZING.md.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds=${1:-60}
[ $# -gt 0 ] && shift
all=(fuzz-json fuzz-json-partial fuzz-form fuzz-signature fuzz-config fuzz-rules fuzz-template
     fuzz-headers fuzz-widget fuzz-ip fuzz-regex)
if [ $# -gt 0 ]; then harnesses=("$@"); else harnesses=("${all[@]}"); fi
scratch=${FUZZ_SCRATCH:-.build-fuzz}
case "$scratch" in /*) ;; *) scratch="$root/$scratch" ;; esac
work="$scratch/fuzz"

if [ "${FUZZ_SKIP_BUILD:-0}" != 1 ]; then
    echo "== fuzz: building harnesses (release, -sanitize=fuzzer,address) in $scratch"
    build_start=$(date +%s)
    mkdir -p "$work"
    if ! swift build -c release --package-path Fuzz --scratch-path "$scratch" \
            -Xswiftc -sanitize=fuzzer,address > "$work/build.log" 2>&1; then
        tail -60 "$work/build.log" >&2
        echo "== fuzz: FAILED to build the harnesses" >&2
        exit 1
    fi
    echo "== fuzz: built in $(( $(date +%s) - build_start ))s"
fi
bin="$scratch/release"

# Seed corpora from the real fixtures, regenerated each run (never committed); the
# corpus/ directories keep what the fuzzer finds between runs.
rm -rf "$work/seeds"
mkdir -p "$work/seeds" "$work/corpus" "$work/crashes" "$work/logs"
python3 - "$root" "$work/seeds" <<'PY'
import glob, hashlib, hmac, json, os, re, sys, urllib.parse

root, out = sys.argv[1], sys.argv[2]

def read(p):
    with open(p, "rb") as f:
        return f.read()

n = 0
def put(harness, data, name=None):
    global n
    n += 1
    d = os.path.join(out, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name or "seed-%04d" % n), "wb") as f:
        f.write(data)

def rel(p):
    return os.path.relpath(p, root).replace("/", "_")

fixtures = sorted(glob.glob(root + "/Tests/Fixtures/*/*.json"))
configs = [root + "/config/taskbridge.json"] + sorted(glob.glob(root + "/Fuzz/seeds/config/*.json"))
rules = sorted(glob.glob(root + "/examples/*/rules.json"))
schemas = sorted(glob.glob(root + "/config/schema/*.json"))
hand = lambda kind: sorted(glob.glob(root + "/Fuzz/seeds/%s/*" % kind))
widget = [b'{"message": "  The checkout button does nothing  ", "email": "ada@example.com", '
          b'"page": "https://shop.example.com/checkout", "name": "Ada", "website": ""}',
          b'{"message": "buy now", "website": "http://spam.example"}',
          b'{"message": "hi", "website": null}']

# Every string in the example rules: paths, templates and patterns.
strings = []
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
    elif isinstance(v, str):
        strings.append(v)
for p in rules:
    walk(json.loads(read(p)))
templates = sorted({s for s in strings if "{{" in s})
paths = {"action"}
for s in strings:
    for m in re.finditer(r"body((?:\.[A-Za-z0-9_$@-]+|\[[^\]]*\])+)", s):
        paths.add(m.group(1).lstrip("."))
paths = "\n".join(sorted(paths)).encode()
patterns = []
for p in rules:
    for m in re.finditer(r'"matches"\s*:\s*("(?:[^"\\]|\\.)*")', read(p).decode()):
        patterns.append(json.loads(m.group(1)))

for p in fixtures + configs + rules + schemas:
    put("fuzz-json", read(p), rel(p))
for p in fixtures:
    put("fuzz-json-partial", paths + b"\0" + read(p), rel(p))
    put("fuzz-json-partial", b"[0]\n*\nlabels[*].name\n[\"a.b\"]\0" + read(p))
for p in hand("form"):
    put("fuzz-form", read(p), os.path.basename(p))
for p in fixtures:
    body = read(p)
    if len(body) < 8192:
        put("fuzz-form", b"payload=" + urllib.parse.quote_plus(body).encode(), rel(p))
secret = b"fuzz-secret-one"
for i, p in enumerate(fixtures):
    body = read(p)
    mac = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
    put("fuzz-signature", bytes([(i % 32) << 2]) + b"sha256=" + mac + b"\0" + body, rel(p) + ".github")
    put("fuzz-signature", bytes([1 | (i % 32) << 2]) + mac + b"\0" + body, rel(p) + ".sentry")
put("fuzz-signature", b"\x00sha256=" + b"0" * 64 + b"\0{}")
for p in configs:
    put("fuzz-config", read(p), rel(p))
for p in rules:
    put("fuzz-rules", read(p), rel(p))
for p in hand("template"):
    put("fuzz-template", read(p), os.path.basename(p))
for i, t in enumerate(templates):
    put("fuzz-template", t.encode() + b"\0" + read(fixtures[i % len(fixtures)]))
for p in hand("headers"):
    put("fuzz-headers", read(p), os.path.basename(p))
github_events = ["pull_request", "issues", "ping", "push", "installation"]
sentry_resources = ["issue", "error", "event_alert", "comment", "installation", "metric_alert"]
for body in widget:
    for sel in (0x00, 0x01, 0x80 | 0x08, 0x09):  # JSON, strict JSON, text/plain, strict text/plain
        put("fuzz-widget", bytes([sel]) + body)
put("fuzz-widget", b"\x04" + read(root + "/Fuzz/seeds/form/1.txt"))
put("fuzz-widget", b"\x05message=hi&company=ACME&plan=x")
for p in fixtures:
    provider, name = p.split("/")[-2:]
    resource = name.split(".")[0]
    if provider == "github" and resource in github_events:
        put("fuzz-widget", bytes([2 | github_events.index(resource) << 4]) + read(p), rel(p))
    if provider == "sentry" and resource in sentry_resources:
        put("fuzz-widget", bytes([3 | sentry_resources.index(resource) << 4]) + read(p), rel(p))
for p in hand("ip"):
    put("fuzz-ip", read(p), os.path.basename(p))
for p in hand("regex"):
    put("fuzz-regex", read(p), os.path.basename(p))
for pat in patterns:
    put("fuzz-regex", pat.encode()[:48] + b"\0" + b"fixes GC-42 now")
print("== fuzz: %d seed inputs from Tests/Fixtures, config/, examples/ and Fuzz/seeds/" % n)
PY
[ $? -eq 0 ] || { echo "== fuzz: FAILED to write the seed corpora" >&2; exit 1; }

dict_for() {
    case "$1" in
        fuzz-json|fuzz-json-partial|fuzz-widget) echo json ;;
        fuzz-rules) echo rules ;;
        fuzz-config) echo config ;;
        fuzz-template) echo template ;;
        fuzz-headers) echo headers ;;
        fuzz-ip) echo ip ;;
        fuzz-regex) echo regex ;;
        *) echo "" ;;
    esac
}

failed=()
total_start=$(date +%s)
printf '== fuzz: %s s per harness%s\n' "$seconds" "${FUZZ_RUNS:+, at most $FUZZ_RUNS inputs}"
for h in "${harnesses[@]}"; do
    if [ ! -x "$bin/$h" ]; then
        echo "== fuzz: no harness $h (known: ${all[*]})" >&2
        failed+=("$h")
        continue
    fi
    mkdir -p "$work/corpus/$h" "$work/crashes/$h" "$work/seeds/$h"
    args=(-max_total_time="$seconds" -print_final_stats=1 -timeout="${FUZZ_TIMEOUT:-25}" -rss_limit_mb=2560
          -artifact_prefix="$work/crashes/$h/")
    [ -n "${FUZZ_RUNS:-}" ] && args+=(-runs="$FUZZ_RUNS")
    # Templates are short: keep mutated inputs small (a payload that does not parse is
    # replaced by a real fixture, already parsed).
    [ "$h" = fuzz-template ] && args+=(-max_len=4096)
    d=$(dict_for "$h")
    [ -n "$d" ] && [ -f "Fuzz/dict/$d.dict" ] && args+=(-dict="Fuzz/dict/$d.dict")
    log="$work/logs/$h.log"
    start=$(date +%s)
    # Swift's own crash backtracer fights ASan's handlers; libFuzzer reports instead.
    # Leaks are checked per input; the exit-time check would flag long-lived globals
    # whose references Swift keeps in tagged pointers (see FUZZING.md).
    SWIFT_BACKTRACE=enable=no TASKBRIDGE_ROOT="$root" \
    ASAN_OPTIONS="leak_check_at_exit=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
        "$bin/$h" "${args[@]}" "$work/corpus/$h" "$work/seeds/$h" > "$log" 2>&1
    status=$?
    took=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    if [ "$status" -eq 0 ]; then
        printf '%-18s %12s inputs in %4ss (%s/s), corpus %s\n' "$h" "${execs:-?}" "$took" "${rate:-?}" \
            "$(ls "$work/corpus/$h" | wc -l)"
    else
        printf '%-18s FAILED (exit %s) after %s inputs in %ss\n' "$h" "$status" "${execs:-?}" "$took"
        grep -E "fuzz invariant violated|Fatal error|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|SUMMARY" "$log" | head -5 | cut -c1-2000
        for f in $(grep -o "Test unit written to .*" "$log" | sed 's/Test unit written to //'); do
            echo "   input kept at $f ($(wc -c < "$f") bytes), hex:"
            od -An -tx1 -v "$f" | head -16 | sed 's/^/     /'
        done
        echo "   full log: $log"
        failed+=("$h")
    fi
done

echo "== fuzz: ${#harnesses[@]} harnesses in $(( $(date +%s) - total_start ))s"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "== fuzz: FAILED: ${failed[*]} (reproduce: $bin/<harness> <input>)" >&2
    exit 1
fi
echo "== fuzz: no crashes"
