#!/usr/bin/env python3
"""Real-browser tests of TaskBridge's web console (/admin/) and feedback widget (/widget.js).

Runs headless Chromium through Selenium against a real `taskbridge serve` delivering to the
GroupChat fake (`tb-bench fake-groupchat --control`), with two host pages (an allowed and a
disallowed widget origin) under a strict CSP. Everything listens on 127.0.0.1 on free ports;
every process is stopped and every temp dir removed at the end.

    python3 Tests/Browser/run_browser_tests.py [--bin-dir .build/debug] [--screenshots DIR]

Exit 0 when every test passes, 1 otherwise. Without chromium, chromedriver or selenium it
prints one "browser tests skipped: ..." line and exits 0 only when
TASKBRIDGE_BROWSER_TESTS_OPTIONAL=1 (else 1). See Tests/Browser/README.md.
"""

import argparse
import hashlib
import hmac
import http.server
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "Tests" / "Fixtures" / "github"
WAIT = 15  # seconds: the longest any single wait may take
GC_TOKEN = "gck_fake_workspace_key"
ISSUE_TITLE = json.loads((FIXTURES / "issues.opened.json").read_text())["issue"]["title"]
FEEDBACK = "The signup button does nothing on Safari"


# ---------------------------------------------------------------------------- prerequisites

def missing_prerequisites():
    missing = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install selenium)")
    if not find_chromium():
        missing.append("chromium")
    if not shutil.which("chromedriver"):
        missing.append("chromedriver")
    return missing


def find_chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


# ---------------------------------------------------------------------------- small helpers

class TestFailure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise TestFailure(message)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, what, timeout=WAIT, interval=0.1):
    """Polls predicate until it returns a truthy value; fails with `what` after timeout."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except TestFailure:
            raise
        except Exception as e:  # noqa: BLE001 - a transient error is retried until the deadline
            last_error = e
        if time.monotonic() >= deadline:
            suffix = f" (last error: {last_error!r})" if last_error else ""
            raise TestFailure(f"timed out after {timeout:g} s waiting for {what}{suffix}")
        time.sleep(interval)


def fetch_url(method, url, body=None, headers=None, timeout=10):
    """(status, headers, parsed JSON or text) without raising on 4xx/5xx; never follows redirects."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None and "Content-Type" not in request.headers:
        request.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            status, head, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        status, head, raw = e.code, e.headers, e.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, head, json.loads(text) if text else None
    except ValueError:
        return status, head, text


# ---------------------------------------------------------------------------- processes

class Processes:
    """Children started in their own process group; all stopped by stop_all()."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.children = []  # (name, Popen, log path)

    def start(self, name, argv, env):
        log_path = self.log_dir / f"{name}.log"
        log = open(log_path, "wb")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
        log.close()
        self.children.append((name, proc, log_path))
        return proc

    def log_tail(self, name, lines=40):
        for n, _, path in self.children:
            if n == name and path.exists():
                return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop_all(self):
        for _, proc, _ in reversed(self.children):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 5
        for _, proc, _ in reversed(self.children):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        self.children.clear()


def wait_for_port(port, proc, name):
    def accepting():
        if proc.poll() is not None:
            raise TestFailure(f"{name} exited with status {proc.returncode} before listening")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            return s.connect_ex(("127.0.0.1", port)) == 0
    wait_until(accepting, f"{name} to listen on port {port}", timeout=20)


# ---------------------------------------------------------------------------- host pages for the widget

HOST_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<script nonce="n0nce">
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {{
  window.__cspViolations.push({{ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample }});
}}, true);
</script>
</head>
<body>
<h1>{title}</h1>
<p>A page that embeds TaskBridge's feedback widget under a strict Content-Security-Policy:</p>
<pre>default-src 'none'; script-src 'nonce-...' (TaskBridge); connect-src (TaskBridge); style-src 'none'; img-src 'none'</pre>
<p>No inline styles at all, yet the widget is styled: its CSS is an adopted stylesheet in its shadow root.
Its button sits in the bottom right corner.</p>
<script src="http://127.0.0.1:{tb_port}/widget.js" data-source="widget" async nonce="n0nce"></script>
</body>
</html>
"""


def start_host_page(title, tb_port_ref):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path.split("?")[0] != "/":
                self.send_error(404)
                return
            tb_port = tb_port_ref["port"]
            body = HOST_PAGE.format(title=title, tb_port=tb_port).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header(
                "Content-Security-Policy",
                f"default-src 'none'; script-src 'nonce-n0nce' http://127.0.0.1:{tb_port}; "
                f"connect-src http://127.0.0.1:{tb_port}; style-src 'none'; img-src 'none'")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return server


# ---------------------------------------------------------------------------- the environment

