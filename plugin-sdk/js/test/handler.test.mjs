import './fake-host/register.mjs';
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { setImmediate } from 'node:timers/promises';
import { host } from './fake-host/host.mjs';

const sdk = await import('../src/index.js');
const { wrap } = await import('../src/entry.js');

const raw = { id: 'evt_1', tenant: 't', endpoint: 'e', provider: 'none', eventType: 'x', receivedAtMs: 1n, attempt: 1, headers: [], body: new Uint8Array() };

/** What the export returns, or 'pending' when its promise has not settled after the event loop ran. */
async function settle(handle) {
  let settled = 'pending';
  wrap(handle)(raw).then((v) => (settled = v));
  await setImmediate();
  return settled;
}

beforeEach(() => host.reset());

test('a handler that returns succeeds, sync or async', async () => {
  assert.deepEqual(await settle(() => {}), { tag: 'ok', val: undefined });
  assert.deepEqual(await settle(async (event) => { await null; sdk.log.info('saw', event.id); }), { tag: 'ok', val: undefined });
  assert.deepEqual(host.logs, [['info', 'saw evt_1']]);
});

test('thrown or rejected HandlerErrors become the handler\'s error', async () => {
  assert.deepEqual(await settle(() => { throw sdk.reject('nope'); }), { tag: 'err', val: { tag: 'reject', val: 'nope' } });
  assert.deepEqual(await settle(async () => { await null; throw sdk.retry('later'); }), { tag: 'err', val: { tag: 'retry', val: 'later' } });
});

test('a bare http call that fails propagates as the SDK maps it', async () => {
  host.respond = () => ({ status: 429, headers: [['retry-after', '7']], body: new Uint8Array() });
  assert.deepEqual(await settle(() => { sdk.http.postJson('https://a.example/', {}); }), {
    tag: 'err',
    val: { tag: 'retry-after', val: { message: 'HTTP status 429', afterMs: 7000n } },
  });
});

test('any other exception writes the Uncaught block to stderr, then traps through fetch (never settling should it return)', async (t) => {
  const written = [];
  t.mock.method(console, 'error', (line) => written.push(line));
  const fetched = t.mock.method(globalThis, 'fetch', async () => { throw new TypeError('no network'); });
  assert.equal(await settle(() => { throw new RangeError('out of range'); }), 'pending');
  assert.equal(await settle(async () => { await null; throw 'plain'; }), 'pending');
  // node's V8 stack has no SpiderMonkey frames to map: the headline alone.
  assert.equal(written[0], 'Uncaught RangeError: out of range');
  assert.equal(written[1], 'Uncaught string: plain');
  assert.equal(fetched.mock.callCount(), 2);
});

test('the module must export a function named handle', () => {
  assert.throws(() => wrap(undefined), /must export a function named handle, found undefined/);
});
