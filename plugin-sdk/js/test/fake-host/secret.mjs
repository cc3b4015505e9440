import { host } from './host.mjs';
export const get = (name) => host.secrets.get(name);
