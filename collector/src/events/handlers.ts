// Event handlers: small JavaScript modules named in the config, loaded at start, each an event processor of
// its own (queue, concurrency, timeout). A module exports a function, `handle`, or a default `{ handle }`,
// called once per matching event with (event, ctx).
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import type { EventHandlerConfig } from '../config/schema.js';
import { matchesLabels, parseSelector } from '../matchers/selector.js';
import { globToRegExp } from '../util/glob.js';
import type { EventInput } from './model.js';
import type { EventProcessor, ProcessorOptions } from './processor.js';

export interface MailMessage {
  to: string[];
  subject: string;
  text: string;
}

export interface HandlerContext {
  /** The handler's name (events.handlers[].name). */
  name: string;
  log: Logger;
  /** events.handlers[].options, as configured. */
  options: Record<string, unknown>;
  /** Aborted when the call passes its timeout: stop work (kill a child, cancel a request). */
  signal: AbortSignal;
  /** Mail through the notify stage's SMTP set-up; absent without notify.smtp. */
  sendMail?: (m: MailMessage) => Promise<void>;
}

export type HandlerFn = (event: EventInput, ctx: HandlerContext) => unknown;

export interface HandlerDeps {
  log: Logger;
  sendMail?: (m: MailMessage) => Promise<void>;
}

/** The module's handler function; an error names the config entry and what the module lacks. */
export async function loadHandler(c: EventHandlerConfig, at: string): Promise<HandlerFn> {
  const file = path.resolve(c.module);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${at}.module: cannot load ${file}: ${(e as Error).message}`);
  }
  const d = mod.default as { handle?: unknown } | undefined;
  const fn = typeof mod.handle === 'function' ? mod.handle : typeof d === 'function' ? d : typeof d?.handle === 'function' ? d.handle.bind(d) : undefined;
  if (typeof fn !== 'function') throw new Error(`${at}.module: ${file} exports no function (export default function, or export function handle)`);
  return fn as HandlerFn;
}

export class HandlerProcessor implements EventProcessor {
  readonly name: string;
  readonly options: ProcessorOptions;

  constructor(
    private readonly c: EventHandlerConfig,
    private readonly fn: HandlerFn,
    private readonly deps: HandlerDeps,
  ) {
    this.name = `handler:${c.name}`;
    const types = c.types.map(globToRegExp);
    const sel = c.match ? parseSelector(c.match, 'match') : undefined;
    this.options = {
      queue: c.queue,
      concurrency: c.concurrency,
      // The dispatcher frees the slot at the timeout; the signal tells the module to give up too.
      timeoutMs: c.timeout * 1000,
      onError: 'drop',
      batchSize: 1,
      accepts: (e) => (!types.length || types.some((t) => t.test(e.type))) && (!sel || matchesLabels(sel, e.type, e.labels)),
    };
  }

  async process(events: EventInput[]): Promise<void> {
    for (const e of events) {
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(new Error(`handler ${this.c.name} timed out after ${this.c.timeout} s`)), this.c.timeout * 1000);
      try {
        await this.fn(e, {
          name: this.c.name,
          log: this.deps.log.child({ handler: this.c.name }),
          options: this.c.options,
          signal: ac.signal,
          sendMail: this.deps.sendMail,
        });
      } finally {
        clearTimeout(timer);
      }
    }
  }
}

export async function loadHandlers(configs: EventHandlerConfig[], deps: HandlerDeps): Promise<HandlerProcessor[]> {
  const out: HandlerProcessor[] = [];
  for (const [i, c] of configs.entries()) out.push(new HandlerProcessor(c, await loadHandler(c, `events.handlers[${i}]`), deps));
  return out;
}
