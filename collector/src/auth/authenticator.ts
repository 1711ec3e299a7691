// Who is asking: an API token (Bearer, or Basic with the token as the password), a person from the users file
// (Basic user:password), or an identity header set by a trusted reverse proxy (SSO in front).
import net from 'node:net';
import { UserStore } from './htpasswd.js';
import { Principal, Role, ROLE_RANK, TokenStore } from './tokens.js';

export interface ProxyAuth {
  /** Request header holding the user's name, e.g. X-Remote-User. */
  header: string;
  /** Only requests from these addresses (CIDR or single addresses) may carry it. */
  trustedProxies: string[];
  /** Header holding the role (viewer, editor, admin); absent or not sent: defaultRole. */
  roleHeader?: string;
  defaultRole: Role;
}

export class AuthError extends Error {
  constructor(
    message: string,
    readonly status = 401,
    readonly param = 'Authorization',
  ) {
    super(message);
  }
}

/** The peer's address as people write it (IPv4-mapped IPv6 shown as IPv4). */
export function peerAddress(raw: string | undefined): string {
  if (!raw) return 'unknown';
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(raw);
  return m ? m[1] : raw;
}

/** A BlockList of CIDR ranges and addresses; throws naming the entry that is neither. */
export function cidrList(entries: string[]): net.BlockList {
  const list = new net.BlockList();
  for (const e of entries) {
    const [addr, bits, ...more] = e.split('/');
    const type = net.isIP(addr);
    if (!type || more.length) throw new Error(`${JSON.stringify(e)} is not an IP address or CIDR range`);
    const family = type === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr, family);
    else {
      const n = Number(bits);
      if (!/^\d+$/.test(bits) || n > (type === 4 ? 32 : 128)) throw new Error(`${JSON.stringify(e)}: prefix length must be 0-${type === 4 ? 32 : 128}`);
      list.addSubnet(addr, n, family);
    }
  }
  return list;
}

const NAME_RE = /^[^\u0000-\u001f\u007f]{1,200}$/;

export interface Credentials {
  authorization?: string;
  header: (name: string) => string | undefined;
  /** The TCP peer, as peerAddress() gives it. */
  peer: string;
}

export class Authenticator {
  private proxy?: { cfg: ProxyAuth; trusted: net.BlockList };

  constructor(
    private tokens: TokenStore,
    private users?: UserStore,
    proxy?: ProxyAuth,
  ) {
    this.setProxy(proxy);
  }

  setProxy(proxy: ProxyAuth | undefined): void {
    this.proxy = proxy ? { cfg: proxy, trusted: cidrList(proxy.trustedProxies) } : undefined;
  }

  setTokens(tokens: TokenStore): void {
    this.tokens = tokens;
  }

  setUsers(users: UserStore | undefined): void {
    this.users = users;
  }

  /** The principal, undefined when no credentials came; AuthError when they are malformed or wrong. */
  async identify(c: Credentials): Promise<Principal | undefined> {
    if (c.authorization !== undefined) return this.fromAuthorization(c.authorization);
    const p = this.proxy;
    if (!p) return undefined;
    const name = c.header(p.cfg.header);
    if (name === undefined) return undefined;
    if (!p.trusted.check(c.peer, net.isIP(c.peer) === 6 ? 'ipv6' : 'ipv4'))
      throw new AuthError(`header ${p.cfg.header} is accepted only from auth.proxy.trustedProxies; ${c.peer} is not one of them`, 401, p.cfg.header);
    if (!NAME_RE.test(name)) throw new AuthError(`header ${p.cfg.header} must be a name of 1 to 200 characters without control characters`, 401, p.cfg.header);
    let role = p.cfg.defaultRole;
    const given = p.cfg.roleHeader ? c.header(p.cfg.roleHeader) : undefined;
    if (given !== undefined) {
      if (!(given in ROLE_RANK)) throw new AuthError(`header ${p.cfg.roleHeader} must be one of viewer, editor, admin`, 401, p.cfg.roleHeader!);
      role = given as Role;
    }
    return { name, role, anonymous: false, via: 'proxy' };
  }

  private async fromAuthorization(h: string): Promise<Principal> {
    const bearer = /^Bearer\s+(\S+)$/i.exec(h);
    if (bearer) {
      const p = await this.tokens.lookup(bearer[1]);
      if (!p) throw new AuthError('unknown or revoked API token');
      return { ...p, via: 'token' };
    }
    // Browsers cannot send a bearer token for a page or its images; they send Basic: a user's password, or a token.
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(h);
    const decoded = basic ? Buffer.from(basic[1], 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (!basic || colon < 0 || colon === decoded.length - 1)
      throw new AuthError('Authorization header must be "Bearer <token>" or Basic user:password (the API token may be the password)');
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    if (this.users?.has(user)) {
      const ok = await this.users.verify(user, password);
      if (!ok) throw new AuthError('wrong user name or password');
      return { name: ok.name, role: ok.role, anonymous: false, via: 'user' };
    }
    const p = await this.tokens.lookup(password);
    if (!p) throw new AuthError('wrong user name or password (and the password is no known API token)');
    return { ...p, via: 'token' };
  }
}
