#!/usr/bin/env python3
"""Checks the Dockerfile where no container engine is at hand.

check-dockerfile.py TASKBRIDGE_BINARY

1. Its release build command is the one README.md documents.
2. The runtime stage runs as a non-root user, exposes 8080, declares the /data volume,
   listens on 0.0.0.0 and has a HEALTHCHECK on /healthz.
3. The HEALTHCHECK command itself, run with bash against the built binary, passes
   while the server is up and fails once it is gone.
Exit 0 when all hold; otherwise every failed check is printed and the exit is 1.
"""
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time

binary = sys.argv[1]
docker = open("Dockerfile").read()
readme = open("README.md").read()
problems = []

# Join continuation lines so each instruction is one line.
instructions = re.sub(r"\\\n\s*", " ", docker).splitlines()
stages = "\n".join(instructions).split("\nFROM ")
runtime = stages[-1]

build = [l for l in instructions if l.startswith("RUN swift build -c release")]
if len(build) != 1:
    problems.append(f"Dockerfile: expected one `RUN swift build -c release …` line, found {len(build)}")
else:
    command = build[0][len("RUN "):].strip()
    if command not in re.findall(r"^(swift build -c release[^\n]*)$", readme, re.M):
        problems.append(f"Dockerfile: `{command}` is not the release build command README.md documents")


def has(pattern, what):
    if not re.search(pattern, runtime, re.M):
        problems.append(f"Dockerfile (runtime stage): {what}")


has(r"^USER (?!root\b|0\b)\S+", "no non-root USER")
has(r"^EXPOSE 8080\b", "no EXPOSE 8080")
has(r'^VOLUME \[?"?/data"?\]?', "no /data VOLUME")
has(r"^ENV .*TASKBRIDGE_HOST=0\.0\.0\.0", "does not listen on 0.0.0.0 (TASKBRIDGE_HOST)")
has(r"^HEALTHCHECK .*?/healthz", "no HEALTHCHECK on /healthz")

check = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])\s*$", runtime, re.M)
if not check:
    problems.append("Dockerfile: HEALTHCHECK has no exec-form CMD to run")
else:
    argv = json.loads(check.group(1))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, TASKBRIDGE_PORT=str(port))

    def probe():
        return subprocess.run(argv, env=env, capture_output=True, timeout=10).returncode

    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen([binary, "serve", "--config", "config/taskbridge.json", "--data-dir", data,
                                   "--host", "127.0.0.1", "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 30
            while probe() != 0 and time.time() < deadline:
                time.sleep(0.2)
            if probe() != 0:
                problems.append(f"HEALTHCHECK {shlex.join(argv)} failed against a running server")
        finally:
            server.terminate()
            server.wait(timeout=30)
    if probe() == 0:
        problems.append("HEALTHCHECK passed with no server listening")

for p in problems:
    print(p, file=sys.stderr)
if problems:
    sys.exit(1)
print("Dockerfile: release build command matches README; non-root, EXPOSE 8080, /data volume, 0.0.0.0; "
      "HEALTHCHECK passes with the server up and fails without it")
