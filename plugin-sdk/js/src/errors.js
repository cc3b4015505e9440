/**
 * Why a handler did not succeed: thrown from a handler, its `kind` decides what
 * the host does next. Build one with `retry`, `retryAfter` or `reject`; the
 * SDK's `HttpError` and `KvError` are HandlerErrors too, so a failure the
 * handler does not catch is retried or rejected as it should be.
 */
export class HandlerError extends Error {
  /**
   * @param {'retry' | 'reject' | 'retry-after'} kind
   * @param {string} message
   * @param {number} [afterMs] how long to wait at least, for 'retry-after'
   */
  constructor(kind, message, afterMs) {
    super(message);
    this.name = 'HandlerError';
    this.kind = kind;
    if (kind === 'retry-after') this.afterMs = afterMs;
  }

  /** Whether the host will run the handler again (within its retry policy). */
  get isRetry() {
    return this.kind !== 'reject';
  }

  /** The `handler-error` of the WIT world. */
  toWit() {
    if (this.kind === 'retry-after') {
      const afterMs = Math.min(Math.max(0, Math.ceil(this.afterMs)), Number.MAX_SAFE_INTEGER);
      return { tag: 'retry-after', val: { message: this.message, afterMs: BigInt(afterMs) } };
    }
    return { tag: this.kind, val: this.message };
  }
}

/** A transient failure: the host runs the handler again later, with backoff. */
export function retry(message) {
  return new HandlerError('retry', String(message));
}

/**
 * A transient failure whose receiver said when to come back: the host runs the
 * handler again no sooner than `afterMs` milliseconds from now (nor sooner than
 * the retry policy would), within the policy's attempts.
 */
export function retryAfter(message, afterMs) {
  return new HandlerError('retry-after', String(message), Number(afterMs));
}

/** A permanent failure: the delivery is dead-lettered at once. */
export function reject(message) {
  return new HandlerError('reject', String(message));
}

/** The variant of a WIT `result` error a host call threw (componentize-js's ComponentError), if `e` is one. */
export function hostErrorOf(e) {
  return e !== null && typeof e === 'object' && Object.hasOwn(e, 'payload') ? e.payload : undefined;
}
