/** The endpoint's settings, read-only. */
import * as wit from 'hookhost:plugin/config@0.2.0';

/** The value of the setting `key`, or undefined when the endpoint does not define it. */
export function get(key) {
  return wit.get(key);
}

/** Every setting of the endpoint as `[key, value]` pairs, sorted by key (`Object.fromEntries` makes an object). */
export function all() {
  return wit.getAll();
}
