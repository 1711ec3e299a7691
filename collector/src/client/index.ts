// What other Node programs import from @rexmon/collector: the event client.
export { configureEvents, EventClient, sendEvent, sharedEventClient } from './events.js';
export type { DropReason, EventClientOptions, EventClientStats, EventValue, SendOptions } from './events.js';
