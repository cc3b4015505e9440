import { reject } from './errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * One webhook, as the host received and verified it. The same event is handed
 * to the handler on every attempt and replay; only `attempt` changes.
 */
export class Event {
  /** @param {import('../types/interfaces/hookhost-plugin-types.js').Event} raw the WIT record */
  constructor(raw) {
    this.id = raw.id;
    this.tenant = raw.tenant;
    this.endpoint = raw.endpoint;
    this.provider = raw.provider;
    this.eventType = raw.eventType;
    // Milliseconds since the epoch fit a number exactly until the year 287396.
    this.receivedAtMs = Number(raw.receivedAtMs);
    this.attempt = raw.attempt;
    this.headers = raw.headers;
    this.body = raw.body;
  }

  /** The value of the first header named `name`, compared without regard to case. */
  header(name) {
    return headerOf(this.headers, name);
  }

  /** The body as text; a body that is not UTF-8 is a reject. */
  text() {
    try {
      return utf8.decode(this.body);
    } catch (e) {
      throw reject(`event body is not UTF-8: ${e.message}`);
    }
  }

  /** The body parsed as JSON; a body that is not JSON is a reject: it will not parse better next time. */
  json() {
    const text = this.text();
    try {
      return JSON.parse(text);
    } catch (e) {
      throw reject(`event body is not the expected JSON: ${e.message}`);
    }
  }
}

/** The value of the first pair named `name` (ASCII case-insensitive) in `[name, value]` pairs. */
export function headerOf(headers, name) {
  const wanted = name.toLowerCase();
  const found = headers.find(([k]) => k.toLowerCase() === wanted);
  return found?.[1];
}
