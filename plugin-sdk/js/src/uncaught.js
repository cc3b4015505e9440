/**
 * The `Uncaught ...` block a handler's unexpected exception leaves on stderr:
 * the host takes it as the attempt's trap message. SpiderMonkey's stack
 * positions point into the bundle; the bundle's source map, embedded by the
 * build, turns them into positions in the author's files.
 */
import { originalPosition } from './sourcemap.js';

/** Where the build puts the bundle's source map: `{ file, sources, mappings }`. */
export const SOURCE_MAP = Symbol.for('hookhost.sourcemap');

/** The SDK's own glue between the host and the handler, left out of stacks. */
const ENTRY = /(^|\/)@hookhost\/sdk\/src\/entry\.js$|(^|\/)plugin-sdk\/js\/src\/entry\.js$/;

/** One SpiderMonkey frame: `name@file:line:column`, with `async*` before resumed async functions. */
const FRAME = /^(?:async\*)?(.*)@(.*):(\d+):(\d+)$/;

/** The first line of the block: `Uncaught <Type>: <message>`. */
export function headline(thrown) {
  if (thrown instanceof Error) return `Uncaught ${thrown.name}: ${thrown.message}`;
  if (thrown === null || typeof thrown !== 'object') return `Uncaught ${thrown === null ? 'null' : typeof thrown}: ${String(thrown)}`;
  let shown;
  try {
    shown = JSON.stringify(thrown);
  } catch {
    shown = String(thrown);
  }
  return `Uncaught ${thrown.constructor?.name ?? 'Object'}: ${shown}`;
}

/**
 * The stack of `thrown` as `    at name (file:line:column)` lines, in the
 * author's files when the map knows the position (lines and columns 1-based,
 * as node prints them).
 * @param {string | undefined} stack SpiderMonkey's `error.stack`
 * @param {{ file: string, sources: string[], mappings: string } | undefined} map
 */
export function frames(stack, map) {
  const out = [];
  for (const raw of (stack ?? '').split('\n')) {
    const found = FRAME.exec(raw.trim());
    if (!found) continue;
    const [, name, file, line, column] = found;
    if (map && !file.endsWith(map.file)) continue; // the engine's own glue
    // SpiderMonkey columns are 1-based, source maps' 0-based.
    const at = map && originalPosition(map, Number(line), Number(column) - 1);
    const where = at ? `${at.source}:${at.line}:${at.column + 1}` : `${file}:${line}:${column}`;
    if (at && ENTRY.test(at.source)) continue;
    out.push(`    at ${name || '<anonymous>'} (${where})`);
  }
  return out;
}

/** The whole block for `thrown`. */
export function uncaughtBlock(thrown, map) {
  const stack = thrown instanceof Error ? thrown.stack : undefined;
  return [headline(thrown), ...frames(stack, map)].join('\n');
}
