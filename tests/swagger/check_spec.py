#!/usr/bin/env python3
"""Check a running `gale platform` against OpenWhisk's official swagger spec with schemathesis.

Every operation the spec lists gets requests generated from its schemas (a bounded number
per operation). Each response must not be a server error, must have a status code the spec
lists (or one of the few OpenWhisk itself answers there, EXTRA_STATUSES below, written down
in docs/platform.md), a matching content type, and a body matching the spec's schema.

A second pass sends requests generated to *violate* the schemas (wrong types, missing
required fields, malformed bodies): those must be refused without a server error. (A 502
carrying an activation whose action failed is the documented answer of an invoke, not a
server error.)

Path parameters are steered towards entities that exist (seeded before the run) and
towards the caller's namespace, so that the 200 answers and their shapes are exercised and
not only 404s and 403s; the rest stay as generated.

Environment: GALE_API (http://HOST:PORT), GALE_KEY (UUID:KEY), GALE_SPEC (the swagger file),
GALE_SWAGGER_EXAMPLES (examples per operation, default 20; half as many negative ones).
Exit status: 0 all good, 1 failures (listed), 77 schemathesis cannot be imported.
"""

import json
import os
import sys
import time

try:
    import requests
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from hypothesis import strategies as st
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )
except ImportError as e:  # the Rust test turns this into a clear skip
    print(f"SKIP: schemathesis cannot be imported ({e})")
    sys.exit(77)

API = os.environ["GALE_API"].rstrip("/")
KEY = os.environ["GALE_KEY"]
SPEC = os.environ["GALE_SPEC"]
EXAMPLES = int(os.environ.get("GALE_SWAGGER_EXAMPLES", "20"))
BASE = API + "/api/v1"
AUTH = tuple(KEY.split(":", 1))
NS = BASE + "/namespaces/_"

# Status codes OpenWhisk answers on these operations although the spec does not list them.
# "*" applies to every operation under /namespaces/{namespace}.
EXTRA_STATUSES = {
    # Another namespace's entities (OpenWhisk's entitlement check).
    "*": {403},
    # Bad query values (blocking timeout out of range, malformed booleans and list limits),
    # and a package action's PUT into a package that does not exist.
    "invokeAction": {400},
    "invokeActionInPackage": {400},
    "getAllActions": {400},
    "getAllPackages": {400},
    "getAllTriggers": {400},
    "getAllRules": {400},
    "getActivations": {400},
    "getActivationById": {400},
    "getActivationLogs": {400},
    "getActivationResult": {400},
    "getActionByName": {400},
    "getActionInPackageByName": {400},
    "updateActionInPackage": {404},
    "fireTrigger": {400},
    "deletePackage": {400},
}


def seed():
    """Entities the generated requests are steered to."""
    s = requests.Session()
    s.auth = AUTH
    put = lambda path, body: s.put(f"{NS}/{path}?overwrite=true", json=body, timeout=30)
    results = [
        put("actions/hello", {"exec": {"kind": "gale:synthetic"}}),
        put("packages/pkg", {"parameters": [{"key": "a", "value": 1}], "publish": True}),
        put("actions/pkg/hello", {"exec": {"kind": "gale:synthetic"}}),
        put("packages/bound", {"binding": {"namespace": "_", "name": "pkg"}}),
        put("actions/seq", {"exec": {"kind": "sequence", "components": ["/_/hello", "/_/pkg/hello"]}}),
        put(
            "actions/web",
            {"exec": {"kind": "gale:synthetic"}, "annotations": [{"key": "web-export", "value": True}]},
        ),
        put("triggers/t", {"parameters": [{"key": "p", "value": 1}]}),
        put("rules/r", {"trigger": "/_/t", "action": "/_/hello"}),
        # An update keeps a rule's status: enable it again after a generated disable.
        s.post(f"{NS}/rules/r", json={"status": "active"}, timeout=30),
    ]
    for r in results:
        if r.status_code != 200:
            sys.exit(f"seeding failed: {r.request.method} {r.url} -> {r.status_code} {r.text}")
    r = s.post(f"{NS}/actions/hello?blocking=true", json={}, timeout=30)
    return [r.json()["activationId"]]


CHOICES = {
    "namespace": ["_", "_", "_", "guest", "someone-else"],
    "actionName": ["hello", "hello", "seq", "web"],
    "packageName": ["pkg", "pkg", "bound", "default"],
    "triggerName": ["t", "t"],
    "ruleName": ["r", "r"],
    "extension": ["json", "http", "text", "html", "svg"],
}


WEB_CHOICES = {
    "namespace": ["guest", "guest", "guest", "someone-else"],
    "packageName": ["default", "default", "default", "pkg"],
    "actionName": ["web", "web", "web", "hello"],
}


