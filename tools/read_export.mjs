// Read an exported graph file with the client library that reads its format, and print its node ids (JSON):
// d3-force for D3 node-link JSON (the links resolved against the nodes), graphology-gexf for GEXF. Used by
// tests/test_browser.py to prove each export opens in the tools it is for. Usage: node tools/read_export.mjs d3|gexf FILE
import { readFileSync } from 'node:fs';
import { forceLink, forceSimulation } from 'd3-force';
import Graph from 'graphology';
import gexf from 'graphology-gexf';

const [format, file] = process.argv.slice(2);
const text = readFileSync(file, 'utf8');
let ids;
if (format === 'd3') {
  const data = JSON.parse(text);
  const links = forceLink(data.links).id((d) => d.id);  // throws "node not found" on a link to a missing node
  forceSimulation(data.nodes).force('link', links).stop().tick(1);
  if (!data.links.every((l) => typeof l.source === 'object' && typeof l.target === 'object')) throw new Error('unresolved link');
  ids = data.nodes.map((n) => n.id);
} else if (format === 'gexf') {
  ids = gexf.parse(Graph, text).nodes();
} else {
  throw new Error(`no reader for ${format}`);
}
console.log(JSON.stringify(ids));
