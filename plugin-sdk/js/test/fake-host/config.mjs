import { host } from './host.mjs';
export const get = (key) => host.config.get(key);
export const getAll = () => [...host.config].sort(([a], [b]) => (a < b ? -1 : 1));