def steer(case, data, activation_ids):
    params = case.path_parameters or {}
    for name in list(params):
        options = list(CHOICES.get(name, []))
        if name == "activationid":
            options = activation_ids * 2
        if case.operation.path.startswith("/web/"):
            options = WEB_CHOICES.get(name, options)
        if options:
            # One chance in (len + 1) to keep the generated value.
            pick = data.draw(st.integers(min_value=0, max_value=len(options)))
            if pick < len(options):
                params[name] = options[pick]


# gale's own runtime kinds are not in the spec's `exec.kind` enum (OpenWhisk's images).
GALE_KINDS = ('"gale:synthetic"', '"python:3"')
deviations = [0]


def known_deviation(text):
    return "/definitions/ActionExec/properties/kind" in text and any(k in text for k in GALE_KINDS)


def label(op):
    return op.definition.raw.get("operationId") or f"{op.method.upper()} {op.path}"


def failed_activation(response):
    """A 502 whose body is an activation record of a failed action (OpenWhisk's invoke)."""
    if response.status_code != 502:
        return False
    try:
        status = response.json().get("response", {}).get("status")
    except ValueError:
        return False
    return status in ("application error", "action developer error")


def run_negative(op, activation_ids, failures, counts):
    """Invalid requests: refused or handled, never a server error."""
    name = label(op)
    try:
        strategy = op.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    except Exception as e:  # no way to violate this operation's schemas
        print(f"{name}: no negative cases ({type(e).__name__})")
        return
    session = requests.Session()

    @settings(
        max_examples=max(1, EXAMPLES // 2),
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def test(data):
        case = data.draw(strategy)
        steer(case, data, activation_ids)
        try:
            response = case.call(base_url=BASE, session=session, auth=AUTH, timeout=30)
        except requests.RequestException as e:
            failures.append(f"{name} (negative): request failed: {e}")
            return
        key = f"{name} (negative)"
        counts[key] = counts.get(key, {})
        counts[key][response.status_code] = counts[key].get(response.status_code, 0) + 1
        if response.status_code >= 500 and not failed_activation(response):
            where = f"{case.method} {response.request.path_url}"
            failures.append(f"{key}: {where} -> {response.status_code} {response.text[:300]}")

    try:
        test()
    except Unsatisfiable:
        print(f"{name}: no negative cases (unsatisfiable)")


def run_operation(op, activation_ids, failures, counts):
    name = label(op)
    documented = {int(s) for s in op.definition.raw.get("responses", {}) if s.isdigit()}
    extra = set(EXTRA_STATUSES.get(name, set()))
    if op.path.startswith("/namespaces/{namespace}"):
        extra |= EXTRA_STATUSES["*"]
    strategy = op.as_strategy()
    session = requests.Session()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def test(data):
        case = data.draw(strategy)
        steer(case, data, activation_ids)
        try:
            response = case.call(base_url=BASE, session=session, auth=AUTH, timeout=30)
        except requests.RequestException as e:
            failures.append(f"{name}: request failed: {e}")
            return
        counts[name] = counts.get(name, {})
        counts[name][response.status_code] = counts[name].get(response.status_code, 0) + 1
        checks = [response_schema_conformance]
        if not failed_activation(response):
            checks.append(not_a_server_error)
        # A 204 has no body, so no content type (OpenWhisk sends none either).
        if response.status_code != 204:
            checks.append(content_type_conformance)
        if response.status_code in documented or response.status_code not in extra:
            checks.append(status_code_conformance)
        # The web routes document only `default: any response`; only server errors matter.
        if op.path.startswith("/web/"):
            checks = [not_a_server_error]
        for check in checks:
            try:
                case.validate_response(response, checks=[check])
            except BaseException as e:  # a FailureGroup naming the failed check
                if isinstance(e, KeyboardInterrupt):
                    raise
                text = str(e)
                if known_deviation(text):
                    deviations[0] += 1
                    continue
                where = f"{case.method} {response.request.path_url}"
                failures.append(
                    f"{name}: {where} -> {response.status_code} {response.text[:300]}\n    {text[:1500]}"
                )

    test()


def main():
    started = time.monotonic()
    activation_ids = seed()
    schema = schemathesis.openapi.from_path(SPEC)
    failures, counts = [], {}
    operations = [r.ok() for r in schema.get_all_operations()]
    for op in operations:
        # Earlier operations delete and overwrite the seeded entities.
        seed()
        run_operation(op, activation_ids, failures, counts)
        seed()
        run_negative(op, activation_ids, failures, counts)
    for name, c in counts.items():
        print(f"{name:28} " + " ".join(f"{s}x{n}" for s, n in sorted(c.items())))
    print(f"{len(operations)} operations, {sum(sum(c.values()) for c in counts.values())} requests, "
          f"{time.monotonic() - started:.1f} s, {len(failures)} failures, "
          f"{deviations[0]} responses naming a gale kind outside the spec's enum")
    missing = [label(op) for op in operations if label(op) not in counts]
    # Counted separately: an operation without negative cases is fine.
    if missing:
        failures.append(f"operations never exercised: {missing}")
    for f in failures:
        print("FAIL", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