class Env:
    def __init__(self, args):
        self.args = args
        self.bin_dir = Path(args.bin_dir).resolve()
        self.shots = Path(args.screenshots).resolve() if args.screenshots else None
        self.tmp = Path(tempfile.mkdtemp(prefix="taskbridge-browser-"))
        self.procs = Processes(self.tmp)
        self.pages = []
        self.driver = None
        self.gh_secret = secrets.token_hex(16)
        self.admin_token = "tba_" + secrets.token_urlsafe(24)
        self.tb_port_ref = {"port": 0}
        self.fail_dir = None
        self.state = {}

    # -- URLs
    @property
    def tb(self):
        return f"http://127.0.0.1:{self.tb_port}"

    @property
    def fake(self):
        return f"http://127.0.0.1:{self.fake_port}"

    def admin(self, path=""):
        return f"{self.tb}/admin/{path}"

    # -- setup
    def start(self):
        for name in ("taskbridge", "tb-bench"):
            check((self.bin_dir / name).exists(), f"{self.bin_dir / name} does not exist (swift build first)")
        allowed = start_host_page("Allowed host page", self.tb_port_ref)
        disallowed = start_host_page("Disallowed host page", self.tb_port_ref)
        self.pages = [allowed, disallowed]
        self.allowed_url = f"http://127.0.0.1:{allowed.server_address[1]}/"
        self.disallowed_url = f"http://127.0.0.1:{disallowed.server_address[1]}/"

        child_env = {k: v for k, v in os.environ.items() if not k.startswith("TASKBRIDGE_")}
        self.fake_port = free_port()
        fake = self.procs.start("fake-groupchat", [str(self.bin_dir / "tb-bench"), "fake-groupchat", "--control",
                                                   "--port", str(self.fake_port)], child_env)
        wait_for_port(self.fake_port, fake, "tb-bench fake-groupchat")

        rules = self.tmp / "rules"
        rules.mkdir()
        (rules / "issues.json").write_text(json.dumps({"rules": [{
            "id": "issue-task", "sources": ["github"], "events": ["issues.opened"],
            "do": [{"action": "task.create", "project": "Engineering", "stage": "todo",
                    "title": "Issue: {{ body.issue.title }}"}]}]}, indent=2))
        config = {
            "server": {"host": "127.0.0.1"},
            "sources": {
                "github": {"kind": "github", "secrets": [{"env": "TB_GH_SECRET"}]},
                "widget": {"kind": "widget", "allowedOrigins": [self.allowed_url.rstrip("/")],
                           "honeypotField": "website"},
            },
            "targets": {"groupchat": {"kind": "groupchat", "baseURL": self.fake, "token": {"env": "TB_GC_TOKEN"},
                                      "defaultProject": "Engineering",
                                      "retry": {"initialDelaySeconds": 0.2, "maxDelaySeconds": 1}}},
            "delivery": {"pollIntervalSeconds": 0.2},
            "admin": {"token": {"env": "TB_ADMIN_TOKEN"}},
            "rules": [str(REPO / "examples/github-pr-flow/rules.json"),
                      str(REPO / "examples/website-feedback/rules.json"),
                      str(rules / "issues.json")],
        }
        config_path = self.tmp / "taskbridge.json"
        config_path.write_text(json.dumps(config, indent=2))

        self.tb_port = free_port()
        self.tb_port_ref["port"] = self.tb_port
        tb_env = dict(child_env, TB_GH_SECRET=self.gh_secret, TB_ADMIN_TOKEN=self.admin_token, TB_GC_TOKEN=GC_TOKEN)
        server = self.procs.start("taskbridge", [str(self.bin_dir / "taskbridge"), "serve", "--config",
                                                 str(config_path), "--data-dir", str(self.tmp / "data"),
                                                 "--port", str(self.tb_port)], tb_env)

        def ready():
            if server.poll() is not None:
                raise TestFailure(f"taskbridge serve exited with status {server.returncode}:\n"
                                  + self.procs.log_tail("taskbridge"))
            try:
                return fetch_url("GET", f"{self.tb}/readyz", timeout=2)[0] == 200
            except OSError:
                return False
        wait_until(ready, "taskbridge GET /readyz = 200", timeout=30)
        self.start_browser()

    def start_browser(self):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = find_chromium()
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                    f"--user-data-dir={self.tmp / 'chrome'}", "--no-first-run", "--no-default-browser-check",
                    "--disable-extensions", "--disable-dev-shm-usage", "--lang=en-US"):
            options.add_argument(arg)
        service = Service(executable_path=shutil.which("chromedriver"), log_output=str(self.tmp / "chromedriver.log"))
        self.driver = webdriver.Chrome(service=service, options=options)
        self.driver.set_page_load_timeout(WAIT)
        self.driver.set_script_timeout(WAIT)
        self.color_scheme("light")
        # What the window adds around the page (headless Chromium still reserves some height).
        self.frame = self.js("return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight]")
        self.viewport(1280, 900)

    def viewport(self, width, height):
        """Sizes the window so that the page itself (window.innerWidth/Height) is width x height."""
        self.driver.set_window_size(width + self.frame[0], height + self.frame[1])

    def stop(self):
        if self.driver is not None:
            try:
                self.driver.quit()
            except Exception:  # noqa: BLE001
                pass
            self.driver = None
        for page in self.pages:
            page.shutdown()
            page.server_close()
        self.pages = []
        self.procs.stop_all()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- browser helpers
    def color_scheme(self, value):
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                                    {"features": [{"name": "prefers-color-scheme", "value": value}]})

    def wait(self, condition, what, timeout=WAIT):
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                                 ignored_exceptions=(StaleElementReferenceException,)).until(condition)
        except TimeoutException:
            raise TestFailure(f"timed out after {timeout:g} s waiting for {what} (at {self.driver.current_url})")

    def css(self, selector):
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def wait_css(self, selector, what=None, visible=False, timeout=WAIT):
        def found(_):
            els = self.css(selector)
            els = [e for e in els if e.is_displayed()] if visible else els
            return els[0] if els else False
        return self.wait(found, what or f"{selector}{' to be visible' if visible else ''}", timeout)

    def click_css(self, selector, what=None):
        """Finds and clicks; retried because the console re-renders its view every 5 s."""
        def clicked(_):
            els = self.css(selector)
            if not els:
                return False
            els[0].click()
            return True
        self.wait(clicked, what or f"{selector} to click")

    def text_of(self, selector):
        els = self.css(selector)
        return els[0].get_attribute("textContent") if els else None

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def path(self):
        return urllib.parse.urlsplit(self.driver.current_url).path

    def screenshot(self, name):
        if self.shots:
            self.shots.mkdir(parents=True, exist_ok=True)
            self.js("document.activeElement && document.activeElement.blur && "
                    "document.activeElement !== document.body && document.activeElement.blur()")
            self.driver.save_screenshot(str(self.shots / name))

    def sign_in(self, token=None):
        """Signs in through the login form (from wherever the browser is)."""
        self.driver.get(self.admin(""))
        self.wait(lambda _: self.path().endswith("/admin/login") or self.path().endswith("/admin/"),
                  "the console or the login page")
        if self.path().endswith("/admin/login"):
            field = self.wait_css("#login-form #token", visible=True)
            field.clear()
            field.send_keys(token or self.admin_token)
            self.click_css("#login-submit")
            self.wait(lambda _: self.path().endswith("/admin/"), "the console after signing in")
        self.wait_css("#events-table", "the events table")

    def signed_in(self):
        if self.driver.get_cookie("tb_session") is None or not self.path().endswith("/admin/"):
            self.sign_in()

    def route(self, hash_route):
        self.signed_in()
        self.js("location.hash = arguments[0]", hash_route)

    def check_no_page_errors(self, allow=()):
        """No uncaught exception, CSP report or other error in the browser's log since the last check
        (failed HTTP requests are left to the tests: a 401 login page or a refused POST is expected)."""
        entries = self.driver.get_log("browser")
        errors = [e["message"] for e in entries if e.get("level") == "SEVERE" and e.get("source") != "network"
                  and not any(a in e["message"] for a in allow)]
        check(not errors, f"errors in the browser console: {errors!r}")

    # -- service helpers
    def github(self, event_header, fixture):
        body = (FIXTURES / fixture).read_bytes()
        signature = "sha256=" + hmac.new(self.gh_secret.encode(), body, hashlib.sha256).hexdigest()
        status, _, answer = fetch_url("POST", f"{self.tb}/hooks/github", body, {
            "Content-Type": "application/json", "X-GitHub-Event": event_header,
            "X-GitHub-Delivery": str(uuid.uuid4()), "X-Hub-Signature-256": signature})
        check(status == 202 and isinstance(answer, dict) and answer.get("event"),
              f"POST /hooks/github ({fixture}) answered {status} {answer!r}, expected 202 with an event id")
        return answer["event"]

    def issue(self):
        return self.github("issues", "issues.opened.json")

    def api(self, method, path, body=None, headers=None):
        h = {"Authorization": f"Bearer {self.admin_token}"}
        h.update(headers or {})
        return fetch_url(method, f"{self.tb}/admin/api/{path}", body, h)

    def event_detail(self, event_id):
        status, _, detail = self.api("GET", f"events/{event_id}")
        check(status == 200, f"GET /admin/api/events/{event_id} answered {status} {detail!r}")
        return detail

    def wait_delivered(self, event_id):
        def delivered():
            detail = self.event_detail(event_id)
            return detail.get("delivery") == "delivered" and all(j.get("state") == "succeeded" for j in detail["jobs"])
        return wait_until(delivered, f"event {event_id} to be delivered, every job succeeded (admin API)")

    def fake_tasks(self):
        status, _, answer = fetch_url("GET", f"{self.fake}/_fake/tasks")
        check(status == 200, f"GET /_fake/tasks answered {status} {answer!r}")
        return answer["tasks"]

    # -- failure evidence
    def save_failure(self, name):
        if self.fail_dir is None:
            self.fail_dir = Path(tempfile.mkdtemp(prefix="taskbridge-browser-failures-"))
        try:
            if self.driver is not None:
                self.driver.save_screenshot(str(self.fail_dir / f"{name}.png"))
                (self.fail_dir / f"{name}.html").write_text(self.driver.page_source)
                try:
                    logs = self.driver.get_log("browser")
                    (self.fail_dir / f"{name}.console.json").write_text(json.dumps(logs, indent=2))
                except Exception:  # noqa: BLE001
                    pass
        except Exception as e:  # noqa: BLE001
            (self.fail_dir / f"{name}.error.txt").write_text(repr(e))
        for log in self.tmp.glob("*.log"):
            shutil.copy(log, self.fail_dir / log.name)


