// Builds ../../assets/plotly-partial.min.js: plotly.js with only the trace types the
// dashboard draws (scatter, bar, scattergeo, choropleth), served by the app itself so
// that dcc.Graph finds `window.Plotly` and never fetches Dash's full 4.8 MB plotly.min.js.
//
//   cd tools/plotly-bundle && npm ci && npm run build
//
// The plotly.js version is pinned in package.json to the one plotly.py (and so Dash)
// ships; tests/test_plotly_bundle.py fails when the two differ. Options follow
// plotly.js's own esbuild-config.js (iife, global `Plotly`, es2016, `global` = window);
// the geo/bar/scatter code needs none of its GLSL, CSS or environment plugins.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const outfile = join(here, '..', '..', 'assets', 'plotly-partial.min.js');
// `scatter` is always in plotly.js/lib/core; listed for the header and the tests.
const TRACES = ['scatter', 'bar', 'scattergeo', 'choropleth'];

const { version } = JSON.parse(
  readFileSync(join(here, 'node_modules', 'plotly.js', 'package.json'), 'utf8'),
);
const entry = [
  "var Plotly = require('plotly.js/lib/core');",
  `Plotly.register([${TRACES.filter((t) => t !== 'scatter')
    .map((t) => `require('plotly.js/lib/${t}')`)
    .join(', ')}]);`,
  'module.exports = Plotly;',
].join('\n');

const banner = `/**
* plotly.js v${version} (partial bundle; traces: ${TRACES.join(', ')})
* Copyright 2012-2026, Plotly, Inc.
* All rights reserved.
* Licensed under the MIT license
* Built by tools/plotly-bundle/build.mjs (recruitment dashboard); bundled licences at the end.
*/`;

await esbuild.build({
  stdin: { contents: entry, resolveDir: here, sourcefile: 'plotly-partial.js' },
  outfile,
  format: 'iife',
  globalName: 'Plotly',
  bundle: true,
  minify: true,
  legalComments: 'eof',
  banner: { js: banner },
  define: { global: 'window', 'define.amd': 'false' },
  // plotly.js's registry imports maplibre-gl's CSS for `map` subplots, never drawn here.
  loader: { '.css': 'empty' },
  target: 'es2016',
  logLevel: 'info',
});
writeFileSync(outfile, readFileSync(outfile, 'utf8').replace(/\s*$/, '\n'));
