// force timezone to UTC to allow tests to work regardless of local timezone
// generally used by snapshots, but can affect specific tests
process.env.TZ = 'UTC';

const base = require('./.config/jest.config');
const swc = base.transform['^.+\\.(t|j)sx?$'];

module.exports = {
  // Jest configuration provided by Grafana scaffolding
  ...base,
  // d3's ESM builds (.mjs) reached through @grafana/data need the same transform as the rest.
  transform: { ...base.transform, '^.+\\.mjs$': swc },
};
