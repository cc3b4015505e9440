import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HandlerError, reject, retry, retryAfter } from '../src/errors.js';

test('retry, retryAfter and reject become the WIT handler-error', () => {
  assert.deepEqual(retry('database busy').toWit(), { tag: 'retry', val: 'database busy' });
  assert.deepEqual(reject('slack_url not set').toWit(), { tag: 'reject', val: 'slack_url not set' });
  assert.deepEqual(retryAfter('rate limited', 30_000).toWit(), {
    tag: 'retry-after',
    val: { message: 'rate limited', afterMs: 30_000n },
  });
});

test('they are Errors with a kind, thrown by the handler', () => {
  const e = retry('later');
  assert.ok(e instanceof Error && e instanceof HandlerError);
  assert.equal(e.message, 'later');
  assert.equal(e.isRetry, true);
  assert.equal(retryAfter('x', 1).isRetry, true);
  assert.equal(reject('x').isRetry, false);
});

test('a wait is whole milliseconds, never negative, at most what a number holds exactly', () => {
  assert.equal(retryAfter('x', 1.2).toWit().val.afterMs, 2n);
  assert.equal(retryAfter('x', -5).toWit().val.afterMs, 0n);
  assert.equal(retryAfter('x', Infinity).toWit().val.afterMs, BigInt(Number.MAX_SAFE_INTEGER));
});
