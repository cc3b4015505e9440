import './fake-host/register.mjs';
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { host } from './fake-host/host.mjs';

const { kv, KvError } = await import('../src/index.js');

beforeEach(() => host.reset());

test('strings are stored as UTF-8 and read back as bytes or text', () => {
  kv.set('greeting', 'héllo');
  assert.deepEqual([...kv.get('greeting')], [...new TextEncoder().encode('héllo')]);
  assert.equal(kv.getText('greeting'), 'héllo');
  assert.equal(kv.get('missing'), undefined);
  assert.equal(kv.getText('missing'), undefined);
});

test('JSON values round-trip; a value that is not JSON is a decode error, rejected', () => {
  kv.setJson('last', { order: 1001 });
  assert.deepEqual(kv.getJson('last'), { order: 1001 });
  assert.equal(kv.getJson('missing'), undefined);
  kv.set('bad', 'not json');
  assert.throws(() => kv.getJson('bad'), (e) => e instanceof KvError && e.code === 'decode' && e.kind === 'reject' && e.message.startsWith('bad JSON value: bad: '));
});

test('increment counts from zero, as a number or a bigint', () => {
  assert.equal(kv.increment('seen'), 1);
  assert.equal(kv.increment('seen', 5), 6);
  assert.equal(kv.increment('big', 9007199254740993n), 9007199254740993n);
});

test('list and delete', () => {
  kv.set('order:2', 'x');
  kv.set('order:1', 'x');
  kv.set('other', 'x');
  assert.deepEqual(kv.list('order:'), ['order:1', 'order:2']);
  kv.delete('order:1');
  assert.deepEqual(kv.list(), ['order:2', 'other']);
});

test('a store that cannot be read is retried; every other failure rejected', () => {
  const cases = [
    ['other', 'retry', 'key-value store failed: db down'],
    ['quota-exceeded', 'reject', 'storage quota exceeded: db down'],
    ['invalid-key', 'reject', 'invalid key: db down'],
    ['too-large', 'reject', 'value too large: db down'],
    ['not-a-number', 'reject', 'not a number: db down'],
  ];
  for (const [tag, kind, message] of cases) {
    host.kvFailure = [tag, 'db down'];
    assert.throws(() => kv.increment('n'), (e) => e instanceof KvError && e.code === tag && e.kind === kind && e.message === message, tag);
  }
});
