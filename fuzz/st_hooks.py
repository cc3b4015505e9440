"""schemathesis hooks for fuzz/api.py: plugin uploads (`application/wasm`)
are sent as the raw bytes schemathesis generates for a binary body."""

import schemathesis

schemathesis.serializer.alias("application/wasm", "application/octet-stream")
