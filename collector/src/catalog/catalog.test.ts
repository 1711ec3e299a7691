// Catalog look-up by a sample's labels object (the ingest hot path) gives the same entry as by key.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { openDb } from '../db/index.js';
import { tempDir } from '../testing/harness.js';
import { Catalog } from './catalog.js';

test('lookup finds a series by its labels object, checks the name, and remembers nothing for unknown series', async () => {
  const t = await tempDir('rexmon-catalog-');
  const db = await openDb({ client: 'sqlite', filename: path.join(t.dir, 'c.sqlite') });
  try {
    const catalog = new Catalog(db, path.join(t.dir, 'rrd'));
    const labels = { host: 'fnpc3001' };
    // Unknown: nothing found, and not remembered as absent once registered.
    assert.equal(catalog.lookup('cpu', labels), undefined);
    const [e] = await catalog.register([{ name: 'cpu', labels: { host: 'fnpc3001' }, template: 'gauge', step: 60, ds: 'value' }]);
    assert.equal(catalog.lookup('cpu', labels), e);
    assert.equal(catalog.lookup('cpu', labels), e, 'again, from the object');
    // The same labels object under another name is another series.
    assert.equal(catalog.lookup('mem', labels), undefined);
    const [m] = await catalog.register([{ name: 'mem', labels, template: 'gauge', step: 60, ds: 'value' }]);
    assert.equal(catalog.lookup('mem', labels), m);
    assert.equal(catalog.lookup('cpu', labels), e);
    // A fresh object with the same labels finds the same entry.
    assert.equal(catalog.lookup('cpu', { host: 'fnpc3001' }), e);
  } finally {
    await db.destroy();
    await t.cleanup();
  }
});
