"""The alarms of the deployed local stack watch metrics its functions really emit.

Run by scripts/test-suite, on the local stack, after the suite's traffic went through the deployed
functions. It sends one POST with a wrong signature to the deployed webhook (the alarm on signature
failures must see it), then reads:
- every alarm of the stack from the emulator's CloudWatch (DescribeAlarms), and
- every Embedded Metric Format line the functions wrote to their log groups (CloudWatch Logs),
and checks that
- each EMF line is valid: namespace WhatsAppWebhook, `Function` the only dimension, a number for
  every metric it defines, no wamid or phone number in it;
- every metric a function emitted is one the code declares for it (operations_test's scan);
- every alarm notifies an existing topic, every alarm on the application's namespace watches a
  (Function, metric) the code declares, and the ones the traffic must have produced (signature
  failures, processing lag) were emitted under exactly the alarm's dimension;
- every alarm on AWS/Lambda names a deployed function;
- no log line of any deployed function (EMF or not) names a contact of the fixtures: every
  recipient_id, wa_id and customer `from` in events/ and the contacts the tests erase
  (docs/privacy.md).

Run: scripts/local-stack .venv/bin/python infra/tests/deployed_alarms_test.py (after traffic).
"""

import json
import pathlib
import re
import sys
import time
import urllib.error
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "local"))
import stack  # noqa: E402
from operations_test import NAMESPACE, emitted_metrics  # noqa: E402

# Metrics the suite's traffic always produces, with the function that emits them.
MUST_BE_EMITTED = {("webhook", "SignatureFailures"), ("webhook", "BodiesQueued"),
                   ("processor", "StatusesReceived"), ("processor", "ProcessingLag")}
# What a metric line must never carry: a wamid, or a run of digits as long as a phone number.
PERSONAL = re.compile(r"wamid\.|\b\d{10,15}\b")


def post_forged_signature(env):
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    request = urllib.request.Request(
        env["WEBHOOK_FUNCTION_URL"], data=body, method="POST",
        headers={"content-type": "application/json", "x-hub-signature-256": "sha256=" + "0" * 64},
    )
    try:
        urllib.request.urlopen(request, timeout=10)
        return "a forged signature was accepted"
    except urllib.error.HTTPError as e:
        return None if e.code == 401 else f"a forged signature got {e.code}, not 401"


ROOT = HERE.parents[1]
# Contacts the tests use beyond the fixtures (tests/tests/api.rs, tests/browser/dashboard_test.py).
TEST_CONTACTS = {"15559990001", "15559990009"}


def fixture_contacts():
    """Every contact id the fixtures carry: recipients and customers, never the business's own
    numbers (display_phone_number, and context.from, which is the business)."""
    contacts = set(TEST_CONTACTS)
    world = json.loads((ROOT / "events" / "world.json").read_text())
    business = {n["display_phone_number"] for t in world["tenants"] for w in t["wabas"] for n in w["phone_numbers"]}
    for path in (ROOT / "events").rglob("*.json"):
        text = path.read_text(errors="replace")
        contacts.update(re.findall(r'"(?:recipient_id|wa_id|recipient)"\s*:\s*"(\d{6,20})"', text))
        contacts.update(re.findall(r'"from"\s*:\s*"(\d{6,20})"', text))
    return contacts - business


def log_lines(env):
    """Every line the stack's functions wrote to their log groups."""
    logs = stack.client("logs")
    lines = []
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{env['STACK_NAME']}")
    for group in groups.get("logGroups", []):
        kwargs = {"logGroupName": group["logGroupName"]}
        while True:
            page = logs.filter_log_events(**kwargs)
            lines.extend((group["logGroupName"], e["message"]) for e in page.get("events", []))
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    return lines


def check_personal(lines, contacts):
    """No log line names a contact."""
    pattern = re.compile(r"(?<!\d)(" + "|".join(sorted(contacts)) + r")(?!\d)")
    failures = []
    for group, line in lines:
        found = pattern.search(line)
        if found:
            failures.append(f"{group}: a log line names contact {found.group(1)[:4]}…: {line[:160]}")
    return failures[:5]


