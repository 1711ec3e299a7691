// scripts/complete-lock.mjs adds the lock entries of @swc/core's platform packages the registry
// here does not serve, and refuses (exit 1) a platform package its table does not know.
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const script = path.resolve(__dirname, '../complete-lock.mjs');

function lockWith(optional: string[]) {
  return {
    name: 'x',
    lockfileVersion: 3,
    packages: {
      '': { name: 'x' },
      'node_modules/@swc/core': {
        version: '1.16.22',
        optionalDependencies: Object.fromEntries(optional.map((d) => [d, '1.16.22'])),
      },
      'node_modules/@swc/core-linux-x64-gnu': { version: '1.16.22', os: ['linux'], cpu: ['x64'] },
    },
  };
}

describe('complete-lock.mjs', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'complete-lock-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function run(optional: string[]) {
    const file = path.join(dir, 'package-lock.json');
    fs.writeFileSync(file, JSON.stringify(lockWith(optional), null, 2));
    const r = spawnSync(process.execPath, [script, file], { encoding: 'utf8' });
    return { status: r.status, stderr: r.stderr, lock: JSON.parse(fs.readFileSync(file, 'utf8')) };
  }

  it('adds the missing entries of platforms it knows', () => {
    const r = run(['@swc/core-linux-x64-gnu', '@swc/core-darwin-arm64']);
    expect(r.status).toBe(0);
    expect(r.lock.packages['node_modules/@swc/core-darwin-arm64']).toMatchObject({ version: '1.16.22', os: ['darwin'], cpu: ['arm64'], optional: true });
  });

  it('fails with a clear message on a platform package not in its table', () => {
    const r = run(['@swc/core-linux-x64-gnu', '@swc/core-freebsd-x64', '@swc/core-darwin-arm64']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('@swc/core-freebsd-x64');
    expect(r.stderr).toContain('platform table');
    expect(r.lock.packages['node_modules/@swc/core-darwin-arm64']).toBeUndefined();
  });
});
