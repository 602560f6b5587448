#!/usr/bin/env bash
# Proxy smoke test: TaskBridge behind the example nginx config, under /taskbridge/.
#
#   scripts/proxy-smoke.sh [path/to/taskbridge]     (default: .build/debug/taskbridge)
#
# Runs a real TaskBridge and a real nginx on loopback as the current user. All of
# their files live in one temporary directory. The script sends signed GitHub
# webhooks through nginx and reads them back through the admin API on TaskBridge's own
# address (nginx refuses the admin API and /metrics). It needs bash,
# curl and python3. If nginx is missing, it installs it with apt-get.
#
# The nginx directives are not copied here: the script includes the lines between the
# ">>> taskbridge:" markers of examples/proxy/nginx.conf word for word and changes
# only the upstream port. A change to the example is therefore tested by this script.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${1:-.build/debug/taskbridge}
example="$repo/examples/proxy/nginx.conf"

fail() { echo "proxy smoke test: FAILED: $*" >&2; exit 1; }

[[ -x $bin ]] || fail "no executable taskbridge at $bin (build it, or pass its path as the first argument)"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
command -v curl >/dev/null || fail "curl is required"
command -v python3 >/dev/null || fail "python3 is required"

if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
    echo "installing nginx…"
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nginx >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/taskbridge-proxy-smoke.XXXXXX")
tb_pid=""
nginx_pid=""
cleanup() {
    local status=$?
    set +e
    if [[ -n $nginx_pid ]]; then kill "$nginx_pid" 2>/dev/null; wait "$nginx_pid" 2>/dev/null; fi
    if [[ -n $tb_pid ]]; then kill "$tb_pid" 2>/dev/null; wait "$tb_pid" 2>/dev/null; fi
    if [[ $status -ne 0 ]]; then
        for log in taskbridge.log nginx-error.log nginx-access.log; do
            [[ -s $tmp/$log ]] && { echo "--- $log (last 20 lines)" >&2; tail -n 20 "$tmp/$log" >&2; }
        done
        echo "files kept in $tmp" >&2
    else
        rm -rf "$tmp"
    fi
    exit "$status"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
tb_port=$(free_port)
nginx_port=$(free_port)
[[ $tb_port != "$nginx_port" ]] || nginx_port=$(free_port)

# --- TaskBridge -------------------------------------------------------------------
TB_SMOKE_GITHUB_SECRET="smoke-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
TB_SMOKE_ADMIN_TOKEN="admin-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
export TB_SMOKE_GITHUB_SECRET TB_SMOKE_ADMIN_TOKEN
unset TB_SMOKE_GROUPCHAT_TOKEN   # no token: nothing could be delivered (and no rule plans anything)

cat >"$tmp/taskbridge.json" <<'JSON'
{
  "server": {
    "pathPrefix": "/taskbridge",
    "trustedProxies": ["127.0.0.1/32"]
  },
  "sources": {
    "github": { "kind": "github", "secrets": [{ "env": "TB_SMOKE_GITHUB_SECRET" }] },
    "widget": { "kind": "widget", "allowedOrigins": ["https://www.example.com"] }
  },
  "targets": {
    "groupchat": {
      "kind": "groupchat",
      "baseURL": "http://127.0.0.1:9",
      "token": { "env": "TB_SMOKE_GROUPCHAT_TOKEN" },
      "workspaceId": "smoke"
    }
  },
  "admin": { "token": { "env": "TB_SMOKE_ADMIN_TOKEN" } },
  "rules": []
}
JSON

"$bin" serve --config "$tmp/taskbridge.json" --host 127.0.0.1 --port "$tb_port" \
    --data-dir "$tmp/data" --log-level info >"$tmp/taskbridge.log" 2>&1 &
tb_pid=$!

# --- nginx ------------------------------------------------------------------------
# Extract the marked regions of the example. The only change is the upstream address.
region() { awk -v name="$1" '$0 ~ "# <<< taskbridge:" name {f=0} f {print} $0 ~ "# >>> taskbridge:" name {f=1}' "$example"; }
region http >"$tmp/taskbridge-http.conf"
region server >"$tmp/taskbridge-server.conf"
[[ $(grep -c 'server 127\.0\.0\.1:8080;' "$tmp/taskbridge-http.conf") -eq 1 ]] \
    || fail "$example: expected exactly one 'server 127.0.0.1:8080;' between the taskbridge:http markers"
grep -q 'location /taskbridge/' "$tmp/taskbridge-server.conf" \
    || fail "$example: no 'location /taskbridge/' between the taskbridge:server markers"
sed -i "s/server 127\.0\.0\.1:8080;/server 127.0.0.1:$tb_port;/" "$tmp/taskbridge-http.conf"

mkdir -p "$tmp/nginx"
user_line=""
[[ $(id -u) -eq 0 ]] && user_line="user root;"   # as root, workers would otherwise become nobody
cat >"$tmp/nginx.conf" <<EOF
$user_line
daemon off;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log notice;
events { worker_connections 64; }
http {
    access_log $tmp/nginx-access.log;
    client_body_temp_path $tmp/nginx/client_body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    default_type application/octet-stream;

    include $tmp/taskbridge-http.conf;

    server {
        listen 127.0.0.1:$nginx_port;
        server_name localhost;
        include $tmp/taskbridge-server.conf;
    }
}
EOF
"$nginx_bin" -t -q -e "$tmp/nginx-error.log" -p "$tmp" -c "$tmp/nginx.conf" || fail "nginx rejected the generated config"
"$nginx_bin" -e "$tmp/nginx-error.log" -p "$tmp" -c "$tmp/nginx.conf" &
nginx_pid=$!

# --- wait until both answer -------------------------------------------------------
direct="http://127.0.0.1:$tb_port"
proxied="http://127.0.0.1:$nginx_port/taskbridge"
wait_for() {   # url, process id, name
    for _ in $(seq 1 150); do
        kill -0 "$2" 2>/dev/null || fail "$3 exited during startup"
        [[ $(curl -s -o /dev/null -w '%{http_code}' "$1" || true) == 200 ]] && return 0
        sleep 0.2
    done
    fail "$3 did not answer 200 at $1 within 30 s"
}
wait_for "$direct/readyz" "$tb_pid" taskbridge
wait_for "$proxied/healthz" "$nginx_pid" nginx

# --- helpers ------------------------------------------------------------------------
body="$tmp/ping.json"
if [[ -f $repo/Tests/Fixtures/github/ping.json ]]; then
    cp "$repo/Tests/Fixtures/github/ping.json" "$body"
else
    printf '{"zen":"Keep it logically awesome.","hook_id":1,"hook":{"type":"Repository","id":1,"events":["*"]}}' >"$body"
fi
signature=$(python3 -c 'import hashlib, hmac, os, sys
print("sha256=" + hmac.new(os.environ["TB_SMOKE_GITHUB_SECRET"].encode(), open(sys.argv[1], "rb").read(), hashlib.sha256).hexdigest())' "$body")

# post_ping <delivery id> <signature> <output file> [extra curl arguments…] → prints the status code
post_ping() {
    local delivery=$1 sig=$2 out=$3
    shift 3
    curl -sS -o "$out" -w '%{http_code}' -X POST "$proxied/hooks/github" \
        -H 'Content-Type: application/json' -H 'User-Agent: GitHub-Hookshot/smoke' \
        -H 'X-GitHub-Event: ping' -H "X-GitHub-Delivery: $delivery" -H "X-Hub-Signature-256: $sig" \
        --data-binary @"$body" "$@"
}

# json <file> <python expression over `d`> → prints the value (fails on bad JSON)
json() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# The admin API is not served through nginx: read it on TaskBridge's own address.
admin_get() {   # path, output file → prints the status code
    curl -sS -o "$2" -w '%{http_code}' -H "Authorization: Bearer $TB_SMOKE_ADMIN_TOKEN" "$direct/taskbridge/admin/api$1"
}

# expect_client_ip <delivery> <expected address> <why>: the event is listed through the
# admin API, and its detail records the expected client address.
expect_client_ip() {
    local delivery=$1 want=$2 why=$3 id got
    [[ $(admin_get "/events?source=github" "$tmp/events.json") == 200 ]] || fail "GET /admin/api/events did not answer 200: $(cat "$tmp/events.json")"
    id=$(json "$tmp/events.json" "next((e['id'] for e in d['events'] if e['dedupeKey'] == '$delivery'), '')")
    [[ -n $id ]] || fail "event with delivery $delivery is not in GET /admin/api/events: $(cat "$tmp/events.json")"
    [[ $(admin_get "/events/$id" "$tmp/event.json") == 200 ]] || fail "GET /admin/api/events/$id did not answer 200: $(cat "$tmp/event.json")"
    got=$(json "$tmp/event.json" "d['clientIp']")
    [[ $got == "$want" ]] || fail "event $id ($why): clientIp is $got, expected $want"
    echo "ok: $why → clientIp $got"
}

# TaskBridge reads only X-Forwarded-For (server.forwardedHeader defaults to
# "x-forwarded-for"), which nginx appends to. It walks the list from the right, and the
# first address that is not in trustedProxies (127.0.0.1/32 here) is the client.

# --- 1. a signed ping through nginx ---------------------------------------------------
# nginx sends "X-Forwarded-For: 127.0.0.1" (the address curl connects from).
code=$(post_ping smoke-1 "$signature" "$tmp/r1.json")
[[ $code == 202 ]] || fail "signed ping through nginx: HTTP $code, expected 202: $(cat "$tmp/r1.json")"
[[ $(json "$tmp/r1.json" "d['duplicate']") == False ]] || fail "signed ping: unexpected body $(cat "$tmp/r1.json")"
echo "ok: signed ping through nginx → 202"
expect_client_ip smoke-1 127.0.0.1 "client 127.0.0.1"

# --- 2. a client's own Forwarded header does not count ---------------------------------
# nginx only appends to X-Forwarded-For and removes the client's Forwarded header, and
# TaskBridge reads X-Forwarded-For alone, so the claimed 198.51.100.9 is never believed.
code=$(post_ping smoke-2 "$signature" "$tmp/r2.json" -H 'Forwarded: for=198.51.100.9')
[[ $code == 202 ]] || fail "signed ping with a Forwarded header: HTTP $code: $(cat "$tmp/r2.json")"
expect_client_ip smoke-2 127.0.0.1 "client 127.0.0.1 sending its own Forwarded header"

# --- 3. a client that is not a trusted proxy cannot forge its address -------------------
# Linux routes all of 127.0.0.0/8 to loopback, so curl can connect from 127.0.0.2, which
# is not in trustedProxies. nginx sends "X-Forwarded-For: 203.0.113.50, 127.0.0.2". The
# walk starts at the nearest hop 127.0.0.2, which is untrusted, and stops there.
if curl -s -o /dev/null --interface 127.0.0.2 "$proxied/healthz" 2>/dev/null; then
    code=$(post_ping smoke-3 "$signature" "$tmp/r3.json" --interface 127.0.0.2 \
        -H 'X-Forwarded-For: 203.0.113.50' -H 'Forwarded: for=203.0.113.51')
    [[ $code == 202 ]] || fail "signed ping from 127.0.0.2: HTTP $code: $(cat "$tmp/r3.json")"
    expect_client_ip smoke-3 127.0.0.2 "untrusted client 127.0.0.2 forging X-Forwarded-For and Forwarded"
else
    echo "skipped: cannot connect from 127.0.0.2 on this system (untrusted-client check)"
fi

# --- 4. a trusted hop's claim is believed -----------------------------------------------
# From 127.0.0.1 (trusted, as a CDN in front of nginx would be) an X-Forwarded-For entry
# is believed: nginx sends "198.51.100.7, 127.0.0.1". The walk skips the trusted
# 127.0.0.1 and stops at 198.51.100.7. This is why trustedProxies must list only proxies.
code=$(post_ping smoke-4 "$signature" "$tmp/r4.json" -H 'X-Forwarded-For: 198.51.100.7')
[[ $code == 202 ]] || fail "signed ping with an X-Forwarded-For hop: HTTP $code: $(cat "$tmp/r4.json")"
expect_client_ip smoke-4 198.51.100.7 "trusted hop 127.0.0.1 forwarding for 198.51.100.7"

# --- 5. a bad signature is refused with a JSON error ----------------------------------
bad="sha256=$(printf '0%.0s' $(seq 1 64))"
code=$(post_ping smoke-5 "$bad" "$tmp/r5.json")
[[ $code == 401 ]] || fail "bad signature through nginx: HTTP $code, expected 401: $(cat "$tmp/r5.json")"
error=$(json "$tmp/r5.json" "d['error']") || fail "bad signature: body is not a JSON error: $(cat "$tmp/r5.json")"
[[ -n $error ]] || fail "bad signature: empty error message"
echo "ok: bad signature through nginx → 401 {\"error\": \"$error\"}"

# --- 6. the admin API and metrics are not served through the proxy --------------------
# Even with the right token, and however the path is spelled (nginx matches locations
# on the normalized path). Directly, on TaskBridge's own address, they work.
expect_refused() {   # status, path as sent, why
    local want=$1 path=$2 why=$3 code
    code=$(curl -sS --path-as-is -o "$tmp/refused.json" -w '%{http_code}' \
        -H "Authorization: Bearer $TB_SMOKE_ADMIN_TOKEN" "http://127.0.0.1:$nginx_port$path")
    [[ $code == "$want" ]] || fail "$why ($path) through nginx: HTTP $code, expected $want: $(head -c 300 "$tmp/refused.json")"
    json "$tmp/refused.json" "d['error']" >/dev/null || fail "$why: refusal is not a JSON error: $(head -c 300 "$tmp/refused.json")"
    echo "ok: $why through nginx → $code"
}
expect_refused 403 /taskbridge/admin/api/events "admin API"
expect_refused 403 /taskbridge/admin/api/events/x/../../events "admin API via dot segments"
expect_refused 403 /taskbridge/%61dmin/api/events "admin API, percent-encoded"
expect_refused 403 //taskbridge//admin/api/events "admin API with doubled slashes"
expect_refused 403 /taskbridge/hooks/../admin/api/events "admin API via /hooks/.."
expect_refused 403 /taskbridge/metrics "metrics"
expect_refused 403 /taskbridge/metrics/ "metrics with a slash"
expect_refused 403 /taskbridge/admin/ "console"
expect_refused 403 /taskbridge/admin/login "console sign-in"
expect_refused 404 /taskbridge/nope "unknown path"

# --- 6b. the widget's script is public, cached and revalidated --------------------------
code=$(curl -sS -D "$tmp/widget.headers" -o "$tmp/widget.js" -w '%{http_code}' "$proxied/widget.js")
[[ $code == 200 ]] || fail "/widget.js through nginx: HTTP $code, expected 200"
grep -qi '^content-type: text/javascript' "$tmp/widget.headers" || fail "/widget.js through nginx: not text/javascript: $(cat "$tmp/widget.headers")"
etag=$(awk 'tolower($1) == "etag:" {print $2}' "$tmp/widget.headers" | tr -d '\r')
[[ -n $etag ]] || fail "/widget.js through nginx has no ETag: $(cat "$tmp/widget.headers")"
grep -q 'TaskBridgeWidget' "$tmp/widget.js" || fail "/widget.js through nginx is not the widget"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$proxied/widget.js")
[[ $code == 304 ]] || fail "/widget.js with If-None-Match $etag through nginx: HTTP $code, expected 304"
echo "ok: /widget.js through nginx → 200 with ETag $etag, then 304"
[[ $(curl -sS -o /dev/null -w '%{http_code}' "$proxied/readyz") == 200 ]] || fail "/readyz through nginx did not answer 200"
echo "ok: /healthz and /readyz through nginx → 200"
[[ $(curl -sS -o /dev/null -w '%{http_code}' "$direct/taskbridge/admin/api/events") == 401 ]] \
    || fail "admin API on TaskBridge's own address without a token did not answer 401"
[[ $(admin_get "/events" "$tmp/direct.json") == 200 ]] || fail "admin API on TaskBridge's own address with the token did not answer 200"
[[ $(curl -sS -o /dev/null -w '%{http_code}' "$direct/metrics") == 200 ]] || fail "/metrics on TaskBridge's own address did not answer 200"
echo "ok: admin API and /metrics on TaskBridge's own address → 401 without token, 200"

# --- 7. nginx's own refusals are JSON too ---------------------------------------------
head -c $((25 * 1024 * 1024 + 1)) /dev/zero >"$tmp/big.bin"
code=$(curl -sS -o "$tmp/r7.json" -w '%{http_code}' -X POST "$proxied/hooks/github" \
    -H 'Content-Type: application/json' --data-binary @"$tmp/big.bin" || true)
[[ $code == 413 ]] || fail "25 MiB + 1 byte body: HTTP $code, expected 413 from nginx"
json "$tmp/r7.json" "d['error']" >/dev/null || fail "nginx 413 is not a JSON error: $(head -c 300 "$tmp/r7.json")"
echo "ok: body over 25 MiB → 413 JSON from nginx"

kill "$tb_pid"
wait "$tb_pid" 2>/dev/null || true   # exits non-zero after SIGTERM
tb_pid=""
code=$(post_ping smoke-8 "$signature" "$tmp/r8.json")
[[ $code == 503 ]] || fail "TaskBridge stopped: HTTP $code through nginx, expected 503"
json "$tmp/r8.json" "d['error']" >/dev/null || fail "nginx 503 is not a JSON error: $(head -c 300 "$tmp/r8.json")"
echo "ok: TaskBridge down → 503 JSON from nginx"

echo "proxy smoke test: ok"
