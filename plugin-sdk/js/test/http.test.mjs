import './fake-host/register.mjs';
import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { fail, host } from './fake-host/host.mjs';

const { http, HttpError } = await import('../src/index.js');
const { parseRetryAfter } = await import('../src/http.js');

const text = (bytes) => new TextDecoder().decode(bytes);
const answer = (status, headers = [], body = 'busy') => () => ({ status, headers, body: new TextEncoder().encode(body) });
/** The HandlerError a bare `http.postJson` throws for this answer, as the WIT error. */
function outcome(respond) {
  host.respond = respond;
  try {
    http.postJson('https://hooks.example.com/x', {});
  } catch (e) {
    assert.ok(e instanceof HttpError);
    return e.toWit();
  }
  return 'ok';
}

beforeEach(() => host.reset());

test('postJson sends compact JSON with content-type application/json and nothing else', () => {
  http.postJson('https://hooks.slack.com/services/T/B/X', { text: 'Payment received: 20.00 USD' });
  assert.equal(host.requests.length, 1);
  const [request] = host.requests;
  assert.equal(request.method, 'POST');
  assert.equal(request.url, 'https://hooks.slack.com/services/T/B/X');
  assert.deepEqual(request.headers, [['content-type', 'application/json']]);
  assert.equal(text(request.body), '{"text":"Payment received: 20.00 USD"}');
  assert.equal(request.timeoutMs, undefined);
});

test('send takes headers as an object or pairs, a string or bytes body, and a timeout', () => {
  http.send({ method: 'put', url: 'https://a.example/', headers: { 'X-A': '1' }, body: 'hi', timeoutMs: 1500.4 });
  http.send({ url: 'https://a.example/', headers: [['x-b', '2'], ['x-b', '3']], body: new Uint8Array([1, 2]) });
  const [put, get] = host.requests;
  assert.deepEqual([put.method, put.headers, text(put.body), put.timeoutMs], ['PUT', [['X-A', '1']], 'hi', 1500]);
  assert.deepEqual([get.method, get.headers, [...get.body]], ['GET', [['x-b', '2'], ['x-b', '3']], [1, 2]]);
});

test('a json body replaces any content-type set before', () => {
  http.send({ method: 'POST', url: 'https://a.example/', headers: { 'Content-Type': 'text/plain', 'x-a': '1' }, json: [1] });
  assert.deepEqual(host.requests[0].headers, [['x-a', '1'], ['content-type', 'application/json']]);
});

test('a value JSON cannot hold is an invalid request, rejected, never sent', () => {
  assert.throws(() => http.postJson('https://a.example/', { n: 1n }), (e) => e.code === 'invalid-request' && e.kind === 'reject');
  assert.equal(host.requests.length, 0);
});

test('send returns every status; the checked helpers throw outside 2xx', () => {
  host.respond = answer(404, [['content-type', 'text/plain']], 'no such page');
  const response = http.send({ url: 'https://a.example/' });
  assert.deepEqual([response.status, response.ok, response.text(), response.header('Content-Type')], [404, false, 'no such page', 'text/plain']);
  assert.throws(() => http.get('https://a.example/'), (e) => e.status === 404 && e.body === 'no such page' && e.message === 'HTTP status 404: no such page');
  host.respond = answer(201, [], '{"id":1}');
  assert.deepEqual(http.post('https://a.example/', { body: 'x' }).json(), { id: 1 });
});

test('a 429 or 503 with Retry-After is retried no sooner than asked', () => {
  for (const status of [429, 503]) {
    assert.deepEqual(outcome(answer(status, [['retry-after', '30']])), {
      tag: 'retry-after',
      val: { message: `HTTP status ${status}: busy`, afterMs: 30_000n },
    });
  }
});

test('without a readable Retry-After, 429 and 503 are plain retries', () => {
  assert.deepEqual(outcome(answer(429)), { tag: 'retry', val: 'HTTP status 429: busy' });
  assert.deepEqual(outcome(answer(503, [['retry-after', 'whenever']])), { tag: 'retry', val: 'HTTP status 503: busy' });
});

test('Retry-After on another status is not a wait', () => {
  assert.deepEqual(outcome(answer(500, [['retry-after', '30']])), { tag: 'retry', val: 'HTTP status 500: busy' });
  assert.deepEqual(outcome(answer(301, [['retry-after', '30']])), { tag: 'reject', val: 'HTTP status 301: busy' });
});

test('408 and 5xx retry; 410 Gone and the other 4xx reject', () => {
  assert.equal(outcome(answer(408)).tag, 'retry');
  assert.equal(outcome(answer(502)).tag, 'retry');
  assert.deepEqual(outcome(answer(410)), { tag: 'reject', val: 'HTTP status 410: busy' });
  assert.equal(outcome(answer(400)).tag, 'reject');
  assert.equal(outcome(answer(200)), 'ok');
});

test('the host\'s refusals and failures map as in the Rust SDK', () => {
  const cases = [
    [['access-denied', '169.254.169.254 is not allowed'], { tag: 'reject', val: 'access denied: 169.254.169.254 is not allowed' }],
    [['invalid-request', 'bad URL'], { tag: 'reject', val: 'invalid request: bad URL' }],
    [['timeout'], { tag: 'retry', val: 'request timed out' }],
    [['too-large'], { tag: 'reject', val: 'response body too large' }],
    [['budget-exhausted'], { tag: 'reject', val: 'outbound call budget exhausted' }],
    [['other', 'connection refused'], { tag: 'retry', val: 'request failed: connection refused' }],
  ];
  for (const [failure, expected] of cases) {
    assert.deepEqual(outcome(() => fail(...failure)), expected, failure[0]);
  }
});

test('an error message shows at most 512 bytes of the body, trimmed, cut at a character', () => {
  assert.equal(outcome(answer(500, [], '  \n')).val, 'HTTP status 500');
  const long = `${'a'.repeat(511)}é and more`;
  assert.equal(outcome(answer(500, [], long)).val, `HTTP status 500: ${'a'.repeat(511)}...`);
});

test('Retry-After is delta-seconds or an HTTP-date from now', () => {
  const now = Date.UTC(1994, 10, 6, 8, 49, 37);
  assert.equal(parseRetryAfter('120', now), 120_000);
  assert.equal(parseRetryAfter(' 0 ', now), 0);
  assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:50:37 GMT', now), 60_000);
  assert.equal(parseRetryAfter('Sunday, 06-Nov-94 08:50:37 GMT', now), 60_000);
  assert.equal(parseRetryAfter('Sun Nov  6 08:50:37 1994', now), 60_000);
  assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter('99999999999999999999999', now), 99999999999999999999999 * 1000);
  for (const unreadable of ['', '-5', '1.5', 'soon', 'Sun, 06 Nov 1994 08:50:37 PST']) {
    assert.equal(parseRetryAfter(unreadable, now), undefined, unreadable);
  }
});
