import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const installed = (() => {
  try {
    createRequire(import.meta.url).resolve('@bytecodealliance/jco-transpile');
    return true;
  } catch {
    return false;
  }
})();

test('types/ is what jco generates from wit/ (npm run types regenerates it)', { skip: !installed && 'needs `npm install`' }, async () => {
  const { stale } = await import('../scripts/types.mjs');
  assert.deepEqual(await stale(), []);
});
