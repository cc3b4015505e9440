/**
 * Outbound HTTP to the hosts the endpoint allows, and nowhere else.
 *
 * The host checks every request against the endpoint's allow-list, refuses
 * private and loopback addresses unless the operator allows them, does not
 * follow redirects, limits the calls per invocation, and adds
 * `Idempotency-Key: {event id}:{call index}` unless the request sets one.
 *
 * `send` returns every response, whatever its status; `get`, `post`,
 * `postJson`, `put`, `patch` and `delete` throw an `HttpError` for a status
 * outside 2xx. Uncaught, an HttpError is retried or rejected by its cause,
 * exactly as the Rust SDK's `?` does.
 */
import { send as witSend } from 'hookhost:plugin/http-out@0.2.0';
import { HandlerError, hostErrorOf } from './errors.js';
import { headerOf } from './event.js';

const encoder = new TextEncoder();
const lossy = new TextDecoder();
const U32_MAX = 4294967295;
/** How much of a response body an error message shows. */
const BODY_SHOWN = 512;

/** Why a request failed; its `kind` follows the mapping of the Rust SDK. */
export class HttpError extends HandlerError {
  /**
   * @param {'access-denied' | 'invalid-request' | 'timeout' | 'too-large' | 'budget-exhausted' | 'other' | 'status'} code
   * @param {string} [detail] the host's message (or the response body, for 'status')
   * @param {number} [status] the HTTP status, for 'status'
   * @param {number} [retryAfterMs] the wait `Retry-After` asks for, on a 429 or 503
   */
  constructor(code, detail = '', status, retryAfterMs) {
    const message = describe(code, detail, status);
    if (retryAfterMs !== undefined) super('retry-after', message, retryAfterMs);
    else super(isTransient(code, status) ? 'retry' : 'reject', message);
    this.name = 'HttpError';
    this.code = code;
    if (code === 'status') {
      this.status = status;
      this.body = detail;
      this.retryAfterMs = retryAfterMs;
    }
  }
}

/** A timeout, a transport failure, or the status 408, 429 or 5xx may succeed later. */
function isTransient(code, status) {
  if (code === 'timeout' || code === 'other') return true;
  return code === 'status' && (status === 408 || status === 429 || (status >= 500 && status <= 599));
}

function describe(code, detail, status) {
  switch (code) {
    case 'access-denied': return `access denied: ${detail}`;
    case 'invalid-request': return `invalid request: ${detail}`;
    case 'timeout': return 'request timed out';
    case 'too-large': return 'response body too large';
    case 'budget-exhausted': return 'outbound call budget exhausted';
    case 'other': return `request failed: ${detail}`;
    default: {
      const body = detail.trim();
      if (!body) return `HTTP status ${status}`;
      return `HTTP status ${status}: ${truncate(body, BODY_SHOWN)}`;
    }
  }
}

/** `text` cut to at most `bytes` UTF-8 bytes at a character boundary, with "..." when cut. */
function truncate(text, bytes) {
  if (encoder.encode(text).length <= bytes) return text;
  let used = 0;
  let end = 0;
  for (const c of text) {
    used += encoder.encode(c).length;
    if (used > bytes) break;
    end += c.length;
  }
  return `${text.slice(0, end)}...`;
}

/** The answer of the remote server. */
export class Response {
  constructor({ status, headers, body }) {
    /** The HTTP status code. */
    this.status = status;
    /** Response headers as `[name, value]` pairs, names in lower case. */
    this.headers = headers;
    /** The response body, at most the host's response cap. */
    this.body = body;
  }

  /** Whether the status is 2xx. */
  get ok() {
    return this.status >= 200 && this.status < 300;
  }

  /** The value of the first header named `name`, compared without regard to case. */
  header(name) {
    return headerOf(this.headers, name);
  }

  /** The body as text, invalid UTF-8 replaced by U+FFFD. */
  text() {
    return lossy.decode(this.body);
  }

  /** The body parsed as JSON; a body that is not JSON is a reject. */
  json() {
    try {
      return JSON.parse(this.text());
    } catch (e) {
      throw new HandlerError('reject', `response body is not JSON: ${e.message}`);
    }
  }

  /**
   * The wait in milliseconds `Retry-After` asks for: delta-seconds, or an
   * HTTP-date counted from now (a date already past asks for none); undefined
   * without the header or when it is neither.
   */
  retryAfter() {
    const value = this.header('retry-after');
    return value === undefined ? undefined : parseRetryAfter(value, Date.now());
  }

