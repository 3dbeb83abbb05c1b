"""Operations, checked on the processed template (`make lint-template`).

infra/template.yaml goes through the AWS::Serverless transform (as in least_privilege_test.py),
and on the result:

- every Lambda function has an Errors and a Throttles alarm, and logs to a log group of the
  template that has a retention;
- every function fed by a stream has an IteratorAge alarm, and every queue that feeds a function
  an age-of-oldest-message alarm;
- every dead-letter queue (a queue's RedrivePolicy target, an event source's on-failure
  destination) has a not-empty alarm;
- every alarm notifies the operations topic (AlarmActions and OKActions) and is named
  `<stack>-...`, the names the topic key's policy lets CloudWatch publish for;
- every alarm on the application's namespace names a metric that the Rust code emits for that
  `Function` dimension: the code is scanned for `Metrics::new("<function>")` and its
  `.count("<Name>", ...)` / `.seconds("<Name>", ...)` calls, test modules left out;
- the dashboard body is JSON once its `${...}` are substituted, names only what exists (resources,
  parameters, alarms, emitted metrics), shows every alarm, and every function's errors, throttles
  and duration.

Run: .venv/bin/python infra/tests/operations_test.py
"""

import json
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from least_privilege_test import ROOT, processed_template  # noqa: E402

NAMESPACE = "WhatsAppWebhook"  # shared/src/metrics.rs, NAMESPACE
TOPIC = {"Ref": "OperationsTopic"}

# Files that record metrics on a `Metrics` they did not create (no `Metrics::new` in the file):
# which function's metrics they are. A file with exactly one `Metrics::new("<f>")` is <f>'s.
FUNCTION_OF_PATH = {
    "shared/src/process/": "processor",
    "shared/src/realtime/": "realtime",
    "shared/src/counters.rs": "counters",
    "shared/src/ingest.rs": "webhook",
    "shared/src/notify.rs": "notifier",
    "shared/src/sync.rs": "template-sync",
}


# ------------------------------------------------------------------ the Rust scan

def literal_spans(src):
    """(start, end, kind) of every comment, string and char literal, in order."""
    spans, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            spans.append((i, j, "comment"))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            spans.append((i, j, "comment"))
            i = j
        elif (m := re.compile(r'b?r(#*)"').match(src, i)) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            end = src.find('"' + m.group(1), m.end())
            j = n if end < 0 else end + 1 + len(m.group(1))
            spans.append((i, j, "string"))
            i = j
        elif c == '"' or (c == "b" and src.startswith('b"', i) and (i == 0 or not src[i - 1].isalnum())):
            j = i + (2 if c == "b" else 1)
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            spans.append((i, j + 1, "string"))
            i = j + 1
        elif c == "'" and (m := re.compile(r"'(\\(u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'])'").match(src, i)):
            spans.append((i, m.end(), "char"))
            i = m.end()
        else:
            i += 1
    return spans


def production_code(src):
    """The source with comments and `#[cfg(test)]` items (their attribute to their closing
    brace or semicolon) blanked, strings kept."""
    spans = literal_spans(src)
    inside = {}
    for start, end, kind in spans:
        inside[start] = (end, kind)
    out = list(src)
    for start, end, kind in spans:
        if kind == "comment":
            out[start:end] = " " * (end - start)
    code = "".join(out)

    def item_end(pos):
        depth, j = 0, pos
        while j < len(code):
            if j in inside:
                j = inside[j][0]
                continue
            ch = code[j]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    return j + 1
            elif ch == ";" and depth == 0:
                return j + 1
            j += 1
        return len(code)

    while m := re.search(r"#\[cfg\(test\)\]", code):
        end = item_end(m.end())
        code = code[: m.start()] + " " * (end - m.start()) + code[end:]
    return code


def emitted_metrics():
    """{function: {metric names}} from the code, and the failures of the scan."""
    emitted, failures = {}, []
    files = sorted((ROOT / "shared" / "src").rglob("*.rs")) + sorted(
        p for d in sorted((ROOT / "functions").iterdir()) for p in (d / "src").rglob("*.rs")
    )
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        code = production_code(path.read_text())
        if "Metrics" not in code:
            continue
        calls = re.findall(r'\.(?:count|seconds)\(\s*"([^"]+)"', code)
        if not calls:
            continue
        made = set(re.findall(r'Metrics::new\(\s*"([^"]+)"\s*\)', code))
        mapped = [f for prefix, f in FUNCTION_OF_PATH.items() if rel.startswith(prefix)]
        if rel.startswith("functions/"):
            mapped.append(rel.split("/")[1])
        if len(made) == 1:
            function = made.pop()
            if mapped and mapped[0] != function:
                failures.append(f"{rel}: Metrics::new(\"{function}\") in a file of {mapped[0]}")
        elif not made and mapped:
            function = mapped[0]
        else:
            failures.append(
                f"{rel}: records metrics {sorted(set(calls))} but names "
                f"{sorted(made) or 'no function'}: add it to FUNCTION_OF_PATH"
            )
            continue
        emitted.setdefault(function, set()).update(calls)
    return emitted, failures


