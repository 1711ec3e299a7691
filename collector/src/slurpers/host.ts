// The built-in host slurper: this machine's CPU, memory, load, disk and network, from /proc and statfs.
import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import { Sample } from '../model/series.js';

const REAL_FS = new Set([
  'ext2',
  'ext3',
  'ext4',
  'xfs',
  'btrfs',
  'zfs',
  'vfat',
  'nfs',
  'nfs4',
  'f2fs',
  'reiserfs',
  'jfs',
  'cifs',
  'lustre',
  'gpfs',
  'ceph',
  'fuse.glusterfs',
  'overlay',
]);

interface Counters {
  at: number;
  cpu: Map<string, number>;
  net: Map<string, { rx: number; tx: number }>;
}

export class HostSlurper {
  private prev?: Counters;
  constructor(private readonly prefix: string) {}

  async collect(): Promise<Sample[]> {
    const now = Math.floor(Date.now() / 1000);
    const host = os.hostname();
    const out: Sample[] = [];
    const add = (name: string, value: number, labels: Record<string, string> = {}) => {
      if (Number.isFinite(value)) out.push({ name: `${this.prefix}_${name}`, labels: { host, ...labels }, value, time: now });
    };
    const [stat, meminfo, loadavg, netdev, mounts] = await Promise.all(
      ['/proc/stat', '/proc/meminfo', '/proc/loadavg', '/proc/net/dev', '/proc/mounts'].map((f) => readFile(f, 'utf8').catch(() => '')),
    );
    // CPU: percentages over the interval since the last run (first run only primes the counters).
    const cpu = new Map<string, number>();
    const cpuLine = stat.split('\n').find((l) => l.startsWith('cpu '));
    if (cpuLine) {
      const f = cpuLine.trim().split(/\s+/).slice(1).map(Number);
      ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'].forEach((m, i) => cpu.set(m, f[i] ?? 0));
    }
    const net = new Map<string, { rx: number; tx: number }>();
    for (const line of netdev.split('\n').slice(2)) {
      const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
      if (!m || m[1] === 'lo') continue;
      const f = m[2].trim().split(/\s+/).map(Number);
      net.set(m[1], { rx: f[0], tx: f[8] });
    }
    const cur: Counters = { at: performance.now() / 1000, cpu, net };
    if (this.prev) {
      const dt = cur.at - this.prev.at;
      let total = 0;
      for (const [m, v] of cpu) total += v - (this.prev.cpu.get(m) ?? v);
      if (total > 0) for (const [m, v] of cpu) add('cpu_percent', (100 * (v - (this.prev.cpu.get(m) ?? v))) / total, { mode: m });
      for (const [dev, c] of net) {
        const p = this.prev.net.get(dev);
        if (!p || dt <= 0) continue;
        if (c.rx >= p.rx) add('network_bytes_per_second', (c.rx - p.rx) / dt, { device: dev, direction: 'rx' });
        if (c.tx >= p.tx) add('network_bytes_per_second', (c.tx - p.tx) / dt, { device: dev, direction: 'tx' });
      }
    }
    this.prev = cur;
    const mem = new Map<string, number>();
    for (const line of meminfo.split('\n')) {
      const m = /^(\w+):\s+(\d+)\s*kB/.exec(line);
      if (m) mem.set(m[1], Number(m[2]) * 1024);
    }
    if (mem.has('MemTotal')) {
      const total = mem.get('MemTotal')!;
      const available = mem.get('MemAvailable') ?? mem.get('MemFree') ?? 0;
      add('memory_bytes', total, { state: 'total' });
      add('memory_bytes', available, { state: 'available' });
      add('memory_bytes', total - available, { state: 'used' });
      if (mem.has('SwapTotal')) add('memory_bytes', mem.get('SwapTotal')! - (mem.get('SwapFree') ?? 0), { state: 'swap_used' });
    }
    const load = loadavg.trim().split(/\s+/).map(Number);
    if (load.length >= 3) {
      add('load1', load[0]);
      add('load5', load[1]);
      add('load15', load[2]);
    }
    const seen = new Set<string>();
    for (const line of mounts.split('\n')) {
      const [, mountpoint, type] = line.split(' ');
      if (!mountpoint || !REAL_FS.has(type) || seen.has(mountpoint)) continue;
      seen.add(mountpoint);
      try {
        const s = await statfs(mountpoint.replace(/\\040/g, ' '));
        add('disk_bytes', s.blocks * s.bsize, { mount: mountpoint, state: 'total' });
        add('disk_bytes', s.bavail * s.bsize, { mount: mountpoint, state: 'free' });
        add('disk_bytes', (s.blocks - s.bfree) * s.bsize, { mount: mountpoint, state: 'used' });
      } catch {
        // unreadable mount (permissions, stale NFS): skip it
      }
    }
    return out;
  }
}
