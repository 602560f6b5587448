#!/usr/bin/env python3
"""Turn bench-results/*.json into BENCHMARKS.md and a PNG chart.

bench_report.py RESULTS_DIR OUT_MD OUT_PNG COMMAND
Every figure comes from this run's result files; bench/notes.md (analysis that does
not quote figures) is included as is.
"""
import json
import os
import platform
import subprocess
import sys
import time

results_dir, out_md, out_png, command = sys.argv[1:5]


def load(name):
    path = os.path.join(results_dir, name + ".json")
    return json.load(open(path)) if os.path.exists(path) else None


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return "?"


floor, tb, wh = load("floor"), load("taskbridge"), load("webhook")
hmac_only, ceiling = load("floor+hmac"), load("durable-ceiling")
fixed = load("fixed-rate")
r10, r1000 = load("rules-10"), load("rules-1000")
d_off, d_on = load("delivery-batch-false"), load("delivery-batch-true")
big = load("big-backlog")
pg_fixed, pg_in1, pg_in2 = load("pg-fixed-rate"), load("pg-ingest-1"), load("pg-ingest-2")
pg_d1, pg_d2 = load("pg-delivery-1"), load("pg-delivery-2")
pg_l1, pg_l2 = load("pg-delivery-limited-1"), load("pg-delivery-limited-2")

cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
mem_gb = round(int(sh("awk '/MemTotal/ {print $2}' /proc/meminfo") or 0) / 1024 / 1024, 1)
machine = [
    f"- CPU: {cpu}, {os.cpu_count()} cores (load generator and servers share them)",
    f"- Memory: {mem_gb} GiB; kernel {platform.release()}; {sh('. /etc/os-release && echo $PRETTY_NAME')}",
    f"- {sh('swift --version 2>&1 | head -1')}",
    "- " + sh("wrk -v 2>&1 | head -1") + "; " + (sh("webhook -version 2>&1 | head -1") or "webhook not installed"),
    f"- Run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
]


def fmt(v, digits=0):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def ratio(a, b):
    return a / b if a and b else None


lines = ["# Benchmarks", ""]
lines += ["Regenerate everything below, chart included, with one command:", "", "```sh", command, "```", ""]
lines += ["## Machine", ""] + machine + [""]

lines += ["## Ingest: the same signed request to each server", ""]
lines += [
    "Every request is GitHub's `pull_request.opened` example from octokit/webhooks "
    f"({os.path.getsize('Tests/Fixtures/github/pull_request.opened.json'):,} bytes), signed with HMAC-SHA256, each with its own "
    "`X-GitHub-Delivery` (so TaskBridge stores every one as a new event). wrk drives each server "
    "at the same concurrency for the same time (`bench/wrk-github.lua`).",
    "",
    "- **floor**: a bare Hummingbird server that reads the body and answers 202 (`tb-bench floor`).",
    "- **TaskBridge**: `taskbridge serve` with the shipped example rules, verifying the signature and committing "
    "the event to SQLite on disk (WAL, `synchronous=FULL`) before its 202. The example PR-flow rules listen to "
    "`pull_request.opened` but find no task reference in this payload, so their conditions run and plan nothing; "
    "the rule-scaling runs below plan three jobs per event.",
    "- **floor+hmac**: the floor plus the HMAC-SHA256 check of the body (`tb-bench ceiling --no-disk`): the CPU every "
    "verified request costs before anything is parsed or kept.",
    "- **durable-ceiling**: floor+hmac plus appending the body to a file and `fdatasync`ing it before the 202, "
    "group-committed on one thread (`tb-bench ceiling`): no parsing, no dedupe, no rules, no database — the least "
    "work any design of durable ingest must do (\"Where the goals stand\" below says what that bounds).",
    "- **webhook**: adnanh/webhook (Debian package) verifying the same HMAC-SHA256 signature and matching `action` "
    "(`bench/hooks.json`); it runs `/bin/true` per hook, as it is built to, and keeps nothing.",
    "",
    "| server | requests/s | p50 ms | p99 ms | CPU s | CPU µs/request | peak RSS MB | non-2xx |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
]
for r in (floor, hmac_only, ceiling, tb, wh):
    if r:
        lines.append(f"| {r['name']} | {fmt(r['requestsPerSecond'])} | {fmt(r['p50ms'], 2)} | {fmt(r['p99ms'], 2)} | "
                     f"{fmt(r['cpuSeconds'], 1)} | {fmt(r['cpuMicrosPerRequest'], 1)} | {fmt(r['peakRssMB'], 1)} | {r['non2xx']} |")
