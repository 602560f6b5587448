#!/usr/bin/env python3
"""Validates TaskBridge's JSON Schemas (config/schema/*.schema.json).

1. Both schemas are valid draft 2020-12 schemas and every property has a description.
2. config/taskbridge.json validates against config.schema.json.
3. Every examples/*/rules.json validates against rules.schema.json, and every
   examples/*/taskbridge.json against config.schema.json.
4. Inline positive cases must be accepted, inline negative cases (one typo or wrong
   type each) must be rejected.

Exits non-zero and names every failing check. Needs the `jsonschema` package (>= 4.18).
"""

import copy
import glob
import json
import os
import sys

try:
    from jsonschema import Draft202012Validator
except ImportError:  # pragma: no cover
    sys.exit("validate-schemas: the `jsonschema` package is required (pip install jsonschema)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_SCHEMA = os.path.join(ROOT, "config", "schema", "config.schema.json")
RULES_SCHEMA = os.path.join(ROOT, "config", "schema", "rules.schema.json")
CONFIG_FILE = os.path.join(ROOT, "config", "taskbridge.json")
RULE_FILES = sorted(glob.glob(os.path.join(ROOT, "examples", "*", "rules.json")))
# Examples for other targets ship their own config.
EXAMPLE_CONFIGS = sorted(glob.glob(os.path.join(ROOT, "examples", "*", "taskbridge.json")))

failures = []
checks = 0


def fail(what, detail=""):
    failures.append(what)
    print(f"FAIL {what}" + (f": {detail}" if detail else ""))


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def first_error(validator, doc):
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    e = errors[0]
    return f"{e.json_path}: {e.message[:300]}" + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "")


