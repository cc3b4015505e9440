#!/usr/bin/env python3
"""Property-based tests of the whole HTTP surface with schemathesis.

Starts `hookhost serve` on port 0 with a tenant, a plugin and an endpoint in
place, then lets schemathesis generate requests for every operation of
/openapi.json, once with the operator's token and once with the tenant's key:
no answer may be a 5xx, and every answer must match the document (status,
content type, headers, body schema). Afterwards the server must still be up.

    python3 fuzz/api.py [EXAMPLES_PER_OPERATION]

Run from the repository after `cargo test` (it uses target/debug/hookhost and
the noop test plugin that build leaves); needs `pip install schemathesis`.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "target" / "debug" / "hookhost"
NOOP = ROOT / "target/plugin-builds/adversarial/wasm32-wasip2/release/noop.wasm"
OPERATOR_TOKEN = "hh_op_fuzzing-the-api-0123456789"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


def call(base, method, path, token, body=None, content_type="application/json"):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def main():
    examples = sys.argv[1] if len(sys.argv) > 1 else "20"
    st = shutil.which("st") or sys.exit("schemathesis is not installed: pip install schemathesis")
    with tempfile.TemporaryDirectory() as data_dir:
        server = subprocess.Popen(
            [BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir,
             "--admin-token", OPERATOR_TOKEN],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            base = None
            for line in server.stdout:
                if line.startswith("hookhost listening on "):
                    base = line.split()[-1]
                    break
            if base is None:
                sys.exit("hookhost serve exited before listening")

            tenant_key = call(base, "POST", "/v1/tenants", OPERATOR_TOKEN, {"id": "acme"})["api_key"]
            call(base, "POST", "/v1/tenants/acme/plugins/noop/versions", tenant_key,
                 NOOP.read_bytes(), "application/wasm")
            call(base, "PUT", "/v1/tenants/acme/endpoints/hook", tenant_key,
                 {"provider": "none", "plugin": "noop"})

            failed = False
            for who, token in (("operator", OPERATOR_TOKEN), ("tenant", tenant_key)):
                print(f"== schemathesis with the {who}'s credentials", flush=True)
                run = subprocess.run(
                    [st, "run", f"{base}/openapi.json", "--checks", CHECKS,
                     "--max-examples", examples, "--seed", "17",
                     "--header", f"Authorization: Bearer {token}"],
                    check=False,
                    cwd=data_dir,
                    env={**os.environ, "PYTHONPATH": str(ROOT / "fuzz"), "SCHEMATHESIS_HOOKS": "st_hooks"},
                )
                failed |= run.returncode != 0

            with urllib.request.urlopen(f"{base}/healthz", timeout=10) as answer:
                assert answer.status == 200, "the server is not healthy after the run"
            if server.poll() is not None:
                sys.exit("hookhost serve died during the run")
            sys.exit(1 if failed else 0)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
