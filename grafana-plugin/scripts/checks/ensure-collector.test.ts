// scripts/ensure-collector.sh (run by npm test before go test) builds the collector only when
// collector/dist/cli/main.js is missing or older than a collector/src/**/*.ts file.
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const script = path.resolve(__dirname, '../ensure-collector.sh');

describe('ensure-collector.sh', () => {
  let root: string;
  const mainJs = () => path.join(root, 'collector/dist/cli/main.js');
  const src = () => path.join(root, 'collector/src/query/engine.ts');
  const run = () => {
    const log = path.join(root, 'builds.log');
    execFileSync('bash', [script], {
      env: {
        ...process.env,
        REXMON_REPO_ROOT: root,
        // The stand-in build records that it ran and writes dist/cli/main.js.
        REXMON_COLLECTOR_BUILD: 'echo built >> builds.log; mkdir -p collector/dist/cli; touch collector/dist/cli/main.js',
      },
      stdio: 'pipe',
    });
    return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0;
  };
  const setTime = (file: string, s: number) => fs.utimesSync(file, s, s);

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ensure-collector-'));
    fs.mkdirSync(path.dirname(src()), { recursive: true });
    fs.writeFileSync(src(), 'export {};\n');
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('builds when dist is missing, not again when it is newer than the sources', () => {
    expect(run()).toBe(1);
    expect(fs.existsSync(mainJs())).toBe(true);
    setTime(src(), 1_700_000_000);
    setTime(mainJs(), 1_700_000_100);
    expect(run()).toBe(1);
  });

  it('rebuilds when a source file in a subfolder is newer than dist', () => {
    fs.mkdirSync(path.dirname(mainJs()), { recursive: true });
    fs.writeFileSync(mainJs(), '');
    setTime(mainJs(), 1_700_000_000);
    setTime(src(), 1_700_000_100);
    expect(run()).toBe(1);
  });
});
