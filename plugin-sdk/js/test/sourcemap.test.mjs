import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { decodeVlq, originalPosition } from '../src/sourcemap.js';

// fixtures/bundle.js is esbuild's bundle of fixtures/src/*.ts, with its map.
const map = JSON.parse(readFileSync(new URL('./fixtures/bundle.js.map', import.meta.url), 'utf8'));

test('VLQ segments decode to signed numbers', () => {
  assert.deepEqual(decodeVlq('AAAA'), [0, 0, 0, 0]);
  assert.deepEqual(decodeVlq('CAAC'), [1, 0, 0, 1]);
  assert.deepEqual(decodeVlq('D'), [-1]);
  assert.deepEqual(decodeVlq('gB'), [16]);
  assert.deepEqual(decodeVlq('2HwB'), [123, 24]);
  assert.throws(() => decodeVlq('A!'), /invalid base64 VLQ/);
});

test('a bundle position maps to the line and column in the author\'s file', () => {
  // bundle.js line 3 is `  throw new Error(...)` of helper.ts line 2.
  assert.deepEqual(originalPosition(map, 3, 8), { source: 'src/helper.ts', line: 2, column: 8 });
  // Line 9 is `  helper(id);` of handler.ts line 6, past the TypeScript annotations.
  assert.deepEqual(originalPosition(map, 9, 2), { source: 'src/handler.ts', line: 6, column: 2 });
  // A column inside a segment maps to the segment's start.
  assert.deepEqual(originalPosition(map, 9, 5), { source: 'src/handler.ts', line: 6, column: 2 });
});

test('positions the map does not cover map to nothing', () => {
  assert.equal(originalPosition(map, 1, 0), undefined); // the `// src/helper.ts` comment
  assert.equal(originalPosition(map, 0, 0), undefined);
  assert.equal(originalPosition(map, 999, 0), undefined);
});
