// Test helpers for the downtime API: file a downtime and call the API, failing the test on an unexpected status.
import assert from 'node:assert/strict';
import type { DowntimeJson } from '../downtimes/model.js';
import { api } from './harness.js';

/** `base()` is read at each call, so a test can restart its collector. */
export function downtimeApi(base: () => string) {
  return {
    /** POST /downtimes with author, reason and kind filled in; expects 201. */
    async post(body: Record<string, unknown>): Promise<DowntimeJson> {
      const r = await api<{ data: DowntimeJson }>(base(), '/api/v1/downtimes', {
        method: 'POST',
        body: JSON.stringify({ author: 'alice', reason: 'maintenance', kind: 'planned', ...body }),
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.data;
    },
    /** Any call under /api/v1; expects 200. */
    async call(method: string, path: string, body?: object): Promise<DowntimeJson> {
      const r = await api<{ data: DowntimeJson }>(base(), `/api/v1${path}`, { method, body: body && JSON.stringify(body) });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.data;
    },
  };
}
