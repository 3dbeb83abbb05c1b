#!/usr/bin/env python3
"""function-env.py FUNCTION KEY=VALUE...: sets variables in the environment of a function deployed
on the local stack (FUNCTION is its folder under functions/, e.g. processor), keeping the others.
The emulator restarts the function's processes. Benchmarks use it to route the deployed
processor's DynamoDB calls through a request-counting proxy (AWS_ENDPOINT_URL_DYNAMODB) or at a
table of their own; the template is not touched."""
import json
import sys

import stack

function = json.loads((stack.ROOT / ".local" / "functions.json").read_text())[sys.argv[1]]
lam = stack.client("lambda")
variables = lam.get_function_configuration(FunctionName=function).get("Environment", {}).get("Variables", {})
variables.update(arg.split("=", 1) for arg in sys.argv[2:])
lam.update_function_configuration(FunctionName=function, Environment={"Variables": variables})
lam.get_waiter("function_updated_v2").wait(FunctionName=function)
