"""Test plugin: returns at once. The invoke benchmark's trivial Python
handler, beside tests/plugins/noop (Rust) and noop-js."""


def handle(event):
    pass
