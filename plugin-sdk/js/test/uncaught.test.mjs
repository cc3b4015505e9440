import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { frames, headline, uncaughtBlock } from '../src/uncaught.js';

const map = {
  file: 'bundle.js',
  ...JSON.parse(readFileSync(new URL('./fixtures/bundle.js.map', import.meta.url), 'utf8')),
};

// A stack as SpiderMonkey writes it for fixtures/bundle.js, 1-based columns,
// under the engine's own glue.
const stack = [
  'helper@dist/bundle.js:3:9',
  'handle@dist/bundle.js:9:3',
  'export_handle@/2f1e/sources/initializer.js:1166:17',
  '',
].join('\n');

test('the headline names the exception type and message', () => {
  assert.equal(headline(new TypeError('x is undefined')), 'Uncaught TypeError: x is undefined');
  assert.equal(headline(new Error('boom from js')), 'Uncaught Error: boom from js');
  assert.equal(headline('a string'), 'Uncaught string: a string');
  assert.equal(headline(42), 'Uncaught number: 42');
  assert.equal(headline(null), 'Uncaught null: null');
  assert.equal(headline({ code: 7 }), 'Uncaught Object: {"code":7}');
});

test('frames point into the author\'s files, without the engine\'s glue', () => {
  assert.deepEqual(frames(stack, map), [
    '    at helper (src/helper.ts:2:9)',
    '    at handle (src/handler.ts:6:3)',
  ]);
});

test('without a map, frames keep the bundle positions', () => {
  assert.deepEqual(frames('helper@dist/bundle.js:3:9\n', undefined), ['    at helper (dist/bundle.js:3:9)']);
});

test('resumed async functions and anonymous functions are named as node names them', () => {
  assert.deepEqual(frames('async*handle@dist/bundle.js:9:3\n@dist/bundle.js:3:9\n', map), [
    '    at handle (src/handler.ts:6:3)',
    '    at <anonymous> (src/helper.ts:2:9)',
  ]);
});

test('frames of the SDK\'s entry glue are left out', () => {
  const entryMap = { file: 'b.js', sources: ['node_modules/@hookhost/sdk/src/entry.js'], mappings: 'AAAA' };
  assert.deepEqual(frames('hookhostHandle@dist/b.js:1:1\n', entryMap), []);
});

test('the block is the headline, then the frames', () => {
  const e = new Error('boom 1');
  e.stack = stack;
  assert.equal(
    uncaughtBlock(e, map),
    'Uncaught Error: boom 1\n    at helper (src/helper.ts:2:9)\n    at handle (src/handler.ts:6:3)',
  );
  assert.equal(uncaughtBlock('plain', map), 'Uncaught string: plain');
});
