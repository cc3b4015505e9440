// Test plugin: returns at once. The invoke benchmark's trivial JavaScript
// handler, beside tests/plugins/noop (Rust) and noop-py.
export function handle() {}
