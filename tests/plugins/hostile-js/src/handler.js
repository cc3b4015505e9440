// Test plugin: one attack on the host's bounds, chosen by config `attack`, for
// the hostile-tenant suite: the JavaScript twin of tests/plugins/hostile and
// its siblings. Each ignores the host's refusals and goes on, as an attacker
// would, then says what it got.
import { config, http, log, reject, retry } from '@hookhost/sdk';

const MIB = 1024 * 1024;

const attacks = {
  // Never returns: only the deadline (epoch interruption) stops it.
  spin() {
    for (let i = 0; ; i = (i + 1) | 0);
  },
  // Holds ever more memory until the instance's limit refuses it.
  memory() {
    const held = [];
    for (;;) held.push(new Uint8Array(MIB).fill(1));
  },
  // Far past any log budget, through both console and the log interface.
  'log-flood'() {
    const line = 'x'.repeat(1000);
    for (let i = 0; i < 100_000; i++) {
      console.log(`${i} ${line}`);
      log.info(`${i} ${line}`);
    }
  },
  // The cloud metadata service and a loopback port the endpoint does not allow.
  metadata() {
    const port = config.get('port') ?? '80';
    for (const url of ['http://169.254.169.254/latest/meta-data/', `http://127.0.0.1:${port}/`]) {
      try {
        const response = http.send({ url });
        log.info(`${url}: status ${response.status}: ${response.text()}`);
      } catch (e) {
        log.info(`${url}: ${e.message}`);
      }
    }
  },
  throw() {
    nested();
  },
  async 'async-throw'() {
    await null;
    nested();
  },
  retry() {
    throw retry('retry from js');
  },
  reject() {
    throw reject('reject from js');
  },
  // What a Node.js program would reach for: its environment and require.
  env() {
    const env = globalThis.process?.env;
    const keys = env ? Object.keys(env).length : 0;
    log.info(`process: ${typeof globalThis.process}, env keys: ${keys}, require: ${typeof globalThis.require}`);
    if (keys > 0 || typeof globalThis.require !== 'undefined') throw reject('sandbox leak: environment or require');
  },
  // A file, by a dynamic import the bundler cannot see: the bundle is the whole
  // program, and componentize-js 0.23 traps on a module load after build time.
  async fs() {
    const path = ['', 'etc', 'passwd'].join('/');
    let mod;
    try {
      mod = await import(path);
    } catch (e) {
      log.info(`import ${path}: ${e}`);
      return;
    }
    throw reject(`sandbox leak: imported ${path}: ${Object.keys(mod)}`);
  },
  // fetch: the build stubs wasi:http with `unreachable`, so it traps at once.
  async fetch() {
    if (typeof globalThis.fetch !== 'function') {
      log.info('fetch: none');
      return;
    }
    try {
      const response = await fetch('http://169.254.169.254/latest/meta-data/');
      throw reject(`sandbox leak: fetch answered ${response.status}`);
    } catch (e) {
      if (e?.kind === 'reject') throw e;
      log.info(`fetch: ${e}`);
    }
  },
  // Never settles: the engine has nothing left to run and traps.
  async pending() {
    await new Promise(() => {});
  },
};

function nested() {
  throw new Error('boom from js');
}

export function handle() {
  const attack = config.get('attack');
  if (attack === undefined) throw reject('attack not set');
  const run = attacks[attack];
  if (run === undefined) throw reject(`unknown attack: ${attack}`);
  return run();
}
