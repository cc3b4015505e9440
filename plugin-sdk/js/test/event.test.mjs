import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Event } from '../src/event.js';
import { HandlerError } from '../src/errors.js';

const raw = (body, more = {}) => ({
  id: 'evt_1',
  tenant: 'acme',
  endpoint: 'stripe',
  provider: 'stripe',
  eventType: 'payment_intent.succeeded',
  receivedAtMs: 1764000000123n,
  attempt: 2,
  headers: [['x-github-delivery', '72d3162e'], ['x-twice', 'first'], ['x-twice', 'second']],
  body: typeof body === 'string' ? new TextEncoder().encode(body) : body,
  ...more,
});

test('an event carries the WIT record, with the receive time as a number', () => {
  const event = new Event(raw('{}'));
  assert.equal(event.id, 'evt_1');
  assert.equal(event.eventType, 'payment_intent.succeeded');
  assert.equal(event.receivedAtMs, 1764000000123);
  assert.equal(event.attempt, 2);
  assert.equal(new Event(raw('{}', { eventType: undefined })).eventType, undefined);
});

test('header finds the first header of a name, whatever its case', () => {
  const event = new Event(raw(''));
  assert.equal(event.header('X-GitHub-Delivery'), '72d3162e');
  assert.equal(event.header('x-twice'), 'first');
  assert.equal(event.header('x-missing'), undefined);
});

test('text and json read the body', () => {
  const event = new Event(raw('{"amount": 2000}'));
  assert.equal(event.text(), '{"amount": 2000}');
  assert.deepEqual(event.json(), { amount: 2000 });
});

test('a body that is not JSON is a reject: it will not parse better next time', () => {
  const e = assert.throws(() => new Event(raw('not json')).json(), HandlerError);
  assert.throws(() => new Event(raw('not json')).json(), (e) => e.kind === 'reject' && /^event body is not the expected JSON: /.test(e.message));
});

test('a body that is not UTF-8 is a reject', () => {
  assert.throws(
    () => new Event(raw(new Uint8Array([0xff, 0xfe]))).text(),
    (e) => e instanceof HandlerError && e.kind === 'reject' && /^event body is not UTF-8/.test(e.message),
  );
});