# ---------------------------------------------------------------------------- the tests

def seed_events(env):
    """Real fixtures of several kinds so the console pages look like a real day's traffic."""
    ids = [env.issue()]
    for header, fixture in (("ping", "ping.json"), ("push", "push.json"),
                            ("pull_request", "pull_request.opened.json"), ("issues", "issues.opened.json"),
                            ("pull_request", "pull_request.closed.json")):
        ids.append(env.github(header, fixture))
    env.state["first_event"] = ids[0]
    for event_id in (ids[0], ids[4]):
        env.wait_delivered(event_id)


def t_console_sign_in_wrong_token(env):
    env.driver.delete_all_cookies()
    env.driver.get(env.admin(""))
    env.wait(lambda _: env.path().endswith("/admin/login"), "the redirect from /admin/ to /admin/login")
    env.wait_css("#login-form #token", visible=True)
    check(not env.css("#login-error"), "#login-error is shown before any attempt")
    env.screenshot("login.png")
    env.css("#token")[0].send_keys("tba_wrong_" + secrets.token_hex(8))
    env.click_css("#login-submit")
    error = env.wait_css("#login-error", "#login-error after a wrong token", visible=True)
    check(error.text.strip(), "#login-error is empty")
    check(env.path().endswith("/admin/login"), f"after a wrong token the page is {env.driver.current_url}, "
                                               "expected /admin/login")
    check(env.driver.get_cookie("tb_session") is None, "a wrong token set the tb_session cookie")