def undocumented(node, where, out):
    """Properties without a description (directly or through a $ref)."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            for name, sub in props.items():
                if isinstance(sub, dict) and "description" not in sub and "$ref" not in sub:
                    out.append(f"{where}/properties/{name}")
        for key, sub in node.items():
            # if/then/else only narrow properties declared (and described) elsewhere.
            if key not in ("if", "then", "else"):
                undocumented(sub, f"{where}/{key}", out)
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            undocumented(sub, f"{where}/{i}", out)


# ---------------------------------------------------------------------------------------
# Inline cases. Each helper returns a small valid document; each negative case changes
# one thing. The unchanged helpers are themselves checked as positive cases.

def cfg(**sources_or_top):
    doc = {
        "sources": {"github": {"kind": "github", "secrets": [{"env": "GITHUB_WEBHOOK_SECRET"}]}},
        "targets": {"groupchat": {"kind": "groupchat", "token": {"env": "GROUPCHAT_TOKEN"}}},
    }
    doc.update(sources_or_top)
    return doc


def widget(**extra):
    return cfg(sources={"widget": dict({"kind": "widget", "allowedOrigins": ["https://www.example.com"]}, **extra)})


def target(**extra):
    return cfg(targets={"groupchat": dict({"kind": "groupchat", "token": {"env": "GROUPCHAT_TOKEN"}}, **extra)})


def zylon(**extra):
    return cfg(targets={"zylon": dict({"kind": "zylon", "token": {"env": "ZYLON_TOKEN"}, "baseURL": "https://zylon.example.com",
                                       "org": "default"}, **extra)})


def zylon_without(key):
    doc = zylon()
    del doc["targets"]["zylon"][key]
    return doc


def rules(rule_changes=None, steps=None, drop=()):
    rule = {
        "id": "sentry-issue-task",
        "sources": ["sentry"],
        "events": "issue.created",
        "do": steps if steps is not None else [
            {"action": "task.create", "title": "[Sentry] {{ body.data.issue.title | truncate 180 }}"}
        ],
    }
    rule.update(rule_changes or {})
    for key in drop:
        rule.pop(key, None)
    return {"rules": [rule]}


def when(condition):
    return rules({"when": condition})


CONFIG_POSITIVE = [
    ("minimal config", cfg()),
    ("widget with extra fields, limits, null honeypot", widget(
        extraFields=["company"], fieldLimits={"message": 2000, "company": 100}, honeypotField=None,
        rateLimit={"perClient": {"burst": 5, "perSecond": 0.5}}, maxBodyBytes=32768)),
    ("widget with its own honeypot name may use \"website\" as an extra field",
     widget(honeypotField="url_confirm", extraFields=["website"])),
    ("sentry with a file secret, rules as a string", cfg(
        sources={"sentry": {"kind": "sentry", "secrets": [{"file": "/run/secrets/sentry"}]}}, rules="rules/*.json")),
    ("target with literal baseURL, env workspaceId, tuning", target(
        baseURL="https://groupchat.example", workspaceId={"env": "GC_WS", "default": ""},
        retry={"maxAttempts": 10, "initialDelaySeconds": 0.5}, breaker={"failureThreshold": 3},
        batch={"enabled": False, "maxOperations": 50}, rateLimit={"burst": 10, "perMinute": 600})),
    ("zylon target", zylon()),
    ("target with a taskLink", target(taskLink="https://groupchat.ai/workspace/ws_1/projects/{projectId}/tasks/{id}")),
    ("zylon target with env org, default project, timeout", zylon(
        org={"env": "ZYLON_ORG", "default": "default"}, project="proj_support", timeoutSeconds=300, concurrency=2)),
    ("server, storage, delivery, retention, logging, admin", cfg(
        server={"host": "0.0.0.0", "port": 0, "pathPrefix": "/taskbridge/", "trustedProxies": ["10.0.0.0/8", "::1", "[fe80::1%eth0]"],
                "forwardedHeader": "x-real-ip", "maxBufferedBodyBytes": 33554432},
        storage={"dataDir": "/var/lib/taskbridge", "synchronous": "normal"},
        delivery={"maxInFlight": 1, "leaseSeconds": 5, "pollIntervalSeconds": 0.01, "shutdownGraceSeconds": 0},
        retention={"days": 0.5, "pruneIntervalSeconds": 60}, logging={"format": "json", "level": "debug"},
        admin={"token": {"file": "/run/secrets/admin"}})),
    ("postgres storage", cfg(storage={"kind": "postgres", "url": {"env": "TASKBRIDGE_DATABASE_URL"}, "poolSize": 20, "tls": "require",
                                      "connectTimeoutSeconds": 5})),
    ("postgres storage with a file URL", cfg(storage={"kind": "postgres", "url": {"file": "/run/secrets/db-url"}})),
]

CONFIG_NEGATIVE = [
    ("plain-string secret", cfg(sources={"github": {"kind": "github", "secrets": ["s3cr3t"]}})),
    ("plain-string target token", target(token="ghp_123")),
    ("secret with both env and file", cfg(sources={"github": {"kind": "github", "secrets": [{"env": "A", "file": "/b"}]}})),
    ("secret with neither env nor file", target(token={})),
    ("secret key typo \"evn\"", target(token={"evn": "GROUPCHAT_TOKEN"})),
    ("\"*\" origin", widget(allowedOrigins=["*"])),
    ("origin with a path", widget(allowedOrigins=["https://example.com/feedback"])),
    ("widget-only key on a github source", cfg(sources={"github": {
        "kind": "github", "secrets": [{"env": "S"}], "allowedOrigins": ["https://example.com"]}})),
    ("github source without secrets", cfg(sources={"github": {"kind": "github"}})),
    ("empty secrets list", cfg(sources={"github": {"kind": "github", "secrets": []}})),
    ("unknown source kind", cfg(sources={"gitlab": {"kind": "gitlab", "secrets": [{"env": "S"}]}})),
    ("source name with a space", cfg(sources={"my source": {"kind": "github", "secrets": [{"env": "S"}]}})),
    ("no sources", cfg(sources={})),
    ("unknown top-level key \"sever\"", cfg(sever={"port": 8080})),
    ("unknown server key \"prot\"", cfg(server={"prot": 8080})),
    ("port out of range", cfg(server={"port": 70000})),
    ("pathPrefix without leading slash", cfg(server={"pathPrefix": "taskbridge"})),
    ("trusted proxy that is a host name", cfg(server={"trustedProxies": ["localhost"]})),
    ("forwardedHeader typo \"x-forwarded\"", cfg(server={"forwardedHeader": "x-forwarded"})),
    ("maxBufferedBodyBytes as a string", cfg(server={"maxBufferedBodyBytes": "64MiB"})),
    ("maxBodyBytes as a string", cfg(sources={"github": {"kind": "github", "secrets": [{"env": "S"}], "maxBodyBytes": "1MB"}})),
    ("maxBodyBytes above 25 MiB", cfg(sources={"github": {"kind": "github", "secrets": [{"env": "S"}], "maxBodyBytes": 26214401}})),
    ("rate limit with perSecond and perMinute", widget(rateLimit={"perClient": {"burst": 5, "perSecond": 1, "perMinute": 60}})),
    ("rate limit without a rate", widget(rateLimit={"perSource": {"burst": 5}})),
    ("rate limit without burst", target(rateLimit={"perSecond": 5})),
    ("source rate limit of perMinute 0", widget(rateLimit={"perClient": {"burst": 5, "perMinute": 0}})),
    ("source rate limit of perSecond 0", widget(rateLimit={"perSource": {"burst": 5, "perSecond": 0}})),
    ("target rate limit of perMinute 0", target(rateLimit={"burst": 10, "perMinute": 0})),
    ("target rate limit with burst 0", target(rateLimit={"burst": 0, "perSecond": 5})),
    ("rateLimit key typo \"perClinet\"", widget(rateLimit={"perClinet": {"burst": 5, "perMinute": 10}})),
    ("fieldLimits key not a known field", widget(fieldLimits={"mesage": 100})),
    ("extraFields repeating a standard field", widget(extraFields=["message"])),
    ("extraFields repeating the default honeypot", widget(extraFields=["website"])),
    ("empty honeypotField", widget(honeypotField="")),
    ("target kind typo", target(kind="groupchatt")),
    ("target without token", cfg(targets={"groupchat": {"kind": "groupchat"}})),
    ("baseURL object without env", target(baseURL={"default": "https://groupchat.ai"})),
    ("retry.maxAttempts as a fraction", target(retry={"maxAttempts": 1.5})),
    ("batch.maxOperations above 200", target(batch={"maxOperations": 500})),
    ("logging level \"verbose\"", cfg(logging={"level": "verbose"})),
    ("storage.synchronous \"off\"", cfg(storage={"synchronous": "off"})),
    ("postgres storage without url", cfg(storage={"kind": "postgres"})),
    ("postgres storage with a literal URL", cfg(storage={"kind": "postgres", "url": "postgres://u:p@h/db"})),
    ("postgres storage with synchronous", cfg(storage={"kind": "postgres", "url": {"env": "U"}, "synchronous": "normal"})),
    ("sqlite storage with a url", cfg(storage={"url": {"env": "U"}})),
    ("storage kind typo \"postgress\"", cfg(storage={"kind": "postgress", "url": {"env": "U"}})),
    ("storage poolSize 0", cfg(storage={"kind": "postgres", "url": {"env": "U"}, "poolSize": 0})),
    ("taskLink without a field", target(taskLink="https://groupchat.ai/tasks/")),
    ("taskLink that is not http(s)", target(taskLink="javascript:alert({id})")),
    ("storage tls \"verify\"", cfg(storage={"kind": "postgres", "url": {"env": "U"}, "tls": "verify"})),
    ("rules as a number", cfg(rules=5)),
    ("admin token key typo", cfg(admin={"tokne": {"env": "X"}})),
    ("zylon target without baseURL", zylon_without("baseURL")),
    ("zylon target without org", zylon_without("org")),
    ("zylon target with a groupchat key", zylon(defaultProject="Engineering")),
    ("zylon key typo \"projct\"", zylon(projct="proj_support")),
    ("zylon org as a number", zylon(org=5)),
]

RULES_POSITIVE = [
    ("minimal rule file", rules()),
    ("empty rule list", {"rules": []}),
    ("nested condition, path operand, ignoreCase, captures", when({"all": [
        {"path": "body.data.issue.level", "in": ["fatal", "error"]},
        {"not": {"path": "body.data.issue.title", "contains": "flaky", "ignoreCase": True}},
        {"any": [{"path": "body.data.issue.count", "gte": 10}, {"path": "headers.sentry-hook-resource", "exists": True}]},
        {"path": "body.a", "equals": {"path": "body.b"}},
        {"path": "body.labels[*].name", "equals": {"some": "object"}},
        {"path": "body.data.issue.culprit", "matches": "(?<module>[a-z]+)"},
    ]})),
    ("several steps: link object, steps.* reference, task.step, nulls", rules(
        {"orderingKey": "sentry-issue:{{ body.data.issue.id }}", "enabled": False, "target": "groupchat",
         "description": ""},
        steps=[
            {"id": "create", "action": "task.create", "project": "Engineering", "stage": "todo", "title": "{{ body.t }}",
             "dueDate": 1700000000000, "estimate": "{{ body.est }}",
             "link": {"key": "sentry-issue:{{ body.data.issue.id }}", "ifExists": "reopen"}},
            {"action": "task.update", "task": {"step": "create"}, "description": None, "owner": None, "dueTime": None},
            {"action": "task.move", "stage": "doing", "link": "x:{{ steps.create.task.id }}"},
            {"action": "task.assign", "owner": "{{ body.user.email | lower }}", "task": {"link": "k:{{ event.id }}"}},
            {"action": "task.unassign"}, {"action": "task.complete"}, {"action": "task.reopen", "target": "other"},
            {"action": "agent.delegate", "agent": "Triage Bot", "prompt": "{{ \"Look\" | upper }} at {{ event.type }}"},
        ])),
    ("first step with task", rules(steps=[{"action": "task.complete", "task": {"id": "{{ captures.task }}"}}])),
    ("zylon.chat with every field, read by a later step", rules(steps=[
        {"id": "summary", "action": "zylon.chat", "target": "zylon", "project": "proj_feedback", "message": "{{ body.message }}",
         "system": "Answer in one line.", "maxTokens": 200, "temperature": 0.2, "allArtifacts": True, "maxMinutes": 5},
        {"action": "task.create", "title": "Feedback", "description": "{{ steps.summary.text }}"},
        {"action": "zylon.chat", "message": "again", "maxTokens": "{{ body.n }}", "allArtifacts": "{{ body.all }}"},
    ])),
]

RULES_NEGATIVE = [
    ("operator typo \"eqauls\"", when({"path": "body.action", "eqauls": "closed"})),
    ("unknown rule key \"evnts\"", rules({"evnts": ["issue.created"]}, drop=("events",))),
    ("unknown rule key \"descripton\"", rules({"descripton": "x"})),
    ("missing events", rules(drop=("events",))),
    ("two operators in one test", when({"path": "body.action", "equals": "closed", "notEquals": "opened"})),
    ("test without an operator", when({"path": "body.action"})),
    ("test without a path", when({"equals": "closed"})),
    ("all and any in one object", when({"all": [{"path": "body.a", "exists": True}], "any": [{"path": "body.b", "exists": True}]})),
    ("empty all", when({"all": []})),
    ("condition is a string", when("body.action == closed")),
    ("unknown path root \"bdy\"", when({"path": "bdy.action", "equals": "closed"})),
    ("unknown event field", when({"path": "event.kind", "equals": "x"})),
    ("steps.* in a condition", when({"path": "steps.a.task.id", "exists": True})),
    ("exists with a string", when({"path": "body.a", "exists": "yes"})),
    ("gt with a string", when({"path": "body.count", "gt": "5"})),
    ("startsWith with a number", when({"path": "body.ref", "startsWith": 5})),
    ("equals path operand that is not a string", when({"path": "body.a", "equals": {"path": 5}})),
    ("empty in list", when({"path": "body.a", "in": []})),
    ("ignoreCase as a string", when({"path": "body.a", "equals": "x", "ignoreCase": "yes"})),
    ("rule id with a space", rules({"id": "sentry issue"})),
    ("empty sources list", rules({"sources": []})),
    ("enabled as a string", rules({"enabled": "false"})),
    ("steps.* in orderingKey", rules({"orderingKey": "{{ steps.create.task.id }}"})),
    ("empty do", rules(steps=[])),
    ("unknown action \"task.close\"", rules(steps=[{"action": "task.close", "task": {"id": "1"}}])),
    ("step without action", rules(steps=[{"title": "x"}])),
    ("task.create without title", rules(steps=[{"action": "task.create", "stage": "todo"}])),
    ("task.create with a task key", rules(steps=[{"action": "task.create", "title": "x", "task": {"id": "1"}}])),
    ("step key typo \"titel\"", rules(steps=[{"action": "task.create", "title": "x", "titel": "y"}])),
    ("task.move without stage", rules(steps=[{"action": "task.move", "task": {"id": "1"}}])),
    ("task.complete with a stage", rules(steps=[{"action": "task.complete", "task": {"id": "1"}, "stage": "done"}])),
    ("first step without task", rules(steps=[{"action": "task.complete"}])),
    ("task with id and link", rules(steps=[{"action": "task.reopen", "task": {"id": "1", "link": "k"}}])),
    ("task as a string", rules(steps=[{"action": "task.reopen", "task": "1"}])),
    ("ifExists on a task.move link", rules(steps=[{"action": "task.move", "task": {"id": "1"}, "stage": "s",
                                                   "link": {"key": "k", "ifExists": "update"}}])),
    ("ifExists typo", rules(steps=[{"action": "task.create", "title": "x", "link": {"key": "k", "ifExists": "replace"}}])),
    ("link object without key", rules(steps=[{"action": "task.create", "title": "x", "link": {"ifExists": "skip"}}])),
    ("dueDate as a boolean", rules(steps=[{"action": "task.create", "title": "x", "dueDate": True}])),
    ("null description in task.create", rules(steps=[{"action": "task.create", "title": "x", "description": None}])),
    ("null title in task.update", rules(steps=[{"action": "task.update", "task": {"id": "1"}, "title": None}])),
    ("task.update without fields", rules(steps=[{"action": "task.update", "task": {"id": "1"}}])),
    ("empty title", rules(steps=[{"action": "task.create", "title": ""}])),
    ("title as a number", rules(steps=[{"action": "task.create", "title": 42}])),
    ("template filter typo \"trunc\"", rules(steps=[{"action": "task.create", "title": "{{ body.t | trunc 80 }}"}])),
    ("template with unknown root", rules(steps=[{"action": "task.create", "title": "{{ payload.title }}"}])),
    ("unclosed template", rules(steps=[{"action": "task.create", "title": "{{ body.title"}])),
    ("default filter without quotes", rules(steps=[{"action": "task.create", "title": "{{ body.t | default none }}"}])),
    ("step key typo in a later step", rules(steps=[{"action": "task.create", "title": "x"},
                                                    {"action": "task.complete", "stage": "done"}])),
    ("unknown action in a later step", rules(steps=[{"action": "task.create", "title": "x"}, {"action": "task.archive"}])),
    ("step id with a dot", rules(steps=[{"id": "a.b", "action": "task.create", "title": "x"}])),
    ("unknown top-level key", {"rules": [], "rule": []}),
    ("zylon.chat without message", rules(steps=[{"action": "zylon.chat", "project": "p"}])),
    ("zylon.chat with an empty message", rules(steps=[{"action": "zylon.chat", "message": ""}])),
    ("zylon.chat key typo \"mesage\"", rules(steps=[{"action": "zylon.chat", "message": "m", "mesage": "m"}])),
    ("zylon.chat with a task", rules(steps=[{"action": "zylon.chat", "message": "m", "task": {"id": "1"}}])),
    ("zylon.chat maxTokens 0", rules(steps=[{"action": "zylon.chat", "message": "m", "maxTokens": 0}])),
    ("zylon.chat allArtifacts as a number", rules(steps=[{"action": "zylon.chat", "message": "m", "allArtifacts": 1}])),
    ("zylon.chat maxMinutes 0", rules(steps=[{"action": "zylon.chat", "message": "m", "maxMinutes": 0}])),
]


# PostHog (kind "posthog", posthog.task.* steps): cases of their own, kept together.

def posthog(**extra):
    return cfg(targets={"posthog": dict({"kind": "posthog", "token": {"env": "POSTHOG_API_KEY"}, "projectId": 12345}, **extra)})


def posthog_steps(*steps):
    return rules({"target": "posthog"}, steps=list(steps))


PH_CREATE = {"id": "coder", "action": "posthog.task.create", "title": "Fix {{ body.data.issue.shortId }}", "repository": "acme/api"}

CONFIG_POSITIVE += [
    ("posthog target", posthog()),
    ("posthog target with string projectId, EU baseURL, poll", posthog(
        projectId="42", baseURL="https://eu.posthog.com", poll={"initialSeconds": 2, "maxSeconds": 30})),
    ("posthog target with env projectId", posthog(projectId={"env": "POSTHOG_PROJECT_ID"})),
]

CONFIG_NEGATIVE += [
    ("posthog target without projectId", cfg(targets={"posthog": {"kind": "posthog", "token": {"env": "K"}}})),
    ("posthog projectId that is a name", posthog(projectId="my-project")),
    ("posthog projectId 0", posthog(projectId=0)),
    ("posthog target with a groupchat key", posthog(defaultProject="Engineering")),
    ("posthog poll key typo \"initialSecond\"", posthog(poll={"initialSecond": 5})),
    ("posthog poll maxSeconds as a string", posthog(poll={"maxSeconds": "60"})),
]

def agent(**extra):
    base = posthog()
    base["agents"] = {"coder": dict({"token": {"env": "GROUPCHAT_AGENT_TOKEN"},
                                     "backend": {"target": "posthog", "repository": "acme/api"}}, **extra)}
    return base


CONFIG_POSITIVE += [
    ("agent with a posthog backend", agent()),
    ("agent with every setting", agent(baseURL={"env": "GROUPCHAT_BASE_URL", "default": "https://groupchat.ai"}, concurrency=2,
                                       maxRunMinutes=60, pollSeconds=2, maxCostUsdPerDay=20, timeoutSeconds=10,
                                       backend={"target": "posthog", "repository": "acme/api", "originProduct": "error_tracking",
                                                "costUsdPerRun": 1.5})),
]

CONFIG_NEGATIVE += [
    ("agent key typo \"pollSecond\"", agent(pollSecond=5)),
    ("agent without backend", cfg(agents={"coder": {"token": {"env": "T"}}})),
    ("agent token written literally", agent(token="gca_secret")),
    ("agent backend key typo \"repo\"", agent(backend={"target": "posthog", "repo": "acme/api"})),
    ("agent backend repository without org", agent(backend={"target": "posthog", "repository": "api"})),
    ("agent concurrency 0", agent(concurrency=0)),
]

RULES_POSITIVE += [
    ("posthog create, run with wait, update reading the PR", posthog_steps(
        dict(PH_CREATE, description="{{ body.data.issue.title }}", origin_product="error_tracking", github_integration=101,
             link={"key": "ph:{{ body.data.issue.id }}", "ifExists": "update"}),
        {"id": "run", "action": "posthog.task.run", "task": {"step": "coder"}, "mode": "background",
         "wait": {"until": "finished", "maxMinutes": 120}},
        {"action": "posthog.task.update", "task": {"step": "coder"}, "description": "PR: {{ steps.run.pr_url }}", "repository": None},
        {"action": "posthog.task.run", "mode": "{{ body.mode }}", "wait": {"maxMinutes": "{{ body.minutes }}"}, "link": "ph:x"},
    )),
]

RULES_NEGATIVE += [
    ("posthog.task.create without title", posthog_steps({"action": "posthog.task.create", "repository": "acme/api"})),
    ("posthog.task.create key typo \"repo\"", posthog_steps(dict(PH_CREATE, repo="acme/api"))),
    ("posthog.task.create github_integration as a boolean", posthog_steps(dict(PH_CREATE, github_integration=True))),
    ("posthog.task.update without fields", posthog_steps(PH_CREATE, {"action": "posthog.task.update"})),
    ("posthog.task.update with origin_product", posthog_steps(PH_CREATE, {"action": "posthog.task.update", "origin_product": "x"})),
    ("posthog.task.run first without task", posthog_steps({"action": "posthog.task.run"})),
    ("posthog.task.run wait key typo \"untill\"", posthog_steps(PH_CREATE, {"action": "posthog.task.run", "wait": {"untill": "finished"}})),
    ("posthog.task.run wait until \"done\"", posthog_steps(PH_CREATE, {"action": "posthog.task.run", "wait": {"until": "done"}})),
    ("posthog.task.run maxMinutes 0", posthog_steps(PH_CREATE, {"action": "posthog.task.run", "wait": {"maxMinutes": 0}})),
    ("posthog.task.run wait as a string", posthog_steps(PH_CREATE, {"action": "posthog.task.run", "wait": "finished"})),
    ("posthog.task.run mode \"foreground\"", posthog_steps(PH_CREATE, {"action": "posthog.task.run", "mode": "foreground"})),
    ("posthog.task.run with a title", posthog_steps(PH_CREATE, {"action": "posthog.task.run", "title": "x"})),
]


def run_cases(kind, validator, positive, negative):
    global checks
    for name, doc in positive:
        checks += 1
        err = first_error(validator, copy.deepcopy(doc))
        if err:
            fail(f"{kind} positive case \"{name}\" was rejected", err)
    for name, doc in negative:
        checks += 1
        if validator.is_valid(copy.deepcopy(doc)):
            fail(f"{kind} negative case \"{name}\" was accepted", json.dumps(doc)[:300])


def main():
    global checks
    validators = {}
    for label, path in (("config", CONFIG_SCHEMA), ("rules", RULES_SCHEMA)):
        checks += 1
        try:
            schema = load(path)
            Draft202012Validator.check_schema(schema)
        except Exception as e:  # noqa: BLE001 — report any load or meta-schema problem
            fail(f"{os.path.relpath(path, ROOT)} is not a valid draft 2020-12 schema", str(e)[:300])
            continue
        if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
            fail(f"{os.path.relpath(path, ROOT)} does not declare draft 2020-12")
        missing = []
        undocumented(schema, "#", missing)
        for where in missing:
            fail(f"{os.path.relpath(path, ROOT)}: property without a description", where)
        validators[label] = Draft202012Validator(schema)
    if len(validators) < 2:
        print(f"validate-schemas: {len(failures)} failure(s); schemas unusable, stopping")
        return 1

    for path, label in [(CONFIG_FILE, "config")] + [(p, "config") for p in EXAMPLE_CONFIGS] + [(p, "rules") for p in RULE_FILES]:
        checks += 1
        err = first_error(validators[label], load(path))
        if err:
            fail(f"{os.path.relpath(path, ROOT)} does not validate against the {label} schema", err)
    if not RULE_FILES:
        fail("no examples/*/rules.json found")

    run_cases("config", validators["config"], CONFIG_POSITIVE, CONFIG_NEGATIVE)
    run_cases("rules", validators["rules"], RULES_POSITIVE, RULES_NEGATIVE)

    negatives = len(CONFIG_NEGATIVE) + len(RULES_NEGATIVE)
    if failures:
        print(f"validate-schemas: FAILED {len(failures)} of {checks} checks")
        return 1
    print(f"validate-schemas: OK — {checks} checks: 2 schemas, config + {len(EXAMPLE_CONFIGS)} example configs + {len(RULE_FILES)} example rule files, "
          f"{len(CONFIG_POSITIVE) + len(RULES_POSITIVE)} positive and {negatives} negative inline cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
