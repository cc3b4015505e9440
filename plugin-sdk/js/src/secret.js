/**
 * The endpoint's plugin secrets. The host replaces every occurrence of a
 * secret's exact value in log lines, stdout, stderr and outcome messages with
 * `[secret NAME]`; an encoded or transformed value is kept as written, so never
 * log what you derive from one.
 */
import * as wit from 'hookhost:plugin/secret@0.2.0';

/** The value of the secret `name`, or undefined when the endpoint does not define it. */
export function get(name) {
  return wit.get(name);
}