def t_console_sign_in(env):
    env.driver.delete_all_cookies()
    env.sign_in()
    check(env.path().endswith("/admin/"), f"signed in at {env.driver.current_url}, expected /admin/")
    cookie = env.driver.get_cookie("tb_session")
    check(cookie is not None, "no tb_session cookie after signing in")
    check(cookie.get("httpOnly") is True, f"tb_session httpOnly is {cookie.get('httpOnly')!r}, expected True")
    check(cookie.get("sameSite") == "Strict", f"tb_session sameSite is {cookie.get('sameSite')!r}, expected Strict")
    nav = env.wait_css('a[data-nav="events"][aria-current="page"]', "the Events nav link marked aria-current=page")
    check(nav.is_displayed(), "the Events nav link is not visible")


def t_event_appears(env):
    env.route("#/events")
    env.wait_css("#events-table")
    env.js("window.__notReloaded = true")
    event_id = env.issue()
    env.state["appeared_event"] = event_id
    row = f'#events-table tr[data-event-id="{event_id}"]'
    env.wait_css(row, f"row {row} to appear without a reload")
    env.wait_css(f'{row} .badge[data-status="delivered"]', f"the badge of {row} to turn delivered")
    check(env.js("return window.__notReloaded === true"), "the page reloaded; the console should refresh itself")
    env.screenshot("events.png")
    env.check_no_page_errors()


