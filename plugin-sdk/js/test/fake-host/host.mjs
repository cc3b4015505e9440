/**
 * The state of the fake host, which tests arrange and inspect. Errors are
 * thrown the way componentize-js's bindings throw a WIT `result` error: an
 * Error with the variant as its own `payload`.
 */
export const host = {
  config: new Map(),
  secrets: new Map(),
  store: new Map(),
  logs: [],
  requests: [],
  /** Answers a request: returns the WIT response, or throws via `fail`. */
  respond: () => ({ status: 200, headers: [], body: new Uint8Array() }),
  /** A kv error variant to throw from the next kv call, if any. */
  kvFailure: undefined,
  reset() {
    this.config.clear();
    this.secrets.clear();
    this.store.clear();
    this.logs.length = 0;
    this.requests.length = 0;
    this.respond = () => ({ status: 200, headers: [], body: new Uint8Array() });
    this.kvFailure = undefined;
  },
};

export function fail(tag, val) {
  const e = new Error(String(val ?? tag));
  Object.defineProperty(e, 'payload', { value: val === undefined ? { tag } : { tag, val } });
  throw e;
}
