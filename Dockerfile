# TaskBridge container image: a release build on the official Swift image, run on
# debian:bookworm-slim as the non-root user taskbridge (uid 10001).
#
# Build:
#   docker build -t taskbridge .
#
# Run (secrets in an env file; the SQLite store in a named volume; the port
# published on loopback only, for a reverse proxy on the same host):
#   docker run -d --name taskbridge --restart unless-stopped \
#     --env-file taskbridge.env -v taskbridge-data:/data -p 127.0.0.1:8080:8080 taskbridge
#
#   taskbridge.env holds the variables the config references: GITHUB_WEBHOOK_SECRET,
#   SENTRY_CLIENT_SECRET, GROUPCHAT_TOKEN, GROUPCHAT_WORKSPACE_ID and TASKBRIDGE_ADMIN_TOKEN.
#
# Own config and rules: -v "$PWD/config:/app/config:ro". Rule globs are relative
# to the config file, and the image's example rules are in /app/examples. Other
# commands: docker run --rm taskbridge check (or test, --help, …).
#
# Behind a proxy: with -p, connections reach the container from the Docker bridge
# gateway (often 172.17.0.1), not from 127.0.0.1. List that address in
# server.trustedProxies, or TaskBridge ignores the proxy's X-Forwarded-For and
# Forwarded headers. See examples/proxy/.

# ---- build --------------------------------------------------------------------------
# Swift 6.3: the resolved hummingbird, async-http-client, swift-log and others declare
# swift-tools-version 6.2, so a Swift 6.1 image cannot build this package.
FROM swift:6.3-bookworm AS build
WORKDIR /src

# Dependencies first: this layer is rebuilt only when the manifest changes. The
# optional Package.resolved (it is not committed) pins the versions tested locally.
COPY Package.* ./
RUN swift package resolve

# Tests/ is copied too: SwiftPM refuses to load a manifest whose declared target
# directories are missing, even when it builds only the taskbridge product.
COPY Sources/ Sources/
COPY Tests/ Tests/
# Keep this command in sync with the release build command in README.md.
RUN swift build -c release --product taskbridge --static-swift-stdlib

RUN mkdir /staging \
    && cp "$(swift build -c release --show-bin-path)/taskbridge" /staging/ \
    && cp /usr/libexec/swift/linux/swift-backtrace-static /staging/

# ---- run ----------------------------------------------------------------------------
FROM debian:bookworm-slim

# With --static-swift-stdlib the Swift runtime, Foundation and its ICU data are
# linked in. The binary still needs glibc, libstdc++, libgcc_s and zlib (NIO's HTTP
# decompression), all of which are in bookworm-slim already; they are named here so
# the dependency is written down. TaskBridge does not link FoundationNetworking or
# FoundationXML, so it needs no libcurl and no libxml2. It needs ca-certificates to
# verify HTTPS targets such as https://groupchat.ai. curl is not installed; the
# health check below uses bash.
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends ca-certificates libstdc++6 libgcc-s1 zlib1g \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid 10001 taskbridge \
    && useradd --uid 10001 --gid taskbridge --no-log-init --no-create-home \
        --home-dir /data --shell /usr/sbin/nologin taskbridge \
    && mkdir /data \
    && chown taskbridge:taskbridge /data \
    && chmod 0750 /data

WORKDIR /app
# Root owns these files and the service cannot write them. The service writes only
# to /data.
COPY --from=build /staging/taskbridge /staging/swift-backtrace-static /app/
COPY config/ /app/config/
COPY examples/ /app/examples/

# serve: flags > these variables > config/taskbridge.json > defaults.
ENV TASKBRIDGE_HOST=0.0.0.0 \
    TASKBRIDGE_PORT=8080 \
    TASKBRIDGE_DATA_DIR=/data \
    SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/app/swift-backtrace-static

# A named volume starts with the ownership set above. A bind-mounted host
# directory must be writable by uid 10001.
VOLUME ["/data"]
EXPOSE 8080

# GET /healthz over bash's /dev/tcp, so no curl or wget is needed. The check
# follows TASKBRIDGE_PORT. If you change the port with --port instead, or bind
# TASKBRIDGE_HOST to an address other than 0.0.0.0 or 127.0.0.1, change this check too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${TASKBRIDGE_PORT:-8080} && printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && IFS= read -r -t 4 status <&3 && [[ $status == 'HTTP/1.1 200'* ]]"]

USER taskbridge
ENTRYPOINT ["/app/taskbridge"]
CMD ["serve"]