def t_open_event(env):
    event_id = env.state.get("appeared_event") or env.issue()
    env.wait_delivered(event_id)
    env.route("#/events")
    env.click_css(f'#events-table tr[data-event-id="{event_id}"] td:first-child a',
                  f"the link in the first cell of event {event_id}'s row")
    section = env.wait_css(f'#event-detail[data-event-id="{event_id}"]', "#event-detail of the clicked event")
    check(env.js("return location.hash") == f"#/events/{event_id}",
          f"location.hash is {env.js('return location.hash')!r}, expected #/events/{event_id}")
    check(section.is_displayed(), "#event-detail is not visible")
    headers = (env.text_of("#event-headers") or "").lower()
    check("x-github-event" in headers, f"#event-headers does not contain x-github-event: {headers[:300]!r}")
    check(env.css("#event-payload > summary"), "#event-payload has no <summary>")
    payload = env.text_of("#event-payload pre") or ""
    check(ISSUE_TITLE in payload, f"#event-payload pre does not contain the issue title {ISSUE_TITLE!r}")
    job = env.wait_css("#event-detail article.job[data-job-id]", "a .job article")
    check(job.find_elements("css selector", "table.attempts"), ".job article has no table.attempts")
    env.wait_css('#event-detail article.job .badge[data-status="succeeded"]', "the job badge succeeded")
    env.wait_css("#event-detail article.job table.attempts tbody tr td", "an attempt row")
    env.screenshot("event.png")
    # The 5 s refresh re-renders the view but keeps the open/closed state the user gave a <details>.
    is_open = "return document.getElementById('event-payload').open"
    chosen = not env.js(is_open)
    env.click_css("#event-payload > summary")
    check(env.js(is_open) == chosen, f"clicking its summary did not {'open' if chosen else 'close'} #event-payload")
    # New data (a replay through the API adds a job), so the refresh really re-renders the view.
    jobs = len(env.css("#event-detail article.job"))
    status, _, answer = env.api("POST", f"events/{event_id}/replay")
    check(status == 200, f"POST /admin/api/events/{event_id}/replay (bearer) answered {status} {answer!r}")
    env.wait(lambda _: len(env.css("#event-detail article.job")) > jobs, "the refresh to show the replayed job")
    check(env.js(is_open) == chosen, f"#event-payload {'closed' if chosen else 'opened'} itself at the refresh "
                                     "(a re-render must keep the open/closed state the user chose)")
    env.wait_delivered(event_id)  # the replayed job too, before the next test counts the fake's tasks
    env.check_no_page_errors()


def t_dead_letter_retried(env):
    tasks_before = len(env.fake_tasks())
    status, _, answer = fetch_url("POST", f"{env.fake}/_fake/refuse", {"status": 400, "message": "Project is archived"})
    check(status in (200, 204), f"POST /_fake/refuse answered {status} {answer!r}")
    try:
        event_id = env.issue()
        env.state["dead_event"] = event_id
        env.route("#/dead-letters")
        env.wait_css("#dead-table")
        row_sel = f'#dead-table tr[data-job-id]:has(a[href="#/events/{event_id}"])'
        row = env.wait_css(row_sel, f"a #dead-table row linking to event {event_id}")
        job_id = row.get_attribute("data-job-id")
        row_sel = f'#dead-table tr[data-job-id="{job_id}"]'
        env.wait(lambda _: "Project is archived" in (env.text_of(row_sel) or ""),
                 f"{row_sel} to show the reason 'Project is archived'")
        env.screenshot("dead-letters.png")
    finally:
        status, _, answer = fetch_url("DELETE", f"{env.fake}/_fake/refuse")
    check(status in (200, 204), f"DELETE /_fake/refuse answered {status} {answer!r}")
    env.js("document.getElementById('flash').textContent = ''")
    env.click_css(f"{row_sel} .retry-job", f"the Retry button of {row_sel}")
    env.wait(lambda _: (env.text_of("#flash") or "").strip(), "#flash to say something after Retry")
    check("error" not in (env.css("#flash")[0].get_attribute("class") or ""),
          f"#flash reports an error after Retry: {env.text_of('#flash')!r}")
    env.route("#/events")
    env.wait_css(f'#events-table tr[data-event-id="{event_id}"] .badge[data-status="delivered"]',
                 f"event {event_id}'s badge to turn delivered after the retry")
    tasks = wait_until(lambda: (lambda t: t if len(t) == tasks_before + 1 else None)(env.fake_tasks()),
                       f"the fake to hold {tasks_before + 1} tasks")
    check(tasks[-1].get("title") == f"Issue: {ISSUE_TITLE}",
          f"the new task's title is {tasks[-1].get('title')!r}, expected 'Issue: {ISSUE_TITLE}'")
    env.check_no_page_errors()


