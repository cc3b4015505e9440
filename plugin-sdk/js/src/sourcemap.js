/**
 * A minimal source map (v3) reader: enough to map a generated line and column
 * back to the author's file, without a dependency. Decoding happens only when
 * a handler fails, so it favours size over speed.
 */

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** The Base64 VLQ numbers of one segment. */
export function decodeVlq(segment) {
  const values = [];
  let value = 0;
  let shift = 0;
  for (const ch of segment) {
    const digit = BASE64.indexOf(ch);
    if (digit < 0) throw new Error(`invalid base64 VLQ character ${JSON.stringify(ch)}`);
    value += (digit & 31) * 2 ** shift;
    if (digit & 32) {
      shift += 5;
    } else {
      values.push(value % 2 === 1 ? -(value - 1) / 2 : value / 2);
      value = 0;
      shift = 0;
    }
  }
  return values;
}

/**
 * The original position of a generated position, or undefined when the map
 * has no segment for it.
 * @param {{ sources: string[], mappings: string }} map
 * @param {number} line 1-based generated line
 * @param {number} column 0-based generated column
 * @returns {{ source: string, line: number, column: number } | undefined} 1-based line, 0-based column
 */
export function originalPosition(map, line, column) {
  const lines = map.mappings.split(';');
  if (line < 1 || line > lines.length) return undefined;
  // Source, line and column are deltas across the whole map, so every line before counts.
  let source = 0;
  let origLine = 0;
  let origColumn = 0;
  let best;
  for (let i = 0; i < line; i++) {
    let genColumn = 0;
    for (const segment of lines[i].split(',')) {
      if (!segment) continue;
      const [dCol, dSource, dLine, dOrigCol] = decodeVlq(segment);
      genColumn += dCol;
      if (dSource === undefined) continue;
      source += dSource;
      origLine += dLine;
      origColumn += dOrigCol;
      if (i === line - 1 && genColumn <= column) {
        best = { source: map.sources[source], line: origLine + 1, column: origColumn };
      }
    }
  }
  return best;
}
