/// <reference path="./interfaces/hookhost-plugin-config.d.ts" />
/// <reference path="./interfaces/hookhost-plugin-http-out.d.ts" />
/// <reference path="./interfaces/hookhost-plugin-kv.d.ts" />
/// <reference path="./interfaces/hookhost-plugin-log.d.ts" />
/// <reference path="./interfaces/hookhost-plugin-secret.d.ts" />
/// <reference path="./interfaces/hookhost-plugin-types.d.ts" />
declare module 'hookhost:plugin/handler@0.2.0' {
  export type Event = import('hookhost:plugin/types@0.2.0').Event;
  export type HandlerError = import('hookhost:plugin/types@0.2.0').HandlerError;
  export type * as HookhostPluginConfig020 from 'hookhost:plugin/config@0.2.0'; // import hookhost:plugin/config@0.2.0
  export type * as HookhostPluginHttpOut020 from 'hookhost:plugin/http-out@0.2.0'; // import hookhost:plugin/http-out@0.2.0
  export type * as HookhostPluginKv020 from 'hookhost:plugin/kv@0.2.0'; // import hookhost:plugin/kv@0.2.0
  export type * as HookhostPluginLog020 from 'hookhost:plugin/log@0.2.0'; // import hookhost:plugin/log@0.2.0
  export type * as HookhostPluginSecret020 from 'hookhost:plugin/secret@0.2.0'; // import hookhost:plugin/secret@0.2.0
  export type * as HookhostPluginTypes020 from 'hookhost:plugin/types@0.2.0'; // import hookhost:plugin/types@0.2.0
  /**
  * Handles one event. `ok` marks the delivery succeeded and commits the
  * invocation's key-value writes; an error decides between retry and dead letter.
  */
  export function handle(event: Event): void;
  export type Result<T, E> = { tag: 'ok', val: T } | { tag: 'err', val: E };
}