def t_replay(env):
    event_id = env.state.get("first_event") or env.issue()
    env.wait_delivered(event_id)
    jobs_before = len(env.event_detail(event_id)["jobs"])
    env.route(f"#/events/{event_id}")
    env.wait_css(f'#event-detail[data-event-id="{event_id}"]')
    env.js("document.getElementById('flash').textContent = ''")
    env.click_css("#replay-event")
    env.wait(lambda _: "replay" in (env.text_of("#flash") or "").lower(), "#flash to mention the replay")
    check("error" not in (env.css("#flash")[0].get_attribute("class") or ""),
          f"#flash reports an error after Replay: {env.text_of('#flash')!r}")
    jobs_after = len(env.event_detail(event_id)["jobs"])
    check(jobs_after > jobs_before, f"event {event_id} has {jobs_after} jobs after the replay, {jobs_before} before")
    env.wait(lambda _: len(env.css("#event-detail article.job")) == jobs_after,
             f"{jobs_after} .job articles in #event-detail after the replay")
    env.wait_delivered(event_id)
    env.check_no_page_errors()


def t_targets_and_rules(env):
    env.route("#/targets")
    env.wait_css('#targets-table tr[data-target="groupchat"]', "the groupchat row in #targets-table")
    env.wait_css('a[data-nav="targets"][aria-current="page"]', "the Targets nav link marked current")
    env.screenshot("targets.png")
    env.route("#/rules")
    env.wait_css("#rules-table")
    env.wait(lambda _: "issue-task" in (env.text_of("#rules-table") or ""), "#rules-table to list issue-task")
    check((env.text_of("#rules-version") or "").strip(), "#rules-version is empty")
    check(not env.css("#rules-reload-error"), "#rules-reload-error is shown without a reload error")
    env.screenshot("rules.png")
    env.check_no_page_errors()