# ------------------------------------------------------------------ the template

def sub_text(value):
    """The string of a Fn::Sub (either form)."""
    sub = value["Fn::Sub"]
    return sub if isinstance(sub, str) else sub[0]


def of_type(resources, kind):
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def check():
    processed, _ = processed_template()
    resources = processed["Resources"]
    parameters = processed.get("Parameters", {})
    failures = []

    functions = of_type(resources, "AWS::Lambda::Function")
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    log_groups = of_type(resources, "AWS::Logs::LogGroup")
    queues = of_type(resources, "AWS::SQS::Queue")
    mappings = of_type(resources, "AWS::Lambda::EventSourceMapping")
    emitted, scan_failures = emitted_metrics()
    failures += scan_failures
    for required in ("webhook", "processor", "counters"):
        if not emitted.get(required):
            failures.append(f"the code scan found no metrics of {required}: is the scan broken?")

    def alarms_on(namespace, metric, dimension, value):
        return [
            name for name, a in alarms.items()
            if a["Properties"].get("Namespace") == namespace
            and a["Properties"].get("MetricName") == metric
            and a["Properties"].get("Dimensions") == [{"Name": dimension, "Value": value}]
        ]

    # Every alarm: the topic, a stack-prefixed name, a metric.
    for name, alarm in sorted(alarms.items()):
        props = alarm["Properties"]
        for actions in ("AlarmActions", "OKActions"):
            if TOPIC not in props.get(actions, []):
                failures.append(f"{name}: {actions} lack the operations topic")
        alarm_name = props.get("AlarmName")
        if not (isinstance(alarm_name, dict) and "Fn::Sub" in alarm_name
                and sub_text(alarm_name).startswith("${AWS::StackName}-")):
            failures.append(f"{name}: AlarmName must be !Sub \"${{AWS::StackName}}-...\" (the key policy)")
        if "Unit" in props:
            failures.append(f"{name}: a Unit makes the alarm ignore datapoints of any other unit")
        if props.get("Namespace") == NAMESPACE:
            dims = props.get("Dimensions", [])
            if len(dims) != 1 or dims[0].get("Name") != "Function":
                failures.append(f"{name}: {NAMESPACE} metrics have exactly one dimension, Function")
                continue
            function = dims[0]["Value"]
            if props["MetricName"] not in emitted.get(function, set()):
                failures.append(
                    f"{name}: {function} does not emit {props['MetricName']} "
                    f"(it emits {sorted(emitted.get(function, []))})"
                )

    # Every function: errors, throttles, its log group.
    for logical, function in sorted(functions.items()):
        ref = {"Ref": logical}
        for metric in ("Errors", "Throttles"):
            if not alarms_on("AWS/Lambda", metric, "FunctionName", ref):
                failures.append(f"{logical}: no {metric} alarm")
        group = function["Properties"].get("LoggingConfig", {}).get("LogGroup")
        if not (isinstance(group, dict) and group.get("Ref") in log_groups):
            failures.append(f"{logical}: LoggingConfig.LogGroup is not a log group of the template")
        elif "RetentionInDays" not in log_groups[group["Ref"]]["Properties"]:
            failures.append(f"{group['Ref']}: no RetentionInDays")
    used = {f["Properties"].get("LoggingConfig", {}).get("LogGroup", {}).get("Ref") for f in functions.values()}
    for logical in sorted(set(log_groups) - used):
        failures.append(f"{logical}: no function logs to it")

    # Event sources: streams behind, queues aging.
    for logical, mapping in sorted(mappings.items()):
        props = mapping["Properties"]
        function = props["FunctionName"]["Ref"]
        source = props["EventSourceArn"]
        attribute = source.get("Fn::GetAtt", [None, None])[1] if isinstance(source, dict) else None
        if attribute == "StreamArn" or ":kinesis:" in str(source):
            if not alarms_on("AWS/Lambda", "IteratorAge", "FunctionName", {"Ref": function}):
                failures.append(f"{function}: reads a stream ({logical}) with no IteratorAge alarm")
        elif attribute == "Arn" and source["Fn::GetAtt"][0] in queues:
            queue = source["Fn::GetAtt"][0]
            name = {"Fn::GetAtt": [queue, "QueueName"]}
            if not alarms_on("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", name):
                failures.append(f"{queue}: feeds {function} with no ApproximateAgeOfOldestMessage alarm")
        else:
            failures.append(f"{logical}: an event source this test does not know: {source}")

    # Dead-letter queues: not empty is an alarm.
    dead_letters = set()
    for queue in queues.values():
        target = queue["Properties"].get("RedrivePolicy", {}).get("deadLetterTargetArn")
        if isinstance(target, dict) and "Fn::GetAtt" in target:
            dead_letters.add(target["Fn::GetAtt"][0])
    for mapping in mappings.values():
        target = mapping["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if isinstance(target, dict) and "Fn::GetAtt" in target:
            dead_letters.add(target["Fn::GetAtt"][0])
    if len(dead_letters) < 2:
        failures.append(f"dead-letter queues found: {sorted(dead_letters)} (the webhook's and the notifier's expected)")
    for queue in sorted(dead_letters):
        found = alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
                          {"Fn::GetAtt": [queue, "QueueName"]})
        if not any(alarms[a]["Properties"].get("Threshold") == 0
                   and alarms[a]["Properties"].get("ComparisonOperator") == "GreaterThanThreshold"
                   for a in found):
            failures.append(f"{queue}: a dead-letter queue with no not-empty alarm")

    failures += check_dashboard(resources, parameters, functions, alarms, emitted)
    return failures, len(alarms), emitted


