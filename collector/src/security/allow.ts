// Which sender addresses a plaintext listener takes input from (net.BlockList used as an allow-list).
import net from 'node:net';
import { LOOPBACK } from '../config/security.js';

export class AllowList {
  private readonly list = new net.BlockList();
  constructor(readonly ranges: string[]) {
    for (const r of ranges) {
      const [addr, bits] = r.split('/');
      const type = net.isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.list.addAddress(addr, type);
      else this.list.addSubnet(addr, Number(bits), type);
    }
  }

  /** True for an address inside one of the ranges; IPv4 seen through a dual-stack socket (::ffff:a.b.c.d) counts as IPv4. */
  allows(address: string | undefined): boolean {
    if (!address) return false;
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    if (v4) return this.list.check(v4, 'ipv4');
    return this.list.check(address, net.isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
}

/** The configured list, else loopback; a TLS listener that requires client certificates takes anyone by default (the certificate identifies). */
export function allowListFor(c: { allow?: string[]; tls?: { clientCerts: string } }): AllowList {
  if (c.allow) return new AllowList(c.allow);
  return new AllowList(c.tls?.clientCerts === 'required' ? ['0.0.0.0/0', '::/0'] : LOOPBACK);
}
