// People's logins: an htpasswd file as Apache's `htpasswd -B` writes it (`user:$2y$…`), with an optional third
// field for the role (`user:hash:admin`; Apache and nginx ignore fields after the hash). bcrypt only: other
// htpasswd hashes (MD5 apr1, SHA-1, crypt) are refused by name, since they are too weak to keep.
import { createHash } from 'node:crypto';
import { readFileSync, watchFile, unwatchFile, renameSync, writeFileSync, chmodSync, openSync, fsyncSync, closeSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { Role, ROLE_RANK } from './tokens.js';

export interface HtUser {
  name: string;
  hash: string;
  /** From the file's third field; undefined: the configured default role. */
  role?: Role;
}

export class HtpasswdError extends Error {}

const USER_RE = /^[^\s:\u0000-\u001f\u007f]{1,200}$/;
export function checkUserName(name: string): string {
  if (!USER_RE.test(name)) throw new HtpasswdError(`user name ${JSON.stringify(name)}: 1 to 200 characters, no colon, blank or control character`);
  return name;
}

/** Parses an htpasswd file; an error names the line. Comments (#) and blank lines are kept out. */
export function parseHtpasswd(text: string, file = 'htpasswd'): Map<string, HtUser> {
  const users = new Map<string, HtUser>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const at = `${file}:${i + 1}`;
    const [name, hash, role, ...rest] = line.split(':');
    if (hash === undefined || rest.length) throw new HtpasswdError(`${at}: expected user:hash or user:hash:role`);
    try {
      checkUserName(name);
    } catch (e) {
      throw new HtpasswdError(`${at}: ${(e as Error).message}`);
    }
    if (!/^\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) {
      const kind = hash.startsWith('$apr1$') ? 'MD5 (apr1)' : hash.startsWith('{SHA}') ? 'SHA-1' : hash.startsWith('$argon2') ? 'argon2' : 'crypt or plain';
      throw new HtpasswdError(`${at}: user ${JSON.stringify(name)} has a ${kind} hash; only bcrypt is accepted (htpasswd -B, or rexmon user passwd)`);
    }
    if (role !== undefined && role !== '' && !(role in ROLE_RANK))
      throw new HtpasswdError(`${at}: role ${JSON.stringify(role)} is not one of viewer, editor, admin`);
    if (users.has(name)) throw new HtpasswdError(`${at}: user ${JSON.stringify(name)} appears twice`);
    users.set(name, { name, hash, role: role ? (role as Role) : undefined });
  });
  return users;
}

export function formatHtpasswd(users: Iterable<HtUser>): string {
  return [...users].map((u) => `${u.name}:${u.hash}${u.role ? `:${u.role}` : ''}\n`).join('');
}

/** Writes the file whole (temp file, fsync, rename), mode 0600, so a reader never sees half of it. */
export function writeHtpasswd(file: string, users: Iterable<HtUser>): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, formatHtpasswd(users), { mode: 0o600, flag: 'wx' });
    chmodSync(tmp, 0o600);
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* not made */
    }
    throw e;
  }
}

export function readHtpasswd(file: string, missingOk = false): Map<string, HtUser> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (missingOk && (e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new HtpasswdError(`cannot read users file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseHtpasswd(text, file);
}

export const BCRYPT_COST = 10;
/** bcryptjs, loaded when a password is first hashed or checked: not at start, where most collectors never need it. */
const bcrypt = async () => (await import('bcryptjs')).default;

export const hashPassword = async (password: string) => (await bcrypt()).hash(password, BCRYPT_COST);

export interface UserChange {
  action: 'user.add' | 'user.remove' | 'user.passwd' | 'user.role';
  user: string;
  role?: Role;
}

/** What differs between two versions of the file, for the audit log (no hashes). */
export function diffUsers(before: Map<string, HtUser>, after: Map<string, HtUser>, defaultRole: Role): UserChange[] {
  const out: UserChange[] = [];
  for (const [n, u] of after) {
    const b = before.get(n);
    if (!b) out.push({ action: 'user.add', user: n, role: u.role ?? defaultRole });
    else {
      if (b.hash !== u.hash) out.push({ action: 'user.passwd', user: n });
      if ((b.role ?? defaultRole) !== (u.role ?? defaultRole)) out.push({ action: 'user.role', user: n, role: u.role ?? defaultRole });
    }
  }
  for (const n of before.keys()) if (!after.has(n)) out.push({ action: 'user.remove', user: n });
  return out;
}

/**
 * The users file, loaded at start and again when it changes (polled: an atomic rename replaces the inode,
 * which fs.watch loses) or on reload(). A file that fails to parse keeps the users loaded before.
 */
export class UserStore {
  private users = new Map<string, HtUser>();
  /** sha256(user, password, hash) → when it was verified (ms): bcrypt costs ~50-100 ms per check by design. */
  private readonly verified = new Map<string, number>();
  private watching = false;

  constructor(
    readonly file: string,
    private readonly opts: {
      defaultRole: Role;
      cacheSeconds: number;
      pollSeconds: number;
      onChange?: (changes: UserChange[]) => void;
      onError?: (message: string) => void;
    },
  ) {
    this.users = readHtpasswd(file);
  }

  get size(): number {
    return this.users.size;
  }

  has(name: string): boolean {
    return this.users.has(name);
  }

  watch(): void {
    if (this.watching) return;
    this.watching = true;
    watchFile(this.file, { interval: this.opts.pollSeconds * 1000, persistent: false }, () => this.reload());
  }

  close(): void {
    if (this.watching) unwatchFile(this.file);
    this.watching = false;
  }

  /** Reads the file again; true when it was read (changed or not). */
  reload(): boolean {
    let next: Map<string, HtUser>;
    try {
      next = readHtpasswd(this.file);
    } catch (e) {
      this.opts.onError?.(`${(e as Error).message}; keeping the ${this.users.size} user(s) loaded before`);
      return false;
    }
    const changes = diffUsers(this.users, next, this.opts.defaultRole);
    this.users = next;
    // Entries of removed users or old hashes can no longer match (the hash is part of the key), but drop them now.
    if (changes.length) this.verified.clear();
    if (changes.length) this.opts.onChange?.(changes);
    return true;
  }

  /** The user's role when the password is right, else undefined. */
  async verify(name: string, password: string): Promise<{ name: string; role: Role } | undefined> {
    const u = this.users.get(name);
    if (!u) return undefined;
    const key = createHash('sha256').update(`${name}\0${password}\0${u.hash}`).digest('hex');
    const now = Date.now();
    const seen = this.verified.get(key);
    const role = u.role ?? this.opts.defaultRole;
    if (seen !== undefined && now - seen < this.opts.cacheSeconds * 1000) return { name, role };
    if (!(await (await bcrypt()).compare(password, u.hash))) return undefined;
    if (this.verified.size >= 10000) this.verified.clear();
    this.verified.set(key, now);
    return { name, role };
  }
}
