/**
 * The glue the build puts between the host and the author's `handle`: it is
 * the component's `handle` export. Not a public API.
 */
import { Event } from './event.js';
import { HandlerError } from './errors.js';
import { SOURCE_MAP, uncaughtBlock } from './uncaught.js';

// StarlingMonkey sends console.debug to stderr; the SDK promises stdout for
// log, info and debug, and stderr for warn and error. Set once, at build time
// (the module's top level is snapshotted into the component).
console.debug = console.log;

const OK = { tag: 'ok', val: undefined };

/**
 * The export for the author's `handle(event)`, sync or async. A HandlerError
 * (retry, reject, an uncaught HttpError or KvError) becomes the handler's
 * error; anything else writes the `Uncaught ...` block to stderr and traps.
 */
export function wrap(handle) {
  if (typeof handle !== 'function') {
    throw new TypeError(`the handler module must export a function named handle, found ${typeof handle}`);
  }
  return async function hookhostHandle(raw) {
    try {
      await handle(new Event(raw));
      return OK;
    } catch (e) {
      if (e instanceof HandlerError) return { tag: 'err', val: e.toWit() };
      console.error(uncaughtBlock(e, globalThis[SOURCE_MAP]));
      return trap();
    }
  };
}

/**
 * Traps the invocation, leaving the `Uncaught` block as the last words on
 * stderr. An exception escaping the export would trap too, but only after
 * StarlingMonkey printed it again (with the bindings' internals). The build
 * disables componentize-js's `http` feature, which stubs the wasi:http imports
 * with `unreachable`: `fetch` traps at once, silently. Should it ever return, a
 * promise that can never settle traps as well once the event loop is idle,
 * after one line of the engine's own.
 */
function trap() {
  try {
    fetch('http://hookhost.invalid/trap').catch(() => {});
  } catch {
    // no fetch at all: the promise below traps
  }
  return new Promise(() => {});
}
