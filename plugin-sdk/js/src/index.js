/**
 * Write hookhost webhook handlers in JavaScript or TypeScript.
 *
 * A handler module exports `handle(event)`, plain or async. Returning marks
 * the delivery succeeded (and commits its key-value writes); `throw retry(..)`
 * asks the host to run it again later, `throw retryAfter(.., ms)` no sooner
 * than a wait, and `throw reject(..)` dead-letters it. Uncaught errors of the
 * SDK (`HttpError`, `KvError`, a bad JSON body) are retried or rejected by
 * their cause; any other exception traps, with its message and stack in the
 * author's files as the attempt's outcome.
 */
export { HandlerError, retry, retryAfter, reject } from './errors.js';
export { Event } from './event.js';
export { HttpError, Response } from './http.js';
export { KvError } from './kv.js';
export * as http from './http.js';
export * as kv from './kv.js';
export * as config from './config.js';
export * as secret from './secret.js';
export * as log from './log.js';
