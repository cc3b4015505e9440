/// <reference path="./types/handler.d.ts" />
/**
 * Write hookhost webhook handlers in JavaScript or TypeScript.
 *
 * A handler module exports `handle(event)`, plain or async. Returning marks the
 * delivery succeeded (and commits its key-value writes); `throw retry(..)` asks
 * the host to run it again later, `throw retryAfter(.., ms)` no sooner than a
 * wait, `throw reject(..)` dead-letters it. The SDK's own errors (HttpError,
 * KvError, a bad JSON body) are HandlerErrors, retried or rejected by their
 * cause; any other exception traps, with its message and stack in the
 * author's files as the attempt's outcome.
 */

/** Header or setting pairs, names first. */
export type Pairs = Array<[string, string]>;

/** Why a handler did not succeed: thrown, its kind decides what the host does next. */
export class HandlerError extends Error {
  constructor(kind: 'retry' | 'reject' | 'retry-after', message: string, afterMs?: number);
  readonly kind: 'retry' | 'reject' | 'retry-after';
  /** How long to wait at least, in milliseconds, for 'retry-after'. */
  readonly afterMs?: number;
  /** Whether the host will run the handler again (within its retry policy). */
  readonly isRetry: boolean;
  /** The `handler-error` of the WIT world. */
  toWit(): import('hookhost:plugin/types@0.2.0').HandlerError;
}
/** A transient failure: the host runs the handler again later, with backoff. */
export function retry(message: string): HandlerError;
/** A transient failure: the host runs the handler again no sooner than `afterMs` from now (nor sooner than its retry policy). */
export function retryAfter(message: string, afterMs: number): HandlerError;
/** A permanent failure: the delivery is dead-lettered at once. */
export function reject(message: string): HandlerError;

/** One webhook, as the host received and verified it. */
export class Event {
  constructor(raw: import('hookhost:plugin/types@0.2.0').Event);
  /** The delivery id: stable across retries and replays, the prefix of every outbound Idempotency-Key. */
  readonly id: string;
  /** The tenant that owns the endpoint. */
  readonly tenant: string;
  /** The endpoint the webhook was posted to. */
  readonly endpoint: string;
  /** The verification scheme: "stripe", "github", "shopify", "slack", "standard-webhooks", "hmac" or "none". */
  readonly provider: string;
  /** The provider's event type where it names one ("payment_intent.succeeded", the X-GitHub-Event header, ...). */
  readonly eventType: string | undefined;
  /** When the host accepted the webhook, in milliseconds since the Unix epoch. */
  readonly receivedAtMs: number;
  /** 1 on the first try, incremented by every retry and replay. */
  readonly attempt: number;
  /** The request headers as received, names in lower case. */
  readonly headers: Pairs;
  /** The raw request body, byte for byte as the signature covered it. */
  readonly body: Uint8Array;
  /** The value of the first header named `name`, compared without regard to case. */
  header(name: string): string | undefined;
  /** The body as text; a body that is not UTF-8 throws a reject. */
  text(): string;
  /** The body parsed as JSON; a body that is not JSON throws a reject. */
  json<T = any>(): T;
}

/** An HTTP failure: 408, 429, 5xx, a timeout or a transport failure retry (429/503 with Retry-After after its wait); the rest reject. */
export class HttpError extends HandlerError {
  readonly code: 'access-denied' | 'invalid-request' | 'timeout' | 'too-large' | 'budget-exhausted' | 'other' | 'status';
  /** For 'status': the HTTP status code. */
  readonly status?: number;
  /** For 'status': the response body as text. */
  readonly body?: string;
  /** For 'status' 429 or 503: the wait Retry-After asks for, in milliseconds. */
  readonly retryAfterMs?: number;
}

/** A key-value failure: 'other' (the store could not be read) retries, the rest reject. */
export class KvError extends HandlerError {
  readonly code: 'invalid-key' | 'too-large' | 'quota-exceeded' | 'not-a-number' | 'other' | 'decode';
}

/** The answer of the remote server. */
export class Response {
  readonly status: number;
  /** Response headers, names in lower case. */
  readonly headers: Pairs;
  /** The response body, at most the host's response cap. */
  readonly body: Uint8Array;
  /** Whether the status is 2xx. */
  readonly ok: boolean;
  header(name: string): string | undefined;
  /** The body as text, invalid UTF-8 replaced by U+FFFD. */
  text(): string;
  /** The body parsed as JSON; a body that is not JSON throws a reject. */
  json<T = any>(): T;
  /** The wait in milliseconds Retry-After asks for (delta-seconds or an HTTP-date), or undefined. */
  retryAfter(): number | undefined;
  /** This response if 2xx, else throws an HttpError. */
  errorForStatus(): this;
}

/** What a request carries besides its method and URL. */
export interface RequestOptions {
  /** `{ name: value }` or `[name, value]` pairs; the host adds Idempotency-Key and traceparent when absent. */
  headers?: Record<string, string> | Pairs;
  body?: string | Uint8Array | ArrayBuffer;
  /** A value sent as JSON, with `content-type: application/json`; replaces `body`. */
  json?: unknown;
  /** A per-call timeout, capped by the host's own and by the invocation's deadline. */
  timeoutMs?: number;
}

/** Outbound HTTP to the hosts the endpoint allows, and nowhere else. */
export namespace http {
  /** Sends one request; returns the response whatever its status. */
  function send(request: RequestOptions & { method?: string; url: string }): Response;
  /** `GET url`; a status outside 2xx throws an HttpError. */
  function get(url: string, options?: RequestOptions): Response;
  /** `POST url`; a status outside 2xx throws an HttpError. */
  function post(url: string, options?: RequestOptions): Response;
  /** `POST url` with `value` as JSON; a status outside 2xx throws an HttpError. */
  function postJson(url: string, value: unknown, options?: RequestOptions): Response;
  /** `PUT url`; a status outside 2xx throws an HttpError. */
  function put(url: string, options?: RequestOptions): Response;
  /** `PATCH url`; a status outside 2xx throws an HttpError. */
  function patch(url: string, options?: RequestOptions): Response;
  /** `DELETE url`; a status outside 2xx throws an HttpError. */
  function del(url: string, options?: RequestOptions): Response;
  export { del as delete };
}

/** A key-value store private to the tenant and plugin; writes commit when the handler succeeds. */
export namespace kv {
  function get(key: string): Uint8Array | undefined;
  function getText(key: string): string | undefined;
  /** A value that is not JSON throws a KvError 'decode'. */
  function getJson<T = any>(key: string): T | undefined;
  /** A string is stored as UTF-8. */
  function set(key: string, value: string | Uint8Array): void;
  function setJson(key: string, value: unknown): void;
  function del(key: string): void;
  export { del as delete };
  /** Adds `delta` (default 1) to the integer under `key` (missing counts as 0); the new value. */
  function increment(key: string, delta?: number): number;
  function increment(key: string, delta: bigint): bigint;
  /** The keys that start with `prefix`, in ascending byte order. */
  function list(prefix?: string): string[];
}

/** The endpoint's settings, read-only. */
export namespace config {
  function get(key: string): string | undefined;
  /** Every setting, sorted by key. */
  function all(): Pairs;
}

/** The endpoint's plugin secrets; their exact values never reach the attempt's record. */
export namespace secret {
  function get(name: string): string | undefined;
}

/** Log lines kept with the attempt; arguments are joined like console.log's. */
export namespace log {
  function trace(...parts: unknown[]): void;
  function debug(...parts: unknown[]): void;
  function info(...parts: unknown[]): void;
  function warn(...parts: unknown[]): void;
  function error(...parts: unknown[]): void;
}
