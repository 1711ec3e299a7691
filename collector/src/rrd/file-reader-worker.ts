// A worker thread of FileReaders: reads series with plain blocking reads, so a slow disk holds this thread and
// not the collector's event loop, and a read costs a system call instead of a round trip through libuv's pool.
import { parentPort } from 'node:worker_threads';
import { readDirect } from './file-reader.js';
import type { ReadRequest, ReadReply } from './file-readers.js';

parentPort!.on('message', (m: ReadRequest) => {
  let reply: ReadReply;
  try {
    reply = { id: m.id, result: readDirect(m.specs, m.cf, m.from, m.to, m.step, m.maxRows) };
  } catch (e) {
    reply = { id: m.id, error: (e as Error).stack ?? String(e) };
  }
  parentPort!.postMessage(reply, reply.result ? reply.result.columns.map((c) => c.buffer as ArrayBuffer) : []);
});
