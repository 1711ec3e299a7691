// Example event handler: mails the station's admin when a disk reports errors.
//   events.handlers: [{ name: disk-mail, module: collector/dist/handlers/mail-admin.js, types: [disk.error],
//                       options: { admins: { fnpc1: ops-fnpc1@lab.example }, default: ops@lab.example } }]
// The station is the event's `station` label (options.key to change), else its source. Needs notify.smtp.
import type { EventInput } from '../events/model.js';
import type { HandlerContext } from '../events/handlers.js';

interface Options {
  admins?: Record<string, string | string[]>;
  default?: string | string[];
  key?: string;
  subject?: string;
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export default async function handle(event: EventInput, ctx: HandlerContext): Promise<void> {
  if (!ctx.sendMail) throw new Error('mail-admin needs notify.smtp (no SMTP server is configured)');
  const o = ctx.options as Options;
  const key = o.key ?? 'station';
  const station = String(event.labels[key] ?? event.data[key] ?? event.source);
  const to = list(o.admins?.[station]).concat(o.admins?.[station] === undefined ? list(o.default) : []);
  if (!to.length) {
    ctx.log.warn(`no admin for station ${JSON.stringify(station)} and no options.default: ${event.type} not mailed`);
    return;
  }
  const fields = Object.entries({ ...event.labels, ...event.data })
    .map(([k, v]) => `  ${k}: ${String(v)}`)
    .join('\n');
  await ctx.sendMail({
    to,
    subject: (o.subject ?? '[rexmon] {type} on {station}').replace('{type}', event.type).replace('{station}', station),
    text: `${event.type} from ${event.source} at ${new Date(event.time).toISOString()}\n\n${fields}\n`,
  });
  ctx.log.info(`mailed ${to.join(', ')} about ${event.type} on ${station}`);
}
