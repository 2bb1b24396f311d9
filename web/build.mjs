// Vendor the browser libraries of corpgraph's pages into the Python package (api/static/vendor), so a
// wheel serves them with no Node at run time and no page ever fetches from another host. The pages
// themselves (api/static/*.html, *.js, *.css) are plain files that need no build. The libraries are the
// ones pinned in package-lock.json, copied as published. Run: `npm ci && node build.mjs` (make web).
import { copyFileSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'api', 'static');

// Each vendored file: where it comes from in node_modules, and the name the pages load it by.
export const VENDOR = [
  ['react/umd/react.production.min.js', 'react.production.min.js'],
  ['react-dom/umd/react-dom.production.min.js', 'react-dom.production.min.js'],
  ['graphiql/graphiql.min.js', 'graphiql.min.js'],
  ['graphiql/graphiql.min.css', 'graphiql.min.css'],
  ['@graphiql/plugin-explorer/dist/index.umd.js', 'graphiql-plugin-explorer.umd.js'],
  ['@graphiql/plugin-explorer/dist/style.css', 'graphiql-plugin-explorer.css'],
  ['cytoscape/dist/cytoscape.min.js', 'cytoscape.min.js'],
  // The layered (Sugiyama) layout of liability chains and ownership trees: dagre, bundled in this build.
  ['cytoscape-dagre/dist/cytoscape-dagre.min.js', 'cytoscape-dagre.min.js'],
];

mkdirSync(join(out, 'vendor'), { recursive: true });
const notices = [];
for (const [from, to] of VENDOR) {
  copyFileSync(join(here, 'node_modules', from), join(out, 'vendor', to));
  const pkgDir = from.startsWith('@') ? from.split('/').slice(0, 2).join('/') : from.split('/')[0];
  const pkg = JSON.parse(readFileSync(join(here, 'node_modules', pkgDir, 'package.json'), 'utf8'));
  notices.push(`${to}: ${pkg.name}@${pkg.version} (${pkg.license})`);
}
writeFileSync(join(out, 'vendor', 'VERSIONS.txt'),
  '# Copied by web/build.mjs from the npm packages pinned in web/package-lock.json.\n' + notices.join('\n') + '\n');
console.log(`vendored ${VENDOR.length} files into ${join(out, 'vendor')}`);
