import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { encodeComponent, isProtocolSafePath, resolveInside, seriesFile } from './naming.js';

test('file names are readable where safe and never escape the root', () => {
  assert.equal(seriesFile('cpu_usage', { host: 'fnpc3001', mode: 'idle' }), 'cpu_usage/host=fnpc3001,mode=idle.rrd');
  assert.equal(seriesFile('lab.host01.temp', {}), 'lab.host01.temp/series.rrd');
  const evil = seriesFile('m', { a: '../../etc/passwd', b: '..', c: 'x y"z', d: 'a:b' });
  assert.ok(
    evil.split('/').every((part) => part !== '..' && part !== '.' && !part.startsWith('.')),
    evil,
  );
  assert.equal(evil.split('/').length, 2, 'exactly one directory level');
  assert.ok(isProtocolSafePath('/root/' + evil), 'no space, quote or colon reaches rrdtool');
  const root = '/srv/rrd';
  assert.ok(resolveInside(root, evil).startsWith(root + path.sep));
  assert.throws(() => resolveInside(root, '../x.rrd'), /outside the archive root/);
  assert.equal(encodeComponent('.hidden'), '%2Ehidden');
  assert.equal(encodeComponent('é'), '%C3%A9');
});

test('no ".." anywhere: rrdcached refuses a path containing "../"', () => {
  assert.equal(seriesFile('x..', {}), 'x%2E%2E/series.rrd');
  assert.equal(encodeComponent('a.b...c.'), 'a.b%2E%2E%2Ec.');
  assert.ok(!seriesFile('m.', { a: 'b..', c: '...' }).includes('..'));
  assert.notEqual(encodeComponent('\ud800'), encodeComponent('\ud801'), 'lone surrogates stay distinct');
});

test('long names are hashed; distinct series get distinct files', () => {
  const long = seriesFile('m', { a: 'x'.repeat(500) });
  assert.match(long, /^m\/h-[0-9a-f]{40}\.rrd$/);
  assert.notEqual(seriesFile('m', { a: 'x'.repeat(500) }), seriesFile('m', { a: 'x'.repeat(501) }));
  assert.notEqual(seriesFile('m', { a: 'b,c=d' }), seriesFile('m', { a: 'b', c: 'd' }), 'separators inside values are escaped');
});
