declare module 'hookhost:plugin/http-out@0.2.0' {
  /**
   * Sends one request and waits for its response.
   */
  export function send(request: Request): Response;
  /**
   * A request to send.
   */
  export interface Request {
    /**
     * The method in upper case: "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" or "OPTIONS".
     */
    method: string,
    /**
     * An absolute `http` or `https` URL.
     */
    url: string,
    /**
     * Request headers; the host adds `idempotency-key` when absent.
     */
    headers: Array<[string, string]>,
    /**
     * The request body; empty for none.
     */
    body: Uint8Array,
    /**
     * A per-call timeout, capped by the host's own and by the invocation's deadline.
     */
    timeoutMs?: number,
  }
  /**
   * The answer of the remote server, whatever its status.
   */
  export interface Response {
    /**
     * The HTTP status code.
     */
    status: number,
    /**
     * Response headers, names in lower case.
     */
    headers: Array<[string, string]>,
    /**
     * The response body, at most the host's response cap.
     */
    body: Uint8Array,
  }
  /**
   * Why a request was not answered.
   */
  export type Error = ErrorAccessDenied | ErrorInvalidRequest | ErrorTimeout | ErrorTooLarge | ErrorBudgetExhausted | ErrorOther;
  /**
   * The host is not on the endpoint's allow-list, or resolves to a refused address.
   */
  export interface ErrorAccessDenied {
    tag: 'access-denied',
    val: string,
  }
  /**
   * The request is malformed: bad URL, scheme, method or header.
   */
  export interface ErrorInvalidRequest {
    tag: 'invalid-request',
    val: string,
  }
  /**
   * No complete answer within the timeout.
   */
  export interface ErrorTimeout {
    tag: 'timeout',
  }
  /**
   * The response body is larger than the host's cap.
   */
  export interface ErrorTooLarge {
    tag: 'too-large',
  }
  /**
   * This invocation has used all the outbound calls it is allowed.
   */
  export interface ErrorBudgetExhausted {
    tag: 'budget-exhausted',
  }
  /**
   * A transport failure: connection refused or reset, TLS, DNS.
   */
  export interface ErrorOther {
    tag: 'other',
    val: string,
  }
}
