#!/usr/bin/env bash
# TaskBridge benchmarks: one command, one run, every figure side by side.
#
#   scripts/bench.sh            # builds release binaries, runs everything, writes BENCHMARKS.md + bench/chart.png
#
# Knobs (environment): DURATION (s per wrk run, default 20), CONNECTIONS (default 32),
# THREADS (wrk threads, default 2), BACKLOG (delivery backlog, default 100000),
# BIG_BACKLOG (RSS backlog, default 1000000; 0 skips it), POSTGRES (1: also measure the
# PostgreSQL store with 1 and 2 replicas on a throwaway cluster, scripts/pg-test-cluster.sh;
# 0 skips it), SLOW_BACKLOG (jobs for the concurrency-bound replica runs, default 20000).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
BACKLOG=${BACKLOG:-100000}
BIG_BACKLOG=${BIG_BACKLOG:-1000000}
POSTGRES=${POSTGRES:-1}
SLOW_BACKLOG=${SLOW_BACKLOG:-20000}
WARMUP=5
OUT=$ROOT/bench-results
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.txt
export BENCH_SECRET=bench-secret-$RANDOM
export BENCH_GC_TOKEN=gck_fake_workspace_key
export BENCH_BODY=$ROOT/Tests/Fixtures/github/pull_request.opened.json
export BENCH_SIGNATURE=$(python3 -c "import hmac,hashlib,os;print(hmac.new(os.environ['BENCH_SECRET'].encode(),open(os.environ['BENCH_BODY'],'rb').read(),hashlib.sha256).hexdigest())")
CLK_TCK=$(getconf CLK_TCK)

need() { command -v "$1" >/dev/null 2>&1; }
for tool in wrk python3; do need "$tool" || { echo "bench needs $tool (apt-get install wrk)" >&2; exit 1; }; done
python3 -c "import matplotlib" 2>/dev/null || pip install -q matplotlib

echo "== building release binaries"
# The README's release build command for the service; tb-bench holds the floor server,
# the fake target, the fixed-rate load generator and the backlog tools.
swift build -c release --product taskbridge --static-swift-stdlib 2>&1 | tail -1
swift build -c release --product tb-bench --static-swift-stdlib 2>&1 | tail -1
BIN=$(swift build -c release --show-bin-path)
TB=$BIN/taskbridge
BENCH=$BIN/tb-bench

# The GroupChat examples' rules (the PostHog, Zylon and agent examples need targets the
# benchmark config does not have); spliced into the config's "rules" list.
EXAMPLE_RULES="$ROOT/examples/sentry-to-tasks/rules.json\", \"$ROOT/examples/github-pr-flow/rules.json\", \"$ROOT/examples/website-feedback/rules.json"

