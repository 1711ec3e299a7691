// API tokens: roles viewer (read), editor (write, ingest), admin. Only SHA-256 hashes are stored,
// in the config file or in the database (`rexmon token create`).
import { createHash, randomBytes } from 'node:crypto';
import { Db } from '../db/index.js';

export type Role = 'viewer' | 'editor' | 'admin';
export const ROLE_RANK: Record<Role, number> = { viewer: 1, editor: 2, admin: 3 };

export interface Principal {
  name: string;
  role: Role;
  anonymous: boolean;
  /** How it was established: an API token, a user's password, a trusted proxy's header. */
  via?: 'token' | 'user' | 'proxy';
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function newToken(): string {
  return `rxm_${randomBytes(24).toString('base64url')}`;
}

export async function createToken(db: Db, name: string, role: Role): Promise<string> {
  const token = newToken();
  await db('api_tokens').insert({ name, role, sha256: hashToken(token), created_at: Math.floor(Date.now() / 1000) });
  return token;
}

export class TokenStore {
  private readonly fromConfig = new Map<string, Principal>();

  constructor(
    configTokens: { name: string; role: Role; sha256: string }[],
    private readonly db: Db,
  ) {
    for (const t of configTokens) this.fromConfig.set(t.sha256, { name: t.name, role: t.role, anonymous: false });
  }

  create(name: string, role: Role): Promise<string> {
    return createToken(this.db, name, role);
  }

  /** The principal for a presented token, or undefined when it is not known. */
  async lookup(token: string): Promise<Principal | undefined> {
    const h = hashToken(token);
    const c = this.fromConfig.get(h);
    if (c) return c;
    const row = await this.db('api_tokens').where({ sha256: h }).first();
    return row ? { name: row.name, role: row.role as Role, anonymous: false } : undefined;
  }
}