  /** The response itself if its status is 2xx, else throws an `HttpError`, with the `Retry-After` wait of a 429 or 503. */
  errorForStatus() {
    if (this.ok) return this;
    const wait = this.status === 429 || this.status === 503 ? this.retryAfter() : undefined;
    throw new HttpError('status', this.text(), this.status, wait);
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = MONTHS.join('|');
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** The three HTTP-date forms of RFC 9110: IMF-fixdate, RFC 850 and asctime. */
const IMF = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) (${MONTH}) (\\d{4}) ${TIME} GMT$`);
const RFC850 = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-(${MONTH})-(\\d{2}) ${TIME} GMT$`);
const ASCTIME = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (${MONTH}) ([ \\d]\\d) ${TIME} (\\d{4})$`);

/** Milliseconds since the epoch of an HTTP-date, or undefined. */
function parseHttpDate(value) {
  let day, month, year, h, m, s, found;
  if ((found = IMF.exec(value))) [, day, month, year, h, m, s] = found;
  else if ((found = RFC850.exec(value))) {
    [, day, month, year, h, m, s] = found;
    year = Number(year) + (Number(year) < 70 ? 2000 : 1900);
  } else if ((found = ASCTIME.exec(value))) [, month, day, h, m, s, year] = found;
  else return undefined;
  const at = Date.UTC(Number(year), MONTHS.indexOf(month), Number(day), Number(h), Number(m), Number(s));
  return Number.isNaN(at) ? undefined : at;
}

/** The wait in milliseconds a `Retry-After` value asks for at `nowMs`, or undefined when it is unreadable. */
export function parseRetryAfter(value, nowMs) {
  const trimmed = value.trim();
  // Only digits: a number too large for a double is a very long wait all the same.
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = parseHttpDate(trimmed);
  return at === undefined ? undefined : Math.max(0, at - nowMs);
}

/** Header pairs from `[name, value]` pairs or a `{ name: value }` object. */
function headerPairs(headers) {
  if (headers === undefined) return [];
  const entries = Array.isArray(headers) ? headers : Object.entries(headers);
  return entries.map(([k, v]) => [String(k), String(v)]);
}

function bodyBytes(body) {
  if (body === undefined || body === null) return new Uint8Array();
  if (typeof body === 'string') return encoder.encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  throw new HttpError('invalid-request', 'a body is a string, a Uint8Array or an ArrayBuffer');
}

/** The WIT request for `request`; a `json` value replaces the body and the content-type. */
export function toWitRequest({ method = 'GET', url, headers, body, json, timeoutMs }) {
  let pairs = headerPairs(headers);
  let bytes;
  if (json !== undefined) {
    let text;
    try {
      text = JSON.stringify(json);
    } catch (e) {
      throw new HttpError('invalid-request', `could not serialise the JSON body: ${e.message}`);
    }
    if (text === undefined) throw new HttpError('invalid-request', 'could not serialise the JSON body: not a JSON value');
    bytes = encoder.encode(text);
    pairs = pairs.filter(([k]) => k.toLowerCase() !== 'content-type');
    pairs.push(['content-type', 'application/json']);
  } else {
    bytes = bodyBytes(body);
  }
  return {
    method: String(method).toUpperCase(),
    url: String(url),
    headers: pairs,
    body: bytes,
    timeoutMs: timeoutMs === undefined ? undefined : Math.min(U32_MAX, Math.max(0, Math.round(timeoutMs))),
  };
}

/**
 * Sends one request and returns the response, whatever its status.
 * @param {{ method?: string, url: string, headers?: object, body?: string | Uint8Array, json?: unknown, timeoutMs?: number }} request
 */
export function send(request) {
  const witRequest = toWitRequest(request);
  try {
    return new Response(witSend(witRequest));
  } catch (e) {
    const cause = hostErrorOf(e);
    if (cause === undefined) throw e;
    throw new HttpError(cause.tag, cause.val);
  }
}

const checked = (method) => (url, options = {}) => send({ ...options, method, url }).errorForStatus();

/** `GET url`; a status outside 2xx throws an HttpError. */
export const get = checked('GET');
/** `POST url` with `options.body` or `options.json`; a status outside 2xx throws an HttpError. */
export const post = checked('POST');
/** `PUT url`; a status outside 2xx throws an HttpError. */
export const put = checked('PUT');
/** `PATCH url`; a status outside 2xx throws an HttpError. */
export const patch = checked('PATCH');
/** `DELETE url`; a status outside 2xx throws an HttpError. */
const del = checked('DELETE');
export { del as delete };

/** `POST url` with `value` as JSON (`content-type: application/json`); a status outside 2xx throws an HttpError. */
export function postJson(url, value, options = {}) {
  return post(url, { ...options, json: value });
}
