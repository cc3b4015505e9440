import { host } from './host.mjs';
export function send(request) {
  host.requests.push(request);
  return host.respond(request);
}
