declare module 'hookhost:plugin/log@0.2.0' {
  /**
   * Records one line. Past the invocation's log budget, lines are dropped
   * and a truncation marker is kept instead.
   */
  export function log(level: Level, message: string): void;
  /**
   * How much a line matters.
   * # Variants
   * 
   * ## `"trace"`
   * 
   * ## `"debug"`
   * 
   * ## `"info"`
   * 
   * ## `"warn"`
   * 
   * ## `"error"`
   */
  export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';
}
