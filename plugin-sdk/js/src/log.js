/**
 * Log lines kept with the delivery attempt and shown by `delivery show`. Past
 * the invocation's log budget the host drops lines and keeps a truncation marker.
 */
import { log as witLog } from 'hookhost:plugin/log@0.2.0';

/** One line from `parts` as console.log would join them: strings as they are, errors with their stack, other objects as JSON. */
export function format(parts) {
  return parts.map(formatOne).join(' ');
}

function formatOne(part) {
  if (typeof part === 'string') return part;
  if (part instanceof Error) return part.stack ? `${part}\n${part.stack}` : String(part);
  if (typeof part === 'object' && part !== null) {
    try {
      return JSON.stringify(part, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
    } catch {
      return String(part);
    }
  }
  return String(part);
}

const at = (level) => (...parts) => witLog(level, format(parts));

/** Step-by-step detail. */
export const trace = at('trace');
/** Detail useful when debugging. */
export const debug = at('debug');
/** Normal operation. */
export const info = at('info');
/** Something unexpected that the handler got past. */
export const warn = at('warn');
/** A failure. */
export const error = at('error');
