/**
 * A key-value store private to the tenant and plugin.
 *
 * Writes are buffered and visible to the same invocation at once; they commit
 * atomically when the handler succeeds, and are discarded when it throws or
 * runs out of time. `increment` commits as a delta, so concurrent invocations
 * never lose an update. Keys are 1 to 512 bytes; values at most 1 MiB.
 */
import * as wit from 'hookhost:plugin/kv@0.2.0';
import { HandlerError, hostErrorOf } from './errors.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const PREFIX = {
  'invalid-key': 'invalid key',
  'too-large': 'value too large',
  'quota-exceeded': 'storage quota exceeded',
  'not-a-number': 'not a number',
  other: 'key-value store failed',
  decode: 'bad JSON value',
};

/**
 * Why a key-value operation failed. Uncaught, 'other' (the store could not be
 * read) is retried and every other code rejected.
 */
export class KvError extends HandlerError {
  /** @param {'invalid-key' | 'too-large' | 'quota-exceeded' | 'not-a-number' | 'other' | 'decode'} code */
  constructor(code, detail) {
    super(code === 'other' ? 'retry' : 'reject', `${PREFIX[code]}: ${detail}`);
    this.name = 'KvError';
    this.code = code;
  }
}

/** Calls the host, turning its error variant into a KvError. */
function call(f, ...args) {
  try {
    return f(...args);
  } catch (e) {
    const cause = hostErrorOf(e);
    if (cause === undefined) throw e;
    throw new KvError(cause.tag, cause.val);
  }
}

/** The bytes stored under `key`, or undefined. */
export function get(key) {
  return call(wit.get, key);
}

/** The value stored under `key` as text (invalid UTF-8 replaced by U+FFFD), or undefined. */
export function getText(key) {
  const bytes = get(key);
  return bytes === undefined ? undefined : decoder.decode(bytes);
}

/** The value stored under `key` parsed as JSON, or undefined; a value that is not JSON is a KvError 'decode'. */
export function getJson(key) {
  const text = getText(key);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new KvError('decode', `${key}: ${e.message}`);
  }
}

/** Stores `value` (a string, stored as UTF-8, or bytes) under `key`, replacing what was there. */
export function set(key, value) {
  call(wit.set, key, typeof value === 'string' ? encoder.encode(value) : value);
}

/** Stores `value` serialised as JSON under `key`. */
export function setJson(key, value) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new KvError('decode', `${key}: ${e.message}`);
  }
  if (text === undefined) throw new KvError('decode', `${key}: not a JSON value`);
  set(key, text);
}

/** Removes `key`; removing a missing key is not an error. */
function del(key) {
  call(wit.delete, key);
}
export { del as delete };

/**
 * Adds `delta` to the decimal integer stored under `key` (a missing key counts
 * as 0) and returns the new value as this invocation sees it: a number, or a
 * bigint when `delta` is one (for counts past 2^53).
 */
export function increment(key, delta = 1) {
  const value = call(wit.increment, key, BigInt(delta));
  return typeof delta === 'bigint' ? value : Number(value);
}

/** The keys that start with `prefix`, in ascending byte order. */
export function list(prefix = '') {
  return call(wit.listKeys, prefix);
}
