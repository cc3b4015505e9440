// Resolves the SDK's `hookhost:plugin/*` imports to the fake host in this folder.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
