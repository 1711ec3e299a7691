// A real SMTP server on loopback for tests (the smtp-server package): keeps every message it accepted,
// raw and parsed (headers unfolded, encoded words and quoted-printable decoded). It can be stopped and
// started again on the same port (SMTP down), or made to refuse with a temporary error (SMTP refusing).
import { SMTPServer, SMTPServerOptions } from 'smtp-server';
import { freePort } from './harness.js';

export interface ReceivedMail {
  raw: string;
  headers: Record<string, string>;
  subject: string;
  from: string;
  to: string[];
  messageId: string;
  body: string;
  /** The envelope: MAIL FROM and RCPT TO. */
  envelope: { from: string; to: string[] };
  /** The user that authenticated, if any. */
  user?: string;
  /** Whether the session ran over TLS (STARTTLS or implicit). */
  secure: boolean;
}

export interface TestSmtp {
  host: string;
  port: number;
  mails: ReceivedMail[];
  /** Passwords the server was given at AUTH (to check what the client sent). */
  logins: { user: string; password: string }[];
  /** Set: every MAIL FROM is answered with this code and text (e.g. 451 temporary). */
  refuse?: { code: number; message: string };
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface SmtpOptions {
  /** Accept only this user and password (AUTH PLAIN/LOGIN over the plain connection). */
  auth?: { user: string; password: string };
  port?: number;
  /** PEM key and certificate: STARTTLS is offered, or with `implicit` TLS from the first byte. */
  tls?: { key: string; cert: string; implicit?: boolean };
}

export async function startSmtp(opts: SmtpOptions = {}): Promise<TestSmtp> {
  const port = opts.port ?? (await freePort());
  let server: SMTPServer | undefined;
  const t: TestSmtp = {
    host: '127.0.0.1',
    port,
    mails: [],
    logins: [],
    async start() {
      const options: SMTPServerOptions = {
        disabledCommands: [...(opts.tls ? [] : ['STARTTLS']), ...(opts.auth ? [] : ['AUTH'])],
        ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert, secure: opts.tls.implicit ?? false } : {}),
        authOptional: !opts.auth,
        allowInsecureAuth: true,
        logger: false,
        onAuth(auth, _session, cb) {
          t.logins.push({ user: auth.username ?? '', password: auth.password ?? '' });
          if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.password) return cb(null, { user: auth.username });
          const e = new Error('Invalid username or password') as Error & { responseCode: number };
          e.responseCode = 535;
          cb(e);
        },
        onMailFrom(_addr, _session, cb) {
          if (!t.refuse) return cb();
          const e = new Error(t.refuse.message) as Error & { responseCode: number };
          e.responseCode = t.refuse.code;
          cb(e);
        },
        onData(stream, session, cb) {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            const raw = Buffer.concat(chunks).toString('utf8');
            const envelope = {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
            };
            t.mails.push({ ...parseMail(raw), envelope, user: session.user as string | undefined, secure: session.secure });
            cb();
          });
        },
      };
      server = new SMTPServer(options);
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, '127.0.0.1', () => resolve());
      });
      server.on('error', () => {});
    },
    async stop() {
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((r) => s.close(() => r()));
    },
  };
  await t.start();
  return t;
}

/** Headers (lower-case names, unfolded, encoded words decoded) and the decoded text body of a single-part mail. */
export function parseMail(raw: string): Omit<ReceivedMail, 'envelope' | 'user' | 'secure'> {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = decodeWords(line.slice(i + 1).trim());
  }
  let body = raw.slice(split + 4);
  const cte = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  if (cte === 'quoted-printable') body = decodeQp(body);
  else if (cte === 'base64') body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  body = body.replace(/\r\n/g, '\n');
  return {
    raw,
    headers,
    subject: headers.subject ?? '',
    from: headers.from ?? '',
    to: (headers.to ?? '').split(',').map((s) => s.trim()),
    messageId: headers['message-id'] ?? '',
    body,
  };
}

function decodeQp(s: string): string {
  const bytes: number[] = [];
  const text = s.replace(/=\r?\n/g, '');
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '=' && /^[0-9A-F]{2}$/i.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(text[i], 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeWords(s: string): string {
  return s
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_, _cs: string, enc: string, text: string) =>
      enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : decodeQp(text.replace(/_/g, ' ')),
    );
}