def t_csrf_refused(env):
    env.route("#/events")
    result = env.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/admin/api/dead-letters/retry', {method: 'POST', credentials: 'same-origin'})
          .then((r) => done(r.status), (e) => done('error: ' + e));""")
    check(result == 403, f"a POST from the signed-in page without X-CSRF-Token answered {result!r}, expected 403")
    cookie = env.driver.get_cookie("tb_session")["value"]
    url = f"{env.tb}/admin/api/dead-letters/retry"
    status, _, answer = fetch_url("POST", url, b"", {"Cookie": f"tb_session={cookie}"})
    check(status == 403, f"urllib POST with only the cookie answered {status} {answer!r}, expected 403")
    check(isinstance(answer, dict) and isinstance(answer.get("error"), str),
          f"the 403 body is {answer!r}, expected {{\"error\": ...}}")
    status, _, answer = fetch_url("POST", url, b"", {"Cookie": f"tb_session={cookie}", "X-CSRF-Token": "wrong-token"})
    check(status == 403, f"urllib POST with a wrong X-CSRF-Token answered {status} {answer!r}, expected 403")
    # The control: the same request with the session's own token is accepted.
    status, _, session = fetch_url("GET", f"{env.tb}/admin/api/session", headers={"Cookie": f"tb_session={cookie}"})
    check(status == 200 and session.get("csrfToken"), f"GET /admin/api/session answered {status} {session!r}")
    status, _, answer = fetch_url("POST", url, b"", {"Cookie": f"tb_session={cookie}", "X-CSRF-Token": session["csrfToken"]})
    check(status == 200, f"urllib POST with the right X-CSRF-Token answered {status} {answer!r}, expected 200")


def t_sign_out(env):
    env.route("#/events")
    old = env.driver.get_cookie("tb_session")["value"]
    env.wait(lambda _: env.css('#sign-out-form input[name="csrf"]')[0].get_attribute("value"),
             "the sign-out form's csrf input to be filled")
    env.click_css("#sign-out")
    env.wait(lambda _: env.path().endswith("/admin/login"), "/admin/login after signing out")
    env.driver.get(env.admin(""))
    env.wait(lambda _: env.path().endswith("/admin/login"), "/admin/ to redirect to /admin/login after sign-out")
    status, _, answer = fetch_url("GET", f"{env.tb}/admin/api/events", headers={"Cookie": f"tb_session={old}"})
    check(status == 401, f"GET /admin/api/events with the signed-out cookie answered {status}, expected 401")


def open_widget_page(env, url):
    env.driver.get(url)
    host = env.wait_css("#taskbridge-widget", "the widget's host element #taskbridge-widget")
    root = env.wait(lambda _: host.shadow_root, "the open shadow root of #taskbridge-widget")
    launch = env.wait(lambda _: root.find_element("css selector", ".tb-launch"), ".tb-launch in the shadow root")
    return host, root, launch


def fill_and_send(env, url, shot=None):
    host, root, launch = open_widget_page(env, url)
    launch.click()
    message = env.wait(lambda _: (lambda e: e if e.is_displayed() else False)(
        root.find_element("css selector", 'textarea[name="message"]')), "the message textarea to be visible")
    message.send_keys(FEEDBACK)
    root.find_element("css selector", 'input[name="name"]').send_keys("Ada Lovelace")
    root.find_element("css selector", 'input[name="email"]').send_keys("ada@example.com")
    if shot:
        env.screenshot(shot)
    root.find_element("css selector", ".tb-send").click()
    status = root.find_element("css selector", ".tb-status")
    env.wait(lambda _: status.text.strip() and not status.text.startswith("Sending"), ".tb-status to show a result")
    return host, root, launch, status.text.strip()


def check_host_page_clean(env, launch):
    violations = env.js("return window.__cspViolations")
    check(violations == [], f"CSP violations on the host page: {violations!r}")
    names = env.js("return Object.keys(window).filter(k => k.toLowerCase().includes('taskbridge'))")
    check(names == ["TaskBridgeWidget"], f"window's taskbridge globals are {names!r}, expected ['TaskBridgeWidget']")
    position = env.js("return getComputedStyle(arguments[0]).position", launch)
    check(position == "fixed", f"the launcher's computed position is {position!r}, expected fixed "
                               "(the widget's styles did not apply under the host CSP)")


def t_widget_allowed_origin(env):
    before = len(env.fake_tasks())
    _, _, launch, text = fill_and_send(env, env.allowed_url, shot="widget.png")
    check(text.startswith("Thanks"), f".tb-status says {text!r}, expected it to start with 'Thanks'")
    tasks = wait_until(lambda: [t for t in env.fake_tasks()[before:]
                                if str(t.get("title", "")).startswith("Feedback: The signup button")],
                       "a task titled 'Feedback: The signup button…' at the fake")
    check(len(tasks) == 1, f"{len(tasks)} feedback tasks at the fake, expected 1")
    check_host_page_clean(env, launch)
    env.check_no_page_errors()


def t_widget_disallowed_origin(env):
    before = len(env.fake_tasks())
    _, _, launch, text = fill_and_send(env, env.disallowed_url)
    check("not allowed" in text or "unreachable" in text,
          f".tb-status says {text!r}, expected the 'not allowed … or unreachable' error")
    deadline = time.monotonic() + 1.0  # a task would show up well within this (delivery polls every 0.2 s)
    while time.monotonic() < deadline:
        count = len(env.fake_tasks())
        check(count == before, f"the fake has {count - before} new task(s) after a disallowed origin's feedback")
        time.sleep(0.2)
    check_host_page_clean(env, launch)
    env.check_no_page_errors(allow=("blocked by CORS policy",))


def t_widget_keyboard(env):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    host, root, launch = open_widget_page(env, env.allowed_url)
    env.js("arguments[0].focus()", launch)
    check(env.js("return arguments[0].shadowRoot.activeElement === arguments[1]", host, launch),
          "the launcher did not take focus")
    ActionChains(env.driver).send_keys(Keys.ENTER).perform()
    dialog = root.find_element("css selector", "dialog.tb-dialog")
    env.wait(lambda _: env.js("return arguments[0].open", dialog), "the dialog to open on Enter")
    env.wait(lambda _: env.js("const a = arguments[0].shadowRoot.activeElement; return !!a && arguments[1].contains(a)",
                              host, dialog), "focus inside the dialog")
    ActionChains(env.driver).send_keys(Keys.ESCAPE).perform()
    env.wait(lambda _: not env.js("return arguments[0].open", dialog), "the dialog to close on Escape")
    env.wait(lambda _: env.js("return document.activeElement === arguments[0] && "
                              "arguments[0].shadowRoot.activeElement === arguments[1]", host, launch),
             "the launcher to have focus again after Escape")
    violations = env.js("return window.__cspViolations")
    check(violations == [], f"CSP violations on the host page: {violations!r}")
    env.check_no_page_errors()


def t_console_mobile_dark(env):
    env.viewport(390, 844)
    env.color_scheme("dark")
    try:
        inner = env.js("return window.innerWidth")
        check(inner <= 400, f"window.innerWidth is {inner} after sizing the window to 390 x 844")
        check(env.js("return matchMedia('(prefers-color-scheme: dark)').matches"), "dark mode is not emulated")
        env.driver.delete_all_cookies()
        env.sign_in()
        env.wait_css("#events-table tr[data-event-id]", "event rows on the phone")
        widths = env.js("return [document.documentElement.scrollWidth, window.innerWidth]")
        check(widths[0] <= widths[1] + 1,
              f"the page overflows sideways on a phone: scrollWidth {widths[0]} > innerWidth {widths[1]}")
        env.screenshot("events-mobile-dark.png")
        env.check_no_page_errors()
    finally:
        env.color_scheme("light")
        env.viewport(1280, 900)


def t_console_keyboard(env):
    """The console without a mouse: the skip link, the nav, and focus on each new page."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    env.route("#/events")
    env.driver.refresh()  # a fresh page: Tab starts from the top
    env.wait_css("#events-table")
    ActionChains(env.driver).send_keys(Keys.TAB).perform()
    check(env.js("return document.activeElement.classList.contains('skip')"),
          f"the first Tab does not reach the skip link (focus on {env.js('return document.activeElement.outerHTML.slice(0, 120)')!r})")
    ActionChains(env.driver).send_keys(Keys.ENTER).perform()
    env.wait(lambda _: env.js("return document.activeElement.id") == "main", "Enter on the skip link to focus #main")
    check(env.path().endswith("/admin/") and env.js("return location.hash").startswith("#/events"),
          f"the skip link changed the page: {env.driver.current_url}")
    # Tab from the skip link to the Dead letters link, then Enter: a real link, reachable by keyboard.
    env.js("document.querySelector('.skip').focus()")
    for _ in range(12):
        ActionChains(env.driver).send_keys(Keys.TAB).perform()
        if env.js("return document.activeElement.dataset.nav === 'dead-letters'"):
            break
    check(env.js("return document.activeElement.dataset.nav === 'dead-letters'"), "Tab never reached the Dead letters link")
    outline = env.js("return getComputedStyle(document.activeElement).outlineStyle")
    check(outline not in ("none", ""), f"the focused link shows no outline (outline-style {outline!r})")
    ActionChains(env.driver).send_keys(Keys.ENTER).perform()
    env.wait_css("#dead-table", "the dead letters page after Enter on its link")
    env.wait(lambda _: env.js("return document.activeElement.id") == "main", "focus on #main after the route change")
    env.wait_css('a[data-nav="dead-letters"][aria-current="page"]', "the Dead letters link marked current")
    env.check_no_page_errors()