tf = ratio(tb and tb["requestsPerSecond"], floor and floor["requestsPerSecond"])
tw = ratio(tb and tb["requestsPerSecond"], wh and wh["requestsPerSecond"])
cf = ratio(ceiling and ceiling["requestsPerSecond"], floor and floor["requestsPerSecond"])
cw = ratio(ceiling and ceiling["requestsPerSecond"], wh and wh["requestsPerSecond"])
tc = ratio(tb and tb["requestsPerSecond"], ceiling and ceiling["requestsPerSecond"])
lines += ["", f"TaskBridge / floor = **{fmt(tf, 2)}**; TaskBridge / webhook = **{fmt(tw, 1)}×**."]
if cf is not None:
    lines += ["", f"durable-ceiling / floor = **{fmt(cf, 2)}**; durable-ceiling / webhook = **{fmt(cw, 1)}×**; "
              f"TaskBridge / durable-ceiling = **{fmt(tc, 2)}**."]
lines += [""]

lines += ["## Ack latency at a fixed 1,000 requests/s", ""]
if fixed:
    lines += [
        "`tb-bench rate` sends on a fixed schedule and measures from the *scheduled* time (no coordinated omission).",
        "",
        "| requests | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | statuses |",
        "|---:|---:|---:|---:|---:|---:|---|",
        f"| {fmt(fixed['requests'])} | {fmt(fixed['p50ms'], 2)} | {fmt(fixed['p90ms'], 2)} | {fmt(fixed['p99ms'], 2)} | "
        f"{fmt(fixed['p999ms'], 2)} | {fmt(fixed['maxms'], 2)} | {fixed['statuses']} |",
        "",
    ]

lines += ["## Rule scaling", ""]
if r10 and r1000:
    cost = 1 - r1000["requestsPerSecond"] / r10["requestsPerSecond"]
    lines += [
        "The same ingest with generated rule sets (`tb-bench make-rules`): three rules match the delivery and plan a "
        "task.create each; 2% listen to the same event type with a condition that fails; the rest listen to other types "
        "and sources, which the index skips.",
        "",
        "| rules | requests/s | p99 ms | CPU µs/request |",
        "|---:|---:|---:|---:|",
        f"| 10 | {fmt(r10['requestsPerSecond'])} | {fmt(r10['p99ms'], 2)} | {fmt(r10['cpuMicrosPerRequest'], 1)} |",
        f"| 1,000 | {fmt(r1000['requestsPerSecond'])} | {fmt(r1000['p99ms'], 2)} | {fmt(r1000['cpuMicrosPerRequest'], 1)} |",
        "",
        f"1,000 rules cost **{fmt(cost * 100, 1)}%** of the ingest rate of 10 rules.",
        "",
    ]

