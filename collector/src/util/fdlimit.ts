// The open-file limit, which bounds how many ingest connections the process can hold. Node itself raises
// the soft limit to the hard one at start (measured: `prlimit --nofile=256:4096 node` runs with 4096), so
// the soft limit read here is what there is; only the hard limit (the operator's) can give more.
import { readFileSync } from 'node:fs';

export interface FdLimit {
  soft: number;
  hard: number;
}

/** From /proc/<pid>/limits (Linux); undefined elsewhere. */
export function openFileLimit(pid: number | 'self' = 'self'): FdLimit | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/limits`, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return undefined;
  const n = (v: string) => (v === 'unlimited' ? Infinity : Number(v));
  return { soft: n(m[1]), hard: n(m[2]) };
}

/** Descriptors kept for the database, rrdcached, rrdtool pipes and HTTP: a quarter of the limit, at most 512. */
export function fdReserve(limit: number): number {
  return Math.min(512, Math.floor(limit / 4));
}

/** net.core.somaxconn, the kernel's cap on a listen backlog (Linux); undefined elsewhere. */
export function listenBacklogCap(file = '/proc/sys/net/core/somaxconn'): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
