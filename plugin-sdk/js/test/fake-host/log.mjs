import { host } from './host.mjs';
export const log = (level, message) => host.logs.push([level, message]);
