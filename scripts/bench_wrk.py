#!/usr/bin/env python3
"""Parse wrk --latency output into JSON: bench_wrk.py FILE NAME CPU_BEFORE CPU_AFTER PEAK_RSS_KB."""
import json
import re
import sys

path, name, cpu0, cpu1, rss = sys.argv[1:6]
text = open(path).read()


def ms(value: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", value)
    number, unit = float(m.group(1)), m.group(2)
    return number / 1000 if unit == "us" else number * 1000 if unit == "s" else number


def latency(pct: str) -> float:
    m = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M)
    return round(ms(m.group(1)), 3) if m else None


requests = int(re.search(r"(\d+) requests in", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors = re.search(r"Socket errors: (.*)", text)
seconds = float(re.search(r"requests in ([\d.]+)s", text).group(1))
result = {
    "name": name,
    "requestsPerSecond": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
    "requests": requests,
    "seconds": seconds,
    "p50ms": latency("50"),
    "p99ms": latency("99"),
    "non2xx": int(non2xx.group(1)) if non2xx else 0,
    "socketErrors": errors.group(1).strip() if errors else "",
    "cpuSeconds": round(float(cpu1) - float(cpu0), 2),
    "cpuMicrosPerRequest": round((float(cpu1) - float(cpu0)) / max(requests, 1) * 1e6, 1),
    "peakRssMB": round(int(rss) / 1024, 1),
}
print(json.dumps(result))
