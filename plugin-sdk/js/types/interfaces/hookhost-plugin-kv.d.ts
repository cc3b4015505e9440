declare module 'hookhost:plugin/kv@0.2.0' {
  /**
   * The value stored under `key`, if any.
   */
  export function get(key: string): Uint8Array | undefined;
  /**
   * Stores `value` under `key`, replacing what was there.
   */
  export function set(key: string, value: Uint8Array): void;
  /**
   * Removes `key`; removing a missing key is not an error.
   */
  export { _delete as delete };
  function _delete(key: string): void;
  /**
   * Adds `delta` to the decimal integer stored under `key` (missing counts as 0)
   * and returns the new value as this invocation sees it.
   */
  export function increment(key: string, delta: bigint): bigint;
  /**
   * The keys that start with `prefix`, in ascending byte order.
   */
  export function listKeys(prefix: string): Array<string>;
  /**
   * Why a key-value operation failed.
   */
  export type Error = ErrorInvalidKey | ErrorTooLarge | ErrorQuotaExceeded | ErrorNotANumber | ErrorOther;
  /**
   * The key is empty or longer than 512 bytes.
   */
  export interface ErrorInvalidKey {
    tag: 'invalid-key',
    val: string,
  }
  /**
   * The value is larger than 1 MiB, or the invocation's write budget is spent.
   */
  export interface ErrorTooLarge {
    tag: 'too-large',
    val: string,
  }
  /**
   * The tenant's storage quota is used up.
   */
  export interface ErrorQuotaExceeded {
    tag: 'quota-exceeded',
    val: string,
  }
  /**
   * `increment` found a value that is not a decimal integer.
   */
  export interface ErrorNotANumber {
    tag: 'not-a-number',
    val: string,
  }
  /**
   * The store could not be read; retrying later may succeed.
   */
  export interface ErrorOther {
    tag: 'other',
    val: string,
  }
}
