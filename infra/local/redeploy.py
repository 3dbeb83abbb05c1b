#!/usr/bin/env python3
"""Pushes the functions whose built binary changed to the running local stack, and nothing else:
`redeploy.py [--watch]`. Each target/lambda/<function>/bootstrap is compared (sha256) with what
this tool last pushed (or what `sam deploy` packaged); a changed one is zipped and sent with
UpdateFunctionCode, and the emulator starts the new binary on the next invocation. The template
itself is not redeployed: change it and restart `make dev`.

--watch: polls the Rust sources (functions/, shared/, Cargo.*) and rebuilds
(scripts/build-functions) then redeploys after every change, printing the time each took.
"""
import argparse
import hashlib
import io
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import stack

ROOT = stack.ROOT
STATE = ROOT / ".local" / "deployed-code.json"
SOURCES = [ROOT / "functions", ROOT / "shared", ROOT / "Cargo.toml", ROOT / "Cargo.lock"]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def function_names():
    """target/lambda/<folder> -> deployed function name (written by deploy.py from CodeUri)."""
    return json.loads((ROOT / ".local" / "functions.json").read_text())


def zipped(bootstrap):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, bootstrap.read_bytes())
    return buffer.getvalue()


def redeploy():
    deployed = json.loads(STATE.read_text()) if STATE.exists() else {}
    lam = stack.client("lambda")
    changed = []
    for folder, name in function_names().items():
        bootstrap = ROOT / "target" / "lambda" / folder / "bootstrap"
        current = digest(bootstrap)
        if deployed.get(folder) == current:
            continue
        lam.update_function_code(FunctionName=name, ZipFile=zipped(bootstrap))
        deployed[folder] = current
        changed.append(folder)
    STATE.write_text(json.dumps(deployed))
    return changed


def remember_deployed():
    """What `sam deploy` just packaged counts as deployed."""
    STATE.write_text(json.dumps({
        folder: digest(ROOT / "target" / "lambda" / folder / "bootstrap") for folder in function_names()
    }))


def source_stamp():
    files = [p for s in SOURCES for p in ([s] if s.is_file() else s.rglob("*")) if p.is_file()]
    return max((p.stat().st_mtime_ns for p in files), default=0)


def watch():
    seen = source_stamp()
    print("redeploy: watching functions/ and shared/ (Ctrl-C stops make dev)", file=sys.stderr, flush=True)
    while True:
        time.sleep(1)
        now = source_stamp()
        if now == seen:
            continue
        seen = now
        started = time.monotonic()
        if subprocess.run([str(ROOT / "scripts" / "build-functions")]).returncode != 0:
            print("redeploy: build failed; fix and save again", file=sys.stderr, flush=True)
            continue
        built = time.monotonic()
        changed = redeploy()
        done = time.monotonic()
        print(f"redeploy: built in {built - started:.1f} s; updated {', '.join(changed) or 'nothing'} "
              f"in {done - built:.2f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--watch", action="store_true")
    parser.add_argument("--mark-deployed", action="store_true", help="record the current binaries as deployed")
    args = parser.parse_args()
    if args.mark_deployed:
        remember_deployed()
    elif args.watch:
        watch()
    else:
        print(f"redeploy: updated {', '.join(redeploy()) or 'nothing'}", file=sys.stderr)