lines += ["## Delivery", ""]
if d_off and d_on:
    lines += [
        "A backlog of `task.complete` jobs (one per derived Sentry `issue.resolved`, each for its own task) is written into "
        "the store (`tb-bench seed`), then `taskbridge serve` drains it against the fake GroupChat, which answers at once "
        "(`tb-bench fake-groupchat`). `tb-bench drain` watches the open-job count.",
        "",
        "| batch coalescing | jobs | seconds | steps/s | RSS MB (min–max) |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, d in (("off (one PATCH per step)", d_off), ("on (`POST /api/v1/tasks/batch`)", d_on)):
        lines.append(f"| {label} | {fmt(d['jobs'])} | {fmt(d['seconds'], 1)} | {fmt(d['stepsPerSecond'])} | "
                     f"{fmt(d['rssMinKB'] / 1024, 1)}–{fmt(d['rssMaxKB'] / 1024, 1)} |")
    lines.append("")
def second_half_growth(samples):
    """How much RSS grew over the second half of a run (memory that keeps climbing leaks)."""
    half = samples[len(samples) // 2:]
    return max(half) / half[0] - 1 if half else None


if big:
    vs_small = ratio(big["rssMaxKB"], d_on and d_on["rssMaxKB"])
    growth = second_half_growth(big["rssSamplesKB"])
    lines += [
        f"With a backlog of **{fmt(big['backlog'])}** jobs, RSS stayed between **{fmt(big['rssMinKB'] / 1024, 1)}** and "
        f"**{fmt(big['rssMaxKB'] / 1024, 1)} MB** while {fmt(big['jobs'])} jobs were delivered in {fmt(big['seconds'], 0)} s. "
        "The dispatcher claims at most 1,024 jobs per target at a time and keeps the rest on disk, so memory follows "
        "the work in flight, not the backlog: ten times the backlog of the batching run above peaks at "
        f"**{fmt(vs_small, 2)}×** its RSS, and RSS grew **{fmt(growth * 100 if growth is not None else None, 1)}%** over "
        "the second half of the run (it climbs in the first seconds, then levels off).",
        "",
    ]

scale = limited_scale = None
if pg_in1 or pg_d1 or pg_fixed:
    lines += ["## PostgreSQL: 1 and 2 replicas", ""]
    lines += [
        "The same runs in the same session against the PostgreSQL store (`storage.kind: postgres`), on a throwaway "
        "PostgreSQL 15 cluster on this machine (`scripts/pg-test-cluster.sh`: defaults, `fsync` and `synchronous_commit` "
        "on, so an acknowledged webhook is as durable as with SQLite's `synchronous=FULL`). Two replicas are two "
        "`taskbridge serve` processes on one database; for ingest, wrk drives each with half the connections. "
        "PostgreSQL, the replicas, the fake target and the load generator share the same two cores.",
        "",
        "| run | store | replicas | requests/s | p50 ms | p99 ms | CPU µs/request (TaskBridge) | non-2xx |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, store, n, r in (("durable ingest", "SQLite", 1, tb), ("durable ingest", "PostgreSQL", 1, pg_in1),
                               ("durable ingest", "PostgreSQL", 2, pg_in2)):
        if r:
            lines.append(f"| {label} | {store} | {n} | {fmt(r['requestsPerSecond'])} | {fmt(r['p50ms'], 2)} | {fmt(r['p99ms'], 2)} | "
                         f"{fmt(r['cpuMicrosPerRequest'], 1)} | {r['non2xx']} |")
    lines += [""]
    if pg_fixed:
        lines += [
            "| fixed 1,000 requests/s | store | requests | p50 ms | p99 ms | p99.9 ms | max ms | statuses |",
            "|---|---|---:|---:|---:|---:|---:|---|",
        ]
        for store, f in (("SQLite", fixed), ("PostgreSQL", pg_fixed)):
            if f:
                lines.append(f"| ack latency | {store} | {fmt(f['requests'])} | {fmt(f['p50ms'], 2)} | {fmt(f['p99ms'], 2)} | "
                             f"{fmt(f['p999ms'], 2)} | {fmt(f['maxms'], 2)} | {f['statuses']} |")
        lines += [""]
    if pg_d1:
        lines += [
            "Delivery from the same backlog of `task.complete` jobs (batching on), seeded into the database, drained by one "
            "replica and then (after a fresh seed) by two:",
            "",
            "| store | replicas | jobs | seconds | steps/s | RSS MB (all replicas, min–max) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for store, n, d in (("SQLite", 1, d_on), ("PostgreSQL", 1, pg_d1), ("PostgreSQL", 2, pg_d2)):
            if d:
                lines.append(f"| {store} | {n} | {fmt(d['jobs'])} | {fmt(d['seconds'], 1)} | {fmt(d['stepsPerSecond'])} | "
                             f"{fmt(d['rssMinKB'] / 1024, 1)}–{fmt(d['rssMaxKB'] / 1024, 1)} |")
        lines += [""]
    if pg_l1:
        lines += [
            "The same drain where each replica's own limit is the bound, as against a real upstream across a network: the fake "
            "answers every request 20 ms after applying it, each replica sends at most 16 requests at once "
            "(`targets.groupchat.concurrency: 16`), one PATCH per step (batching off):",
            "",
            "| store | replicas | jobs | seconds | steps/s |",
            "|---|---:|---:|---:|---:|",
        ]
        for n, d in ((1, pg_l1), (2, pg_l2)):
            if d:
                lines.append(f"| PostgreSQL | {n} | {fmt(d['jobs'])} | {fmt(d['seconds'], 1)} | {fmt(d['stepsPerSecond'])} |")
        lines += [""]
    scale = ratio(pg_d2 and pg_d2["stepsPerSecond"], pg_d1 and pg_d1["stepsPerSecond"])
    limited_scale = ratio(pg_l2 and pg_l2["stepsPerSecond"], pg_l1 and pg_l1["stepsPerSecond"])
    ingest_scale = ratio(pg_in2 and pg_in2["requestsPerSecond"], pg_in1 and pg_in1["requestsPerSecond"])
    if scale is not None or ingest_scale is not None:
        lines += [f"2 replicas / 1 replica: delivery **{fmt(scale, 2)}×** with the fast fake (the two shared cores are the bound), "
                  f"**{fmt(limited_scale, 2)}×** when each replica's target limit is the bound; durable ingest **{fmt(ingest_scale, 2)}×**.", ""]

goals = []
if tf is not None:
    bound = f" (durable-ceiling: {fmt(cf * 100, 0)}%)" if cf is not None else ""
    goals.append(("Durable ingest ≥ 50% of the floor", f"{fmt(tf * 100, 0)}%{bound}", tf >= 0.5))
if tw is not None:
    bound = f" (durable-ceiling: {fmt(cw, 1)}×)" if cw is not None else ""
    goals.append(("Durable ingest ≥ 8× adnanh/webhook", f"{fmt(tw, 1)}×{bound}", tw >= 8))
if fixed:
    goals.append(("p99 ack ≤ 5 ms at 1,000 requests/s", f"{fmt(fixed['p99ms'], 2)} ms", fixed["p99ms"] <= 5))
if d_off:
    goals.append(("Delivery ≥ 5,000 steps/s without batching", fmt(d_off["stepsPerSecond"]), d_off["stepsPerSecond"] >= 5000))
if d_on:
    goals.append(("≥ 20,000 task updates/s with batching", fmt(d_on["stepsPerSecond"]), d_on["stepsPerSecond"] >= 20000))
if tb:
    goals.append(("Peak RSS ≤ 64 MB under the ingest load", f"{fmt(tb['peakRssMB'], 1)} MB", tb["peakRssMB"] <= 64))
if big and d_on:
    # Flat: 10× the backlog may not cost more than a quarter more memory, and RSS must
    # level off (under 5% growth over the run's second half).
    flat = vs_small <= 1.25 and growth is not None and growth < 0.05
    goals.append(("Flat memory with a 1,000,000-job backlog",
                  f"{fmt(big['rssMinKB'] / 1024, 0)}–{fmt(big['rssMaxKB'] / 1024, 0)} MB "
                  f"({fmt(vs_small, 2)}× the 100,000-job run; +{fmt(growth * 100, 1)}% in the second half)", flat))
if r10 and r1000:
    goals.append(("1,000 rules cost ≤ 10% vs 10 rules", f"{fmt(cost * 100, 1)}%", cost <= 0.10))
if pg_fixed:
    goals.append(("PostgreSQL: p99 ack ≤ 5 ms at 1,000 requests/s", f"{fmt(pg_fixed['p99ms'], 2)} ms", pg_fixed["p99ms"] <= 5))
if limited_scale is not None:
    goals.append(("PostgreSQL: 2 replicas deliver ≥ 1.6× one replica (upstream not the bound)",
                  f"{fmt(limited_scale, 2)}× per-replica-limit bound; {fmt(scale, 2)}× CPU bound (2 shared cores)", limited_scale >= 1.6))
lines += ["## Goals", "", "| goal | measured | met |", "|---|---:|:---:|"]
lines += [f"| {g} | {m} | {'yes' if ok else '**no**'} |" for g, m, ok in goals]
lines += ["", "![benchmark chart](bench/chart.png)", ""]
if os.path.exists("bench/notes.md"):
    lines += [open("bench/notes.md").read().rstrip(), ""]
open(out_md, "w").write("\n".join(lines))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

fig, axes = plt.subplots(2, 2, figsize=(12, 8))
ax = axes[0][0]
servers = [r for r in (floor, hmac_only, ceiling, tb, wh) if r]
ax.bar([r["name"] for r in servers], [r["requestsPerSecond"] for r in servers], color=[{"taskbridge": "#2a7", "webhook": "#c63"}.get(r["name"], "#888") for r in servers])
ax.set_title("Ingest, same signed 28 KB request (requests/s)")
ax.tick_params(axis="x", labelrotation=15)
for i, r in enumerate(servers):
    ax.text(i, r["requestsPerSecond"], fmt(r["requestsPerSecond"]), ha="center", va="bottom")
ax = axes[0][1]
if fixed:
    labels = ["p50", "p90", "p99", "p99.9"]
    ax.bar(labels, [fixed["p50ms"], fixed["p90ms"], fixed["p99ms"], fixed["p999ms"]], color="#2a7")
    ax.axhline(5, color="red", linestyle="--", label="goal: p99 ≤ 5 ms")
    ax.legend()
ax.set_title("TaskBridge ack latency at 1,000 requests/s (ms)")
ax = axes[1][0]
bars = [("10 rules", r10), ("1,000 rules", r1000), ("no batching", d_off), ("batching", d_on)]
vals = [(l, (d["requestsPerSecond"] if "requestsPerSecond" in d else d["stepsPerSecond"])) for l, d in bars if d]
ax.bar([l for l, _ in vals], [v for _, v in vals], color=["#2a7", "#2a7", "#37c", "#37c"][: len(vals)])
ax.set_title("Rule scaling (requests/s) and delivery (steps/s)")
for i, (_, v) in enumerate(vals):
    ax.text(i, v, fmt(v), ha="center", va="bottom")
ax = axes[1][1]
for run, color in ((big, "#37c"), (d_on, "#aaa")):
    if run and run.get("rssSamplesKB"):
        xs = run.get("rssSampleSeconds") or [i * 0.25 for i in range(len(run["rssSamplesKB"]))]
        ax.plot(xs, [v / 1024 for v in run["rssSamplesKB"]], color=color, label=f"{fmt(run['backlog'])}-job backlog")
ax.set_ylim(bottom=0)
ax.set_xlabel("seconds")
ax.legend(loc="lower right")
ax.set_title("RSS (MB) while delivering (batching on)")
fig.tight_layout()
fig.savefig(out_png, dpi=110)
