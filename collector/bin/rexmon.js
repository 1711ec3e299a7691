#!/usr/bin/env node
// Entry point of the `rexmon` CLI; the code lives in dist/ (built with `npm run build`).
import { main } from '../dist/cli/main.js';
main(process.argv).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(`rexmon: ${err instanceof Error ? err.message : String(err)}`); process.exitCode = 1; },
);
