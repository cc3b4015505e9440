declare module 'hookhost:plugin/secret@0.2.0' {
  /**
   * The value of the secret `name`, if the endpoint defines it.
   */
  export function get(name: string): string | undefined;
}