def emf_lines(env):
    """Every EMF line of the stack's log groups, as dicts."""
    logs = stack.client("logs")
    lines = []
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{env['STACK_NAME']}")
    for group in groups.get("logGroups", []):
        kwargs = {"logGroupName": group["logGroupName"]}
        while True:
            page = logs.filter_log_events(**kwargs)
            for event in page.get("events", []):
                message = event["message"].strip()
                if '"_aws"' not in message:
                    continue
                try:
                    lines.append(json.loads(message))
                except ValueError:
                    lines.append({"unparsable": message[:200]})
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    return lines


def check_emf(lines, declared):
    failures, seen = [], set()
    for line in lines:
        if "unparsable" in line:
            failures.append(f"an EMF line is not JSON: {line['unparsable']}")
            continue
        for directive in line["_aws"].get("CloudWatchMetrics", []):
            if directive.get("Namespace") != NAMESPACE:
                failures.append(f"EMF namespace {directive.get('Namespace')!r}")
            if directive.get("Dimensions") != [["Function"]]:
                failures.append(f"EMF dimensions {directive.get('Dimensions')!r}")
            function = line.get("Function")
            for metric in directive.get("Metrics", []):
                name = metric.get("Name")
                if not isinstance(line.get(name), (int, float)):
                    failures.append(f"{function}: {name} defined without a numeric value")
                if name not in declared.get(function, set()):
                    failures.append(f"{function} emitted {name}, which the code does not declare")
                seen.add((function, name))
        values = json.dumps({k: v for k, v in line.items() if k != "_aws"})  # not the timestamp
        if PERSONAL.search(values):
            failures.append(f"an EMF line carries a wamid or a phone number: {values[:200]}")
    return failures, seen


def check_alarms(env, declared, seen):
    cloudwatch, sns, lam = stack.client("cloudwatch"), stack.client("sns"), stack.client("lambda")
    alarms = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(
            AlarmNamePrefix=f"{env['STACK_NAME']}-"):
        alarms.extend(page.get("MetricAlarms", []))
    failures = [] if alarms else ["no alarm deployed"]
    topics = set()
    for alarm in alarms:
        name = alarm["AlarmName"]
        for topic in alarm.get("AlarmActions", []):
            if topic not in topics:
                sns.get_topic_attributes(TopicArn=topic)  # raises if it does not exist
                topics.add(topic)
        if not alarm.get("AlarmActions"):
            failures.append(f"{name}: no alarm action")
        dimensions = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
        if alarm.get("Namespace") == NAMESPACE:
            function = dimensions.get("Function")
            if set(dimensions) != {"Function"}:
                failures.append(f"{name}: dimensions {dimensions}, not Function alone")
            elif alarm["MetricName"] not in declared.get(function, set()):
                failures.append(f"{name}: {function} does not emit {alarm['MetricName']}")
            elif (function, alarm["MetricName"]) in MUST_BE_EMITTED and \
                    (function, alarm["MetricName"]) not in seen:
                failures.append(f"{name}: {function}'s {alarm['MetricName']} was never emitted")
        elif alarm.get("Namespace") == "AWS/Lambda":
            lam.get_function(FunctionName=dimensions["FunctionName"])  # raises if not deployed
    return failures, len(alarms)


def main():
    env = stack.env()
    declared, scan_failures = emitted_metrics()
    failures = list(scan_failures)
    forged = post_forged_signature(env)
    if forged:
        failures.append(forged)
    # Logs reach CloudWatch Logs a moment after the invocation.
    for _ in range(50):
        emf_failures, seen = check_emf(emf_lines(env), declared)
        if MUST_BE_EMITTED <= seen:
            break
        time.sleep(0.2)
    failures += emf_failures
    for function, metric in sorted(MUST_BE_EMITTED - seen):
        failures.append(f"the traffic did not make {function} emit {metric}")
    alarm_failures, count = check_alarms(env, declared, seen)
    failures += alarm_failures
    contacts = fixture_contacts()
    lines = log_lines(env)
    failures += check_personal(lines, contacts)
    print(f"deployed logs: {len(lines)} lines of every function checked for {len(contacts)} contact ids: "
          + ("none found" if not check_personal(lines, contacts) else "FOUND"))
    print(f"deployed alarms: {count} alarms checked; {len(seen)} (function, metric) pairs emitted: "
          + ", ".join(f"{f}/{m}" for f, m in sorted(seen)))
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
