// Forwarding between collectors: the sender (pipeline + event processor, on-disk buffer, posting loop) and
// the receiver (POST /api/v1/forward with idempotent batch ids).
export { BufferFull, ForwardBuffer } from './buffer.js';
export { forwardSchema } from './config.js';
export type { ForwardConfig } from './config.js';
export { ForwardReceiver } from './receiver.js';
export { backoff, ForwardSender } from './sender.js';
export type { EventProcessor, ForwardStatus } from './sender.js';
