declare module 'hookhost:plugin/types@0.2.0' {
  /**
   * One webhook, as the host received and verified it.
   * 
   * The same event is handed to the handler on every attempt and replay;
   * only `attempt` changes.
   */
  export interface Event {
    /**
     * The delivery id: stable across retries and replays, and the prefix
     * of the `Idempotency-Key` the host puts on every outbound call.
     */
    id: string,
    /**
     * The tenant that owns the endpoint.
     */
    tenant: string,
    /**
     * The endpoint the webhook was posted to.
     */
    endpoint: string,
    /**
     * The verification scheme of the endpoint: "stripe", "github",
     * "shopify", "slack", "standard-webhooks", "hmac" or "none".
     */
    provider: string,
    /**
     * The provider's event type where it names one
     * ("payment_intent.succeeded", the X-GitHub-Event header, ...).
     */
    eventType?: string,
    /**
     * When the host accepted the webhook, in milliseconds since the Unix epoch.
     */
    receivedAtMs: bigint,
    /**
     * 1 on the first try, incremented by every retry and replay.
     */
    attempt: number,
    /**
     * The request headers as received, names in lower case.
     */
    headers: Array<[string, string]>,
    /**
     * The raw request body, byte for byte as the signature covered it.
     */
    body: Uint8Array,
  }
  /**
   * A transient failure whose receiver said when to come back.
   */
  export interface RetryLater {
    /**
     * Why the handler failed, as for `retry`.
     */
    message: string,
    /**
     * How long to wait, in milliseconds from now.
     */
    afterMs: bigint,
  }
  /**
   * Why a handler did not succeed; it decides what the host does next.
   */
  export type HandlerError = HandlerErrorRetry | HandlerErrorReject | HandlerErrorRetryAfter;
  /**
   * A transient failure: the host runs the handler again later, with backoff.
   */
  export interface HandlerErrorRetry {
    tag: 'retry',
    val: string,
  }
  /**
   * A permanent failure: the delivery is dead-lettered at once.
   */
  export interface HandlerErrorReject {
    tag: 'reject',
    val: string,
  }
  /**
   * A transient failure whose receiver said when to come back (a 429
   * or 503 with `Retry-After`): the host runs the handler again no
   * sooner than `after-ms` from now, and no sooner than the retry
   * policy's own delay, within the policy's attempts. A wait longer
   * than one week counts as one week.
   */
  export interface HandlerErrorRetryAfter {
    tag: 'retry-after',
    val: RetryLater,
  }
}