PIDS=()
PG_DIR=""
cleanup() {
    for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
    if [ -n "$PG_DIR" ]; then bash scripts/pg-test-cluster.sh stop "$PG_DIR" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

wait_port() { for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; return 1; }
cpu_seconds() { awk -v t="$CLK_TCK" '{printf "%.2f", ($14 + $15) / t}' /proc/"$1"/stat; }
peak_rss_kb() { awk '/VmHWM/ {print $2}' /proc/"$1"/status; }
stop() { kill -INT "$1" 2>/dev/null || true; for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; kill -9 "$1" 2>/dev/null || true; }
# Each ingest run writes gigabytes; without this the kernel's writeback of one run's
# files (and their deletion) lands in the next run's fsyncs and inflates its p99.
settle() { sync; sleep 2; }
stop_taskbridge() { stop "$TB_PID"; rm -rf "$OUT/$1"/run-*/data; settle; }

# run_wrk NAME PID URL: warm up, then measure; writes $OUT/NAME.json
run_wrk() {
    local name=$1 pid=$2 url=$3
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s bench/wrk-github.lua "$url" >/dev/null
    local cpu0; cpu0=$(cpu_seconds "$pid")
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/wrk-github.lua "$url" > "$OUT/$name.txt"
    local cpu1; cpu1=$(cpu_seconds "$pid")
    python3 scripts/bench_wrk.py "$OUT/$name.txt" "$name" "$cpu0" "$cpu1" "$(peak_rss_kb "$pid")" > "$OUT/$name.json"
    echo "   $(cat "$OUT/$name.json")"
}

start_fake() { # start_fake PORT TASKS [LATENCY_MS] (a fake with 1M tasks takes a few seconds to build)
    "$BENCH" fake-groupchat --port "$1" --tasks "$2" --latency-ms "${3:-0}" > "$OUT/fake-$1.log" 2>&1 &
    PIDS+=($!); FAKE_PID=$!
    for _ in $(seq 1 1200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done
    echo "fake never listened" >&2; return 1
}
stop_fake() { kill -9 "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# bench_config RULES_GLOB BATCH OUT_FILE: the benchmark config; with STORE=postgres it
# uses the PostgreSQL database in $TASKBRIDGE_DATABASE_URL instead of SQLite.
bench_config() {
    sed -e "s#{{RULES}}#$1#" -e "s#\"enabled\": true#\"enabled\": $2#" -e "s#\"concurrency\": 64#\"concurrency\": ${TARGET_CONCURRENCY:-64}#" \
        bench/taskbridge.json > "$3"
    if [ "${STORE:-sqlite}" = postgres ]; then
        python3 - "$3" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["storage"] = {"kind": "postgres", "url": {"env": "TASKBRIDGE_DATABASE_URL"}, "tls": "disable", "poolSize": 16}
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
    fi
}

start_taskbridge() { # start_taskbridge NAME RULES_GLOB [batching true|false]; DATA_DIR=… reuses a seeded store, PORT=… (8090)
    local name=$1 rules=$2 batch=${3:-true} port=${PORT:-8090}
    local dir=$OUT/$name/run-$port; rm -rf "$dir"; mkdir -p "$dir"
    bench_config "$rules" "$batch" "$dir/taskbridge.json"
    "$TB" serve --config "$dir/taskbridge.json" --data-dir "${DATA_DIR:-$dir/data}" --port "$port" > "$dir/serve.log" 2>&1 &
    PIDS+=($!); TB_PID=$!; wait_port "$port"
}

start_fake 8092 0
export BENCH_FAKE_URL=http://127.0.0.1:8092
settle

# First, before the ingest runs below write (and delete) gigabytes: in one full run
# that measured it after them, p99 was 35 ms against ~3 ms in runs before and since.
echo "== latency at a fixed 1,000 requests/s (TaskBridge), first, on a quiet disk"
start_taskbridge fixed-rate "$EXAMPLE_RULES"
"$BENCH" rate --url http://127.0.0.1:8090/hooks/github --rps 1000 --duration "$DURATION" --warmup "$WARMUP" \
    --body "$BENCH_BODY" --secret "$BENCH_SECRET" > "$OUT/fixed-rate.json"
echo "   $(cat "$OUT/fixed-rate.json")"
stop_taskbridge fixed-rate


echo "== ingest: the floor (bare Hummingbird)"
"$BENCH" floor --port 8091 > "$OUT/floor.log" 2>&1 & PIDS+=($!); FLOOR_PID=$!; wait_port 8091
run_wrk floor "$FLOOR_PID" http://127.0.0.1:8091/hooks/github
stop "$FLOOR_PID"

echo "== ingest: the durable ceiling (floor + HMAC-SHA256 check; then + append the body to a file, fdatasync per group)"
"$BENCH" ceiling --port 8094 --secret "$BENCH_SECRET" --file "$OUT/ceiling.bin" --no-disk > "$OUT/ceiling.log" 2>&1 & PIDS+=($!); CEIL_PID=$!; wait_port 8094
run_wrk floor+hmac "$CEIL_PID" http://127.0.0.1:8094/hooks/github
stop "$CEIL_PID"
"$BENCH" ceiling --port 8094 --secret "$BENCH_SECRET" --file "$OUT/ceiling.bin" > "$OUT/ceiling.log" 2>&1 & PIDS+=($!); CEIL_PID=$!; wait_port 8094
run_wrk durable-ceiling "$CEIL_PID" http://127.0.0.1:8094/hooks/github
stop "$CEIL_PID"
rm -f "$OUT/ceiling.bin"; settle

echo "== ingest: TaskBridge (example rules, SQLite on disk, fake GroupChat target)"
start_taskbridge taskbridge "$EXAMPLE_RULES"
run_wrk taskbridge "$TB_PID" http://127.0.0.1:8090/hooks/github
stop_taskbridge taskbridge

if need webhook; then
    echo "== ingest: adnanh/webhook (HMAC-SHA256 + action match)"
    webhook -hooks bench/hooks.json -template -ip 127.0.0.1 -port 8093 > "$OUT/webhook.log" 2>&1 & PIDS+=($!); WH_PID=$!; wait_port 8093
    run_wrk webhook "$WH_PID" http://127.0.0.1:8093/hooks/github
    stop "$WH_PID"
else
    echo "== adnanh/webhook not installed (apt-get install webhook); skipped"
fi

echo "== rule scaling: 10 vs 1,000 rules (3 match; their jobs are planned but not delivered, to measure ingest alone)"
for n in 10 1000; do
    "$BENCH" make-rules --count "$n" --matching 3 --out "$OUT/rules-$n.json" >/dev/null
    BENCH_GC_TOKEN= start_taskbridge "rules-$n" "$OUT/rules-$n.json"
    run_wrk "rules-$n" "$TB_PID" http://127.0.0.1:8090/hooks/github
    stop_taskbridge "rules-$n"
done
stop_fake "$FAKE_PID"

echo "== delivery: drain a backlog of $BACKLOG task.complete jobs"
start_fake 8092 "$BACKLOG"
for batch in false true; do
    name=delivery-batch-$batch
    rm -rf "$OUT/$name"; mkdir -p "$OUT/$name"
    sed -e "s#{{RULES}}#$ROOT/bench/delivery-rules.json#" bench/taskbridge.json > "$OUT/$name/seed.json"
    "$BENCH" seed --config "$OUT/$name/seed.json" --data-dir "$OUT/$name/data" --events "$BACKLOG" \
        --payload Tests/Fixtures/sentry/issue.created.json --action resolved
    settle
    DATA_DIR=$OUT/$name/data start_taskbridge "$name" "$ROOT/bench/delivery-rules.json" "$batch"
    "$BENCH" drain --data-dir "$OUT/$name/data" --pid "$TB_PID" > "$OUT/$name.json"
    echo "   batching=$batch: $(python3 -c "import json;d=json.load(open('$OUT/$name.json'));print(d['jobs'],'jobs in',d['seconds'],'s =',d['stepsPerSecond'],'steps/s')")"
    stop "$TB_PID"
    rm -rf "$OUT/$name/data"
    settle
done
stop_fake "$FAKE_PID"

if [ "$BIG_BACKLOG" -gt 0 ]; then
    echo "== memory with a backlog of $BIG_BACKLOG jobs"
    start_fake 8092 "$BIG_BACKLOG"
    name=big-backlog
    rm -rf "$OUT/$name"; mkdir -p "$OUT/$name"
    sed -e "s#{{RULES}}#$ROOT/bench/delivery-rules.json#" bench/taskbridge.json > "$OUT/$name/seed.json"
    "$BENCH" seed --config "$OUT/$name/seed.json" --data-dir "$OUT/$name/data" --events "$BIG_BACKLOG" \
        --payload Tests/Fixtures/sentry/issue.created.json --action resolved
    settle
    DATA_DIR=$OUT/$name/data start_taskbridge "$name" "$ROOT/bench/delivery-rules.json" true
    "$BENCH" drain --data-dir "$OUT/$name/data" --pid "$TB_PID" --limit 60 > "$OUT/$name.json"
    echo "   $(python3 -c "import json;d=json.load(open('$OUT/$name.json'));print('RSS',d['rssMinKB'],'-',d['rssMaxKB'],'KB while delivering',d['jobs'],'of',d['backlog'])")"
    stop "$TB_PID"
    stop_fake "$FAKE_PID"
    rm -rf "$OUT/$name/data"
fi

if [ "$POSTGRES" = 1 ]; then
    echo "== PostgreSQL: a throwaway cluster (scripts/pg-test-cluster.sh), the same runs with 1 and 2 replicas"
    PG_DIR=$(mktemp -d /tmp/taskbridge-bench-pg.XXXXXX)
    PG_URL=$(bash scripts/pg-test-cluster.sh start "$PG_DIR")
    export STORE=postgres TASKBRIDGE_DATABASE_URL=${PG_URL%/*}/tb_bench
    fresh_db() { psql "$PG_URL" -qc "DROP DATABASE IF EXISTS tb_bench WITH (FORCE)" && psql "$PG_URL" -qc "CREATE DATABASE tb_bench"; }
    # run_wrk_pair NAME PID_A PID_B: wrk against both replicas at once, half the connections each.
    run_wrk_pair() {
        local name=$1 a=$2 b=$3 half=$(( CONNECTIONS / 2 ))
        wrk -t1 -c"$half" -d"${WARMUP}s" -s bench/wrk-github.lua http://127.0.0.1:8090/hooks/github >/dev/null &
        wrk -t1 -c"$half" -d"${WARMUP}s" -s bench/wrk-github.lua http://127.0.0.1:8095/hooks/github >/dev/null; wait %1 2>/dev/null || true
        local a0 b0 a1 b1; a0=$(cpu_seconds "$a"); b0=$(cpu_seconds "$b")
        wrk -t1 -c"$half" -d"${DURATION}s" --latency -s bench/wrk-github.lua http://127.0.0.1:8090/hooks/github > "$OUT/$name-a.txt" &
        local w=$!
        wrk -t1 -c"$half" -d"${DURATION}s" --latency -s bench/wrk-github.lua http://127.0.0.1:8095/hooks/github > "$OUT/$name-b.txt"
        wait "$w"
        a1=$(cpu_seconds "$a"); b1=$(cpu_seconds "$b")
        python3 scripts/bench_wrk.py "$OUT/$name-a.txt" "$name-a" "$a0" "$a1" "$(peak_rss_kb "$a")" > "$OUT/$name-a.json"
        python3 scripts/bench_wrk.py "$OUT/$name-b.txt" "$name-b" "$b0" "$b1" "$(peak_rss_kb "$b")" > "$OUT/$name-b.json"
        python3 - "$OUT" "$name" <<'PY' > "$OUT/$name.json"
import json, os, sys
out, name = sys.argv[1:3]
a, b = (json.load(open(os.path.join(out, f"{name}-{s}.json"))) for s in "ab")
requests = a["requests"] + b["requests"]
cpu = a["cpuSeconds"] + b["cpuSeconds"]
print(json.dumps({"name": name, "requestsPerSecond": round(a["requestsPerSecond"] + b["requestsPerSecond"], 2), "requests": requests,
                  "p50ms": max(a["p50ms"], b["p50ms"]), "p99ms": max(a["p99ms"], b["p99ms"]), "non2xx": a["non2xx"] + b["non2xx"],
                  "cpuSeconds": round(cpu, 2), "cpuMicrosPerRequest": round(cpu / max(requests, 1) * 1e6, 1),
                  "peakRssMB": max(a["peakRssMB"], b["peakRssMB"])}))
PY
        echo "   $(cat "$OUT/$name.json")"
    }
    pg_cpu() { local pm; pm=$(head -1 "$PG_DIR/data/postmaster.pid"); ps -o cputimes= --ppid "$pm" -p "$pm" | awk '{s += $1} END {print s + 0}'; }

    start_fake 8092 0
    echo "== PostgreSQL: latency at a fixed 1,000 requests/s (1 replica)"
    fresh_db
    start_taskbridge pg-fixed-rate "$EXAMPLE_RULES"
    "$BENCH" rate --url http://127.0.0.1:8090/hooks/github --rps 1000 --duration "$DURATION" --warmup "$WARMUP" \
        --body "$BENCH_BODY" --secret "$BENCH_SECRET" > "$OUT/pg-fixed-rate.json"
    echo "   $(cat "$OUT/pg-fixed-rate.json")"
    stop_taskbridge pg-fixed-rate

    echo "== PostgreSQL: ingest with 1 replica"
    fresh_db
    start_taskbridge pg-ingest-1 "$EXAMPLE_RULES"
    run_wrk pg-ingest-1 "$TB_PID" http://127.0.0.1:8090/hooks/github
    stop_taskbridge pg-ingest-1

    echo "== PostgreSQL: ingest with 2 replicas (wrk against each, half the connections each)"
    fresh_db
    start_taskbridge pg-ingest-2 "$EXAMPLE_RULES"; PG_A=$TB_PID
    PORT=8095 start_taskbridge pg-ingest-2 "$EXAMPLE_RULES"; PG_B=$TB_PID
    run_wrk_pair pg-ingest-2 "$PG_A" "$PG_B"
    stop "$PG_A"; stop "$PG_B"; settle
    stop_fake "$FAKE_PID"

    echo "== PostgreSQL: delivery from a backlog of $BACKLOG task.complete jobs, 1 and 2 replicas"
    start_fake 8092 "$BACKLOG"
    for replicas in 1 2; do
        name=pg-delivery-$replicas
        rm -rf "$OUT/$name"; mkdir -p "$OUT/$name"
        fresh_db
        bench_config "$ROOT/bench/delivery-rules.json" true "$OUT/$name/seed.json"
        "$BENCH" seed --config "$OUT/$name/seed.json" --data-dir "$OUT/$name/data" --events "$BACKLOG" \
            --payload Tests/Fixtures/sentry/issue.created.json --action resolved
        psql "$TASKBRIDGE_DATABASE_URL" -qc "VACUUM ANALYZE jobs, events"
        settle
        cpu0=$(pg_cpu)
        start_taskbridge "$name" "$ROOT/bench/delivery-rules.json" true; pids=$TB_PID
        if [ "$replicas" = 2 ]; then PORT=8095 start_taskbridge "$name" "$ROOT/bench/delivery-rules.json" true; pids="$pids,$TB_PID"; fi
        "$BENCH" drain --config "$OUT/$name/seed.json" --data-dir "$OUT/$name/data" --pid "$pids" > "$OUT/$name.json"
        echo "   $replicas replica(s): $(python3 -c "import json;d=json.load(open('$OUT/$name.json'));print(d['jobs'],'jobs in',d['seconds'],'s =',d['stepsPerSecond'],'steps/s')"); PostgreSQL CPU $(python3 -c "print(round($(pg_cpu) - $cpu0, 1))") s"
        for p in ${pids//,/ }; do stop "$p"; done
        settle
    done
    stop_fake "$FAKE_PID"

    # The fast fake above makes the two cores the bound (PostgreSQL, both replicas, the
    # fake and the drain share them). Here each replica's own target limit is the bound,
    # as against a real upstream across a network: the fake answers every request after
    # 20 ms, each replica sends at most 16 at once, one PATCH per step.
    echo "== PostgreSQL: delivery bound by each replica's target concurrency (16, 20 ms upstream latency, no batching), 1 and 2 replicas"
    start_fake 8092 "$SLOW_BACKLOG" 20
    for replicas in 1 2; do
        name=pg-delivery-limited-$replicas
        rm -rf "$OUT/$name"; mkdir -p "$OUT/$name"
        fresh_db
        TARGET_CONCURRENCY=16 bench_config "$ROOT/bench/delivery-rules.json" false "$OUT/$name/seed.json"
        "$BENCH" seed --config "$OUT/$name/seed.json" --data-dir "$OUT/$name/data" --events "$SLOW_BACKLOG" \
            --payload Tests/Fixtures/sentry/issue.created.json --action resolved
        settle
        TARGET_CONCURRENCY=16 start_taskbridge "$name" "$ROOT/bench/delivery-rules.json" false; pids=$TB_PID
        if [ "$replicas" = 2 ]; then TARGET_CONCURRENCY=16 PORT=8095 start_taskbridge "$name" "$ROOT/bench/delivery-rules.json" false; pids="$pids,$TB_PID"; fi
        "$BENCH" drain --config "$OUT/$name/seed.json" --data-dir "$OUT/$name/data" --pid "$pids" > "$OUT/$name.json"
        echo "   $replicas replica(s): $(python3 -c "import json;d=json.load(open('$OUT/$name.json'));print(d['jobs'],'jobs in',d['seconds'],'s =',d['stepsPerSecond'],'steps/s')")"
        for p in ${pids//,/ }; do stop "$p"; done
        settle
    done
    stop_fake "$FAKE_PID"
    unset STORE
fi

echo "== report"
python3 scripts/bench_report.py "$OUT" BENCHMARKS.md bench/chart.png \
    "DURATION=$DURATION CONNECTIONS=$CONNECTIONS THREADS=$THREADS BACKLOG=$BACKLOG BIG_BACKLOG=$BIG_BACKLOG scripts/bench.sh"
echo "wrote BENCHMARKS.md and bench/chart.png"
