declare module 'hookhost:plugin/config@0.2.0' {
  /**
   * The value of one setting, if the endpoint defines it.
   */
  export function get(key: string): string | undefined;
  /**
   * Every setting of the endpoint, sorted by key.
   */
  export function getAll(): Array<[string, string]>;
}
