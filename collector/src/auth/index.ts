// The auth stage: tokens, the users file, the proxy header and the anonymous rules, as one object the
// collector wires in and a config reload changes in place.
import path from 'node:path';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/index.js';
import type { Config } from '../config/schema.js';
import type { Db } from '../db/index.js';
import { isLoopback } from '../util/net.js';
import { Authenticator } from './authenticator.js';
import { UserStore } from './htpasswd.js';
import { TokenStore } from './tokens.js';

export { Authenticator } from './authenticator.js';

export class AuthStage {
  /** Shared by every router's role checks; reload() changes its fields. */
  readonly state: { anonymousRead: boolean; anonymousWrite: boolean };
  tokens: TokenStore;
  readonly authenticator: Authenticator;
  users?: UserStore;

  constructor(
    private config: Config,
    private readonly db: Db,
    private readonly audit: AuditLog,
    private readonly log: Logger,
  ) {
    this.state = AuthStage.anonymous(config);
    this.tokens = new TokenStore(config.auth.tokens, db);
    this.users = this.openUsers(config);
    this.authenticator = new Authenticator(this.tokens, this.users, config.auth.proxy);
  }

  static anonymous(c: Config) {
    return { anonymousRead: c.auth.anonymousRead ?? isLoopback(c.http.listen), anonymousWrite: c.auth.anonymousWrite };
  }

  private openUsers(c: Config): UserStore | undefined {
    const u = c.auth.users;
    if (!u) return undefined;
    const file = path.resolve(c.dataDir, u.file);
    const store = new UserStore(file, {
      defaultRole: u.defaultRole,
      cacheSeconds: u.cacheTtl,
      pollSeconds: u.pollInterval,
      onError: (m) => this.log.error(`auth.users: ${m}`),
      onChange: (changes) => {
        this.log.info(`auth.users: ${file} changed: ${changes.map((x) => `${x.action} ${x.user}`).join(', ')}`);
        for (const ch of changes)
          this.audit
            .record({
              who: 'users file',
              via: 'system',
              from: 'local',
              action: ch.action,
              target: `user ${ch.user}`,
              details: { file, ...(ch.role ? { role: ch.role } : {}) },
            })
            .catch((err) => this.log.error({ err }, 'cannot write the audit log'));
      },
    });
    store.watch();
    return store;
  }

  /** SIGHUP: the users file again, and the auth settings of a new config (the rest needs a restart). */
  reload(next: Config): void {
    const prev = this.config;
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    // What can fail (a users file that does not parse) goes first, so a refused reload changes nothing.
    const users = same(prev.auth.users, next.auth.users) ? this.users : this.openUsers(next);
    this.config = next;
    if (users !== this.users) {
      this.users?.close();
      this.users = users;
      this.authenticator.setUsers(users);
    } else this.users?.reload();
    if (!same(prev.auth.proxy, next.auth.proxy)) this.authenticator.setProxy(next.auth.proxy);
    if (!same(prev.auth.tokens, next.auth.tokens)) {
      this.tokens = new TokenStore(next.auth.tokens, this.db);
      this.authenticator.setTokens(this.tokens);
    }
    Object.assign(this.state, AuthStage.anonymous(next));
  }

  close(): void {
    this.users?.close();
  }
}
