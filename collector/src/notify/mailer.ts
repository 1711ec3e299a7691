// SMTP through nodemailer: the transport built from `notify.smtp` (password from a file or the
// environment, never logged), and the sort of a failure: try again later, or the message itself refused.
import { readFileSync } from 'node:fs';
import type { Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { NotifyConfig } from './config.js';

export interface Outgoing {
  from: string;
  to: string[];
  subject: string;
  text: string;
  messageId: string;
  /** Unix ms: the Date header (when the message was composed, the same on every attempt). */
  date: number;
}

export interface SendResult {
  accepted: string[];
  rejected: string[];
}

export interface Mailer {
  send(m: Outgoing): Promise<SendResult>;
  close(): void;
}

export class MailError extends Error {
  constructor(
    message: string,
    /** The message itself was refused (every recipient or its content): sending it again cannot help. */
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

function secret(smtp: NonNullable<NotifyConfig['smtp']>): string | undefined {
  const a = smtp.auth;
  if (!a) return undefined;
  if (a.passwordFile) {
    try {
      return readFileSync(a.passwordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new Error(`notify.smtp.auth.passwordFile: cannot read ${a.passwordFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const v = process.env[a.passwordEnv!];
  if (v === undefined || v === '') throw new Error(`notify.smtp.auth.passwordEnv: the environment variable ${a.passwordEnv} is not set`);
  return v;
}

function readCa(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`notify.smtp.caFile: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Builds the transport; reads the password once, at start (a missing one is a start error naming the setting). */
export function smtpMailer(smtp: NonNullable<NotifyConfig['smtp']>): Mailer {
  const pass = secret(smtp);
  const ms = smtp.timeout * 1000;
  const options: SMTPTransport.Options = {
    host: smtp.host,
    port: smtp.port ?? (smtp.secure ? 465 : 587),
    secure: smtp.secure,
    requireTLS: !smtp.secure && smtp.starttls === 'required',
    ignoreTLS: !smtp.secure && smtp.starttls === 'off',
    tls: { rejectUnauthorized: smtp.rejectUnauthorized, ...(smtp.caFile ? { ca: readCa(smtp.caFile) } : {}) },
    auth: smtp.auth ? { user: smtp.auth.user, pass } : undefined,
    connectionTimeout: ms,
    greetingTimeout: ms,
    socketTimeout: ms,
    // nodemailer's own logger would print the SMTP dialogue, AUTH included: keep it off.
    logger: false,
    debug: false,
  };
  // Loaded at the first message, not at start: nodemailer is ~3 MB of heap that a collector without mail never uses.
  let transport: Promise<Transporter<SMTPTransport.SentMessageInfo>> | undefined;
  return {
    async send(m) {
      transport ??= import('nodemailer').then(({ default: nodemailer }) => nodemailer.createTransport(options));
      try {
        const info = await (
          await transport
        ).sendMail({
          from: m.from,
          to: m.to,
          subject: m.subject,
          text: m.text,
          messageId: m.messageId,
          date: new Date(m.date),
          headers: { 'X-Rexmon': 'notify' },
        });
        const list = (v: unknown) => (Array.isArray(v) ? v.map((a) => (typeof a === 'string' ? a : String((a as { address?: string }).address))) : []);
        return { accepted: list(info.accepted), rejected: list(info.rejected) };
      } catch (e) {
        const err = e as Error & { code?: string; responseCode?: number; response?: string };
        // EENVELOPE: every recipient refused; EMESSAGE: the content refused. A 4xx there is temporary.
        const permanent = (err.code === 'EENVELOPE' || err.code === 'EMESSAGE') && (err.responseCode ?? 0) >= 500;
        throw new MailError(describe(err, pass), permanent);
      }
    },
    close() {
      void transport?.then(
        (t) => t.close(),
        () => {},
      );
    },
  };
}

/** The error as logged and stored: never the password, even if a server echoed it. */
function describe(err: Error & { code?: string }, pass: string | undefined): string {
  let s = `${err.code ? err.code + ': ' : ''}${err.message}`;
  if (pass) s = s.split(pass).join('***');
  return s.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 1000);
}