TESTS = [
    ("console_sign_in_wrong_token", t_console_sign_in_wrong_token),
    ("console_sign_in", t_console_sign_in),
    ("event_appears", t_event_appears),
    ("open_event", t_open_event),
    ("dead_letter_retried", t_dead_letter_retried),
    ("replay", t_replay),
    ("targets_and_rules", t_targets_and_rules),
    ("csrf_refused", t_csrf_refused),
    ("sign_out", t_sign_out),
    ("widget_allowed_origin", t_widget_allowed_origin),
    ("widget_disallowed_origin", t_widget_disallowed_origin),
    ("widget_keyboard", t_widget_keyboard),
    ("console_mobile_dark", t_console_mobile_dark),
    ("console_keyboard", t_console_keyboard),
]


# ---------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", default=str(REPO / ".build" / "debug"),
                        help="where taskbridge and tb-bench are (default: .build/debug)")
    parser.add_argument("--screenshots", metavar="DIR", help="also save the docs screenshots into DIR")
    parser.add_argument("-k", metavar="NAME", action="append", help="run only the tests whose name contains NAME")
    args = parser.parse_args()

    missing = missing_prerequisites()
    if missing:
        print(f"browser tests skipped: {', '.join(missing)} missing")
        return 0 if os.environ.get("TASKBRIDGE_BROWSER_TESTS_OPTIONAL") == "1" else 1

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored (`cmd &`)

    started = time.monotonic()
    env = Env(args)
    results = []
    try:
        try:
            env.start()
            seed_events(env)
        except Exception as e:  # noqa: BLE001
            print(f"FAIL setup: {e}")
            if not isinstance(e, TestFailure):
                traceback.print_exc()
            env.save_failure("setup")
            print(f"failure evidence (screenshot, page source, logs): {env.fail_dir}")
            return 1
        for name, test in TESTS:
            if args.k and not any(k in name for k in args.k):
                continue
            t0 = time.monotonic()
            try:
                env.driver.get_log("browser")  # what earlier tests logged is theirs
                test(env)
                results.append((name, None))
                print(f"ok {name} ({time.monotonic() - t0:.1f} s)", flush=True)
            except Exception as e:  # noqa: BLE001
                why = str(e) if isinstance(e, TestFailure) else f"{type(e).__name__}: {e}".strip()
                why = " ".join(why.split())[:600]
                results.append((name, why))
                print(f"FAIL {name}: {why}", flush=True)
                env.save_failure(name)
    except KeyboardInterrupt:
        print("interrupted")
        return 1
    finally:
        env.stop()
    failed = [n for n, why in results if why]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed in {time.monotonic() - started:.1f} s"
          + (f": {', '.join(failed)}" if failed else ""))
    if env.fail_dir:
        print(f"failure evidence (screenshots, page sources, server logs): {env.fail_dir}")
    if env.shots and not failed:
        print(f"screenshots in {env.shots}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