def check_dashboard(resources, parameters, functions, alarms, emitted):
    failures = []
    dashboards = of_type(resources, "AWS::CloudWatch::Dashboard")
    if len(dashboards) != 1:
        return [f"{len(dashboards)} dashboards, one expected"]
    (name, dashboard), = dashboards.items()
    text = sub_text(dashboard["Properties"]["DashboardBody"])
    pseudo = {"AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::StackName", "AWS::URLSuffix"}

    def placeholder(match):
        ref = match.group(1)
        logical = ref.split(".", 1)[0]
        if ref in pseudo:
            return "us-east-1" if ref == "AWS::Region" else ref
        if logical in parameters:
            if parameters[logical].get("Type") == "Number":
                return "1"
            return ref
        if logical not in resources:
            failures.append(f"{name}: ${{{ref}}} names nothing in the template")
        return ref

    try:
        body = json.loads(re.sub(r"\$\{([^}!][^}]*)\}", placeholder, text))
    except json.JSONDecodeError as e:
        return failures + [f"{name}: the body is not JSON once substituted: {e}"]

    shown_alarms, lambda_rows = set(), {}
    for widget in body.get("widgets", []):
        props = widget.get("properties", {})
        for arn in props.get("alarms", []):
            logical = arn.split(".", 1)[0]
            if logical not in alarms:
                failures.append(f"{name}: alarm widget names {arn}, not an alarm")
            shown_alarms.add(logical)
        previous = []
        for row in props.get("metrics", []):
            if not isinstance(row, list) or not row or not isinstance(row[0], str):
                failures.append(f"{name}: a metric row this test does not read: {row}")
                continue
            fields = [x for x in row if not isinstance(x, dict)]
            fields = [previous[i] if x == "." and i < len(previous) else x for i, x in enumerate(fields)]
            previous = fields
            namespace, metric, dims = fields[0], fields[1], dict(zip(fields[2::2], fields[3::2]))
            if namespace == NAMESPACE:
                function = dims.get("Function")
                if list(dims) != ["Function"] or metric not in emitted.get(function, set()):
                    failures.append(f"{name}: {namespace} {metric} {dims}: not a metric the code emits")
            elif namespace == "AWS/Lambda":
                function = dims.get("FunctionName")
                if function not in functions:
                    failures.append(f"{name}: AWS/Lambda {metric} of {function}, not a function")
                lambda_rows.setdefault(metric, set()).add(function)
            elif namespace == "AWS/SQS":
                queue, _, attribute = str(dims.get("QueueName")).partition(".")
                if of_type(resources, "AWS::SQS::Queue").get(queue) is None or attribute != "QueueName":
                    failures.append(f"{name}: AWS/SQS {metric} of {dims.get('QueueName')}, not a queue's name")
            else:
                failures.append(f"{name}: namespace {namespace}: this test does not check it")
    for logical in sorted(set(alarms) - shown_alarms):
        failures.append(f"{name}: alarm {logical} is not on the alarm widget")
    for metric in ("Errors", "Throttles", "Duration"):
        for logical in sorted(set(functions) - lambda_rows.get(metric, set())):
            failures.append(f"{name}: no {metric} of {logical}")
    return failures


if __name__ == "__main__":
    failures, alarm_count, emitted = check()
    for function, names in sorted(emitted.items()):
        print(f"{function:<10} emits {', '.join(sorted(names))}")
    print(f"{alarm_count} alarms")
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    sys.exit(1 if failures else 0)
