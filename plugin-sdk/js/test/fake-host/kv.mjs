import { fail, host } from './host.mjs';

function check() {
  const failure = host.kvFailure;
  host.kvFailure = undefined;
  if (failure) fail(...failure);
}

export const get = (key) => (check(), host.store.get(key));
export const set = (key, value) => (check(), void host.store.set(key, value));
const del = (key) => (check(), void host.store.delete(key));
export { del as delete };
export function increment(key, delta) {
  check();
  const next = BigInt(new TextDecoder().decode(host.store.get(key) ?? new Uint8Array([48]))) + delta;
  host.store.set(key, new TextEncoder().encode(String(next)));
  return next;
}
export const listKeys = (prefix) => (check(), [...host.store.keys()].filter((k) => k.startsWith(prefix)).sort());
