// Posts a Slack message for every Stripe `payment_intent.succeeded` event:
// the TypeScript twin of plugins/stripe-to-slack, posting the same request.
// See README.md for the configuration and the exact request.
import { type Event, config, http, log, reject } from '@hookhost/sdk';

const SUCCEEDED = 'payment_intent.succeeded';

/** Currencies Stripe counts in whole units: 5000 JPY is "5000 JPY". */
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);

/** Currencies Stripe counts in thousandths: 1500 KWD is "1.500 KWD". */
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

/** What to do with one event: ignore a type, or post a text. */
type Action = { ignore: string } | { post: string };

export function handle(event: Event): void {
  const action = actionFor(event);
  if ('ignore' in action) {
    log.info(`ignoring ${action.ignore}`);
    return;
  }
  const url = config.get('slack_url');
  if (url === undefined) throw reject('slack_url not set');
  http.postJson(url, { text: action.post });
  log.info(`posted to Slack: ${action.post}`);
}

export function actionFor(event: Event): Action {
  // The host names the type from the payload's `type`; read it ourselves only when it did not.
  if (event.eventType !== undefined && event.eventType !== SUCCEEDED) return { ignore: event.eventType };
  const payload = event.json();
  const eventType = event.eventType ?? stringOr(payload?.type, 'unknown');
  if (eventType !== SUCCEEDED) return { ignore: eventType };
  return { post: paymentText(payload?.data?.object) };
}

/** "Payment received: 20.00 USD from cus_NffrFeUfNV2Hib (pi_3MtwBwLkdIwHu7ix28a3tqPa)". */
export function paymentText(intent: any): string {
  const id = intent?.id;
  if (typeof id !== 'string') throw reject('payment intent without data.object.id');
  const amount = intent.amount;
  if (!Number.isSafeInteger(amount)) throw reject(`payment intent ${id} without an integer data.object.amount`);
  const currency = intent.currency;
  if (typeof currency !== 'string') throw reject(`payment intent ${id} without data.object.currency`);
  const customer = stringOr(intent.customer, stringOr(intent.receipt_email, 'unknown customer'));
  return `Payment received: ${formatAmount(amount, currency)} from ${customer} (${id})`;
}

/** An amount in minor units as Stripe counts them, currency upper-cased: (2000, "usd") is "20.00 USD". */
export function formatAmount(amount: number, currency: string): string {
  const lower = asciiLower(currency);
  const upper = asciiUpper(currency);
  const decimals = ZERO_DECIMAL.has(lower) ? 0 : THREE_DECIMAL.has(lower) ? 3 : 2;
  if (decimals === 0) return `${amount} ${upper}`;
  const scale = 10 ** decimals;
  const sign = amount < 0 ? '-' : '';
  const abs = Math.abs(amount);
  return `${sign}${Math.floor(abs / scale)}.${String(abs % scale).padStart(decimals, '0')} ${upper}`;
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

// Rust's to_ascii_*case: letters outside ASCII stay as they are.
const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
const asciiUpper = (s: string) => s.replace(/[a-z]/g, (c) => c.toUpperCase());
