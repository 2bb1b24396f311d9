// Exports of what the explorer shows: each downloads a file named <view>-<id>-<date>.<ext> and never leaves
// the page. A view that is one server answer (liability, exposure, neighbourhood, nothing expanded) is
// fetched from /export, which names the file the same way (Content-Disposition); owners, holdings and
// expanded drawings are written here from the drawing. PNG at 2x, SVG drawn from the canvas's own styles.
// Loaded before explore.js, which provides `cy`, `big`, `state`, `onScreen` and `esc`.
'use strict';

const EXTENSIONS = { cytoscape: 'cyjs', d3: 'json', gexf: 'gexf', graphml: 'graphml', png: 'png', svg: 'svg' };
const MEDIA = { cytoscape: 'application/json', d3: 'application/json', gexf: 'application/gexf+xml',
  graphml: 'application/graphml+xml' };

// The same rule as graph/exports.py `export_file_name`: the id's characters other than letters, digits,
// `.`, `_` and `-` become `_`; the date is the one asked, else today (the server's name wins when it sends one).
function exportName(ext) {
  const day = state.asOf || new Date().toLocaleDateString('sv');  // sv: YYYY-MM-DD in the local time zone
  return `${state.query}-${state.id.replace(/[^\p{L}\p{N}_.-]+/gu, '_')}-${day}.${ext}`;
}

async function exportView(format) {
  try {
    if (format === 'png') {
      const png = state.big ? await big.png(2) : cy.png({ full: true, scale: 2, output: 'blob', bg: '#ffffff' });
      return download(png, exportName('png'));
    }
    if (format === 'svg') return download(new Blob([state.big ? bigSvg() : toSvg()], { type: 'image/svg+xml' }), exportName('svg'));
    if (!serverAnswerOnScreen()) {
      return download(new Blob([WRITERS[format](drawnGraph())], { type: MEDIA[format] }), exportName(EXTENSIONS[format]));
    }
    const params = new URLSearchParams({ query: state.query, id: state.id });
    if (state.asOf) params.set('asOf', state.asOf);
    if (state.query === 'liability') params.set('maxOwners', String(state.maxOwners));
    const response = await reach(`/export/${format}?${params}`);
    if (!response.ok) {
      const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
      throw new Error(body.error);
    }
    download(await response.blob(), nameIn(response.headers.get('content-disposition')) || exportName(EXTENSIONS[format]));
    setStatus(`Exported ${format}.`);
  } catch (error) { setStatus(error.message, true); }
}

// Owners and holdings have no server export; an expanded or unfolded drawing is not one answer any more.
function serverAnswerOnScreen() {
  if (state.query === 'owners' || state.query === 'holdings') return false;
  const answer = state.answer?.graph?.nodes.length ?? -1;
  return onScreen().nodes.filter((n) => !n.more).length + foldedCount() === answer;
}

function foldedCount() {
  let count = 0;
  for (const f of (state.folded || new Map()).values()) count += f.nodes.length;
  return count;
}

function nameIn(disposition) {
  const utf8 = /filename\*=UTF-8''([^;]+)/i.exec(disposition || '');
  if (utf8) return decodeURIComponent(utf8[1]);
  const plain = /filename="([^"]+)"/i.exec(disposition || '');
  return plain ? plain[1] : null;
}

// The drawing as plain nodes and edges (folded nodes counted in, their "more" stand-ins left out; edges
// of relation types ticked off left out).
function drawnGraph() {
  const shown = onScreen();
  const more = new Set(shown.nodes.filter((n) => n.more).map((n) => n.id));
  const nodes = shown.nodes.filter((n) => !n.more).map(plainNode);
  const edges = shown.edges.filter((e) => !state.hidden.has(e.type) && !more.has(e.source) && !more.has(e.target))
    .map(plainEdge);
  for (const f of (state.folded || new Map()).values()) {
    nodes.push(...f.nodes.map(plainNode));
    edges.push(...f.edges.filter((e) => !state.hidden.has(e.type)).map(plainEdge));
  }
  return { nodes, edges };
}

function plainNode(d) {
  const out = { id: d.id, type: d.type, label: d.label };
  for (const key of ['role', 'weight', 'weightMin', 'weightMax', 'estimate', 'controls', 'mayControl', 'overAllocated']) {
    if (d[key] !== undefined && d[key] !== null) out[key] = d[key];
  }
  return out;
}

function plainEdge(d) {
  const out = { id: d.id, source: d.source, target: d.target, type: d.type };
  for (const key of ['share', 'shareMin', 'shareMax']) if (typeof d[key] === 'number') out[key] = d[key];
  return out;
}

const WRITERS = {
  cytoscape: (g) => JSON.stringify({ elements: { nodes: g.nodes.map((data) => ({ data })), edges: g.edges.map((data) => ({ data })) } }),
  // networkx's node-link form with `links` (what d3-force reads, and nx.node_link_graph(edges="links")).
  d3: (g) => JSON.stringify({ directed: true, multigraph: true, graph: {}, nodes: g.nodes,
    links: g.edges.map((e) => ({ ...e, key: e.id })) }),
  graphml: (g) => {
    const keys = attributeKeys(g);
    const head = keys.map(([on, name, type]) => `<key id="${on[0]}_${name}" for="${on}" attr.name="${name}" attr.type="${type}"/>`).join('');
    const data = (on, item) => keys.filter(([o, k]) => o === on && item[k] !== undefined)
      .map(([, k]) => `<data key="${on[0]}_${k}">${esc(String(item[k]))}</data>`).join('');
    return '<?xml version="1.0" encoding="UTF-8"?>\n<graphml xmlns="http://graphml.graphdrawing.org/xmlns">' + head +
      '<graph edgedefault="directed">' + g.nodes.map((n) => `<node id="${esc(n.id)}">${data('node', n)}</node>`).join('') +
      g.edges.map((e) => `<edge id="${esc(e.id)}" source="${esc(e.source)}" target="${esc(e.target)}">${data('edge', e)}</edge>`).join('') +
      '</graph></graphml>\n';
  },
  gexf: (g) => {
    const keys = attributeKeys(g);
    const decl = (on) => keys.filter(([o]) => o === on).map(([, k, type]) =>
      `<attribute id="${k}" title="${k}" type="${type === 'boolean' ? 'boolean' : type === 'double' ? 'double' : 'string'}"/>`).join('');
    const values = (on, item) => `<attvalues>${keys.filter(([o, k]) => o === on && item[k] !== undefined && k !== 'label')
      .map(([, k]) => `<attvalue for="${k}" value="${esc(String(item[k]))}"/>`).join('')}</attvalues>`;
    return '<?xml version="1.0" encoding="UTF-8"?>\n<gexf xmlns="http://www.gexf.net/1.2draft" version="1.2"><graph defaultedgetype="directed" mode="static">' +
      `<attributes class="node">${decl('node')}</attributes><attributes class="edge">${decl('edge')}</attributes>` +
      `<nodes>${g.nodes.map((n) => `<node id="${esc(n.id)}" label="${esc(n.label)}">${values('node', n)}</node>`).join('')}</nodes>` +
      `<edges>${g.edges.map((e) => `<edge id="${esc(e.id)}" source="${esc(e.source)}" target="${esc(e.target)}" label="${esc(e.type)}">${values('edge', e)}</edge>`).join('')}</edges>` +
      '</graph></gexf>\n';
  },
};

// [node|edge, attribute, GraphML type] of every attribute the graph's nodes and edges carry (ids and ends aside).
function attributeKeys(g) {
  const keys = [];
  for (const [on, items, skip] of [['node', g.nodes, ['id']], ['edge', g.edges, ['id', 'source', 'target']]]) {
    const seen = new Map();
    for (const item of items) {
      for (const [k, v] of Object.entries(item)) {
        if (!skip.includes(k) && !seen.has(k)) seen.set(k, typeof v === 'number' ? 'double' : typeof v === 'boolean' ? 'boolean' : 'string');
      }
    }
    for (const [k, type] of seen) keys.push([on, k, type]);
  }
  return keys;
}

function download(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

// ---- SVG ------------------------------------------------------------------------------------------

// The drawing as SVG, from each element's computed Cytoscape style: shapes, fills and borders (dashed
// where the canvas dashes them), edges between the points the canvas ends them at, with their arrows, line
// styles and widths, and the labels the canvas shows (names wrapped as it wraps them, weights, shares).
// Written here because the SVG exporter for Cytoscape (cytoscape-svg) is GPL-licensed.
function toSvg() {
  const box = cy.elements(':visible').boundingBox({ includeLabels: true, includeOverlays: false });
  const pad = 20;
  const X = (v) => (v - box.x1 + pad).toFixed(1);
  const Y = (v) => (v - box.y1 + pad).toFixed(1);
  const markers = new Markers();
  const edges = cy.edges(':visible').map((e) => {
    const s = e.sourceEndpoint();
    const t = e.targetEndpoint();
    const colour = e.style('line-color');
    const dash = e.style('line-style') === 'dashed' ? ' stroke-dasharray="6 4"' : '';
    const arrow = e.style('target-arrow-shape') !== 'none' ? ` marker-end="url(#${markers.id(colour)})"` : '';
    const line = `<line x1="${X(s.x)}" y1="${Y(s.y)}" x2="${X(t.x)}" y2="${Y(t.y)}" stroke="${colour}" stroke-width="${parseFloat(e.style('width'))}"${dash}${arrow}/>`;
    const label = e.style('label');
    if (!label) return line;
    const m = e.midpoint();
    return line + textBlock([label], X(m.x), Number(Y(m.y)) + 3, 10, true);
  });
  const nodes = cy.nodes(':visible').map((n) => {
    const p = n.position();
    const w = n.width();
    const h = n.height();
    const border = parseFloat(n.style('border-width'));
    const stroke = border > 0 ? ` stroke="${n.style('border-color')}" stroke-width="${border}"${n.style('border-style') === 'dashed' ? ' stroke-dasharray="5 3"' : ''}` : '';
    const fill = ` fill="${n.style('background-color')}"`;
    const shape = n.style('shape');
    let body;
    if (shape === 'diamond') {
      body = `<polygon points="${X(p.x)},${Y(p.y - h / 2)} ${X(p.x + w / 2)},${Y(p.y)} ${X(p.x)},${Y(p.y + h / 2)} ${X(p.x - w / 2)},${Y(p.y)}"${fill}${stroke}/>`;
    } else if (shape === 'round-rectangle' || shape === 'rectangle') {
      body = `<rect x="${X(p.x - w / 2)}" y="${Y(p.y - h / 2)}" width="${w}" height="${h}" rx="${shape === 'rectangle' ? 0 : 6}"${fill}${stroke}/>`;
    } else {
      body = `<ellipse cx="${X(p.x)}" cy="${Y(p.y)}" rx="${w / 2}" ry="${h / 2}"${fill}${stroke}/>`;
    }
    const label = n.style('label');
    return `<g><title>${esc(n.data('label'))}</title>${body}${label ? textBlock(wrap(label, 120, 12), X(p.x), Number(Y(p.y + h / 2)) + 15, 12, false) : ''}</g>`;
  });
  return svgDocument(box.w + 2 * pad, box.h + 2 * pad, markers, edges.join('') + nodes.join(''));
}

// A big view (explore-big.js) as SVG: every node where the canvas lays it out (shape, colour, control borders),
// every edge shown with its arrow and dashes, each name in its node's <title> and written under the node
// unless it would cover a stronger one's (as the canvas names nodes when zoomed in).
function bigSvg() {
  const pad = 60;
  const [x1, y1, x2, y2] = big.bounds();
  const X = (x) => (x - x1 + pad).toFixed(1);
  const Y = (y) => (y - y1 + pad).toFixed(1);
  const markers = new Markers();
  const lines = big.edges.map((e, k) => {
    const [s, t] = [big.ends[2 * k], big.ends[2 * k + 1]];
    if (s < 0 || state.hidden.has(e.type)) return '';
    const [dx, dy] = [big.xs[t] - big.xs[s], big.ys[t] - big.ys[s]];
    const cut = big.radius[t] / (Math.hypot(dx, dy) || 1);  // the arrow ends at the target's edge, not its centre
    return `<line x1="${X(big.xs[s])}" y1="${Y(big.ys[s])}" x2="${X(big.xs[t] - dx * cut)}" y2="${Y(big.ys[t] - dy * cut)}" ` +
      `stroke="${e.colour}" stroke-width="${Math.min(6, e.width || 1.5)}"${e.range ? ' stroke-dasharray="6 4"' : ''} marker-end="url(#${markers.id(e.colour)})"/>`;
  });
  const kept = new Grid(80);
  const named = new Set();
  for (const i of big.strongest) {
    const label = big.nodes[i].label;
    const width = label.length * 11 * 0.58;  // textBlock's estimate of a line's width
    const box = { x1: big.xs[i] - width / 2, x2: big.xs[i] + width / 2, y1: big.ys[i] + big.radius[i], y2: big.ys[i] + big.radius[i] + 14, w: width };
    if (!kept.hits(box, null)) { kept.add(box, i); named.add(i); }
  }
  const nodes = big.nodes.map((d, i) => {
    const [x, y, r] = [big.xs[i], big.ys[i], big.radius[i]];
    const border = d.controls || d.border > 0 ? ' stroke="#111" stroke-width="3"' : d.estimate || d.mayControl ? ' stroke="#111" stroke-width="2" stroke-dasharray="3 2"' : '';
    const shape = shapeOf(d);
    const body = shape === 'diamond' ? `<polygon points="${X(x)},${Y(y - 1.3 * r)} ${X(x + 1.3 * r)},${Y(y)} ${X(x)},${Y(y + 1.3 * r)} ${X(x - 1.3 * r)},${Y(y)}"`
      : shape === 'more' ? `<rect x="${X(x - 1.6 * r)}" y="${Y(y - 0.6 * r)}" width="${(3.2 * r).toFixed(1)}" height="${(1.2 * r).toFixed(1)}"`
        : `<circle cx="${X(x)}" cy="${Y(y)}" r="${r.toFixed(1)}"`;
    const name = named.has(i) ? textBlock([d.label], X(x), Number(Y(y + r)) + 12, 11, false) : '';
    return `<g><title>${esc(d.label)}</title>${body} fill="${d.colour}"${border}/>${name}</g>`;
  });
  return svgDocument(x2 - x1 + 2 * pad, y2 - y1 + 2 * pad, markers, lines.join('') + nodes.join(''));
}

// Arrowheads by colour, each written once into the SVG's <defs>.
class Markers {
  constructor() { this.ids = new Map(); }

  id(colour) {
    if (!this.ids.has(colour)) this.ids.set(colour, `a${this.ids.size}`);
    return this.ids.get(colour);
  }

  defs() {
    return [...this.ids].map(([colour, id]) => `<marker id="${id}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="4" markerHeight="4" orient="auto"><path d="M0,0L10,5L0,10z" fill="${colour}"/></marker>`).join('');
  }
}

function svgDocument(width, height, markers, body) {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width.toFixed(0)}" height="${height.toFixed(0)}" font-family="sans-serif">` +
    `<defs>${markers.defs()}</defs><rect width="100%" height="100%" fill="#fff"/>${body}</svg>`;
}

// Lines of text centred at x from baseline y; with a white backing (edge labels), as the canvas draws them.
function textBlock(lines, x, y, size, backed) {
  const widest = Math.max(...lines.map((l) => l.length)) * size * 0.58;
  const back = backed ? `<rect x="${(Number(x) - widest / 2 - 2).toFixed(1)}" y="${(y - size).toFixed(1)}" width="${(widest + 4).toFixed(1)}" height="${(lines.length * (size + 2) + 2).toFixed(1)}" fill="#fff" fill-opacity="0.85"/>` : '';
  return back + `<text x="${x}" y="${y.toFixed(1)}" font-size="${size}" text-anchor="middle" fill="#1d2433">` +
    lines.map((l, i) => `<tspan x="${x}" dy="${i ? size + 2 : 0}">${esc(l)}</tspan>`).join('') + '</text>';
}

// A label's lines as the canvas wraps them ('text-wrap: wrap' at 'text-max-width'): at its newlines, then at
// spaces once a line would be wider than maxWidth (measured with the canvas's own font).
function wrap(label, maxWidth, size) {
  const ctx = (wrap.canvas ||= document.createElement('canvas')).getContext('2d');
  ctx.font = `${size}px sans-serif`;
  const out = [];
  for (const line of String(label).split('\n')) {
    let current = '';
    for (const word of line.split(' ')) {
      const next = current ? `${current} ${word}` : word;
      if (current && ctx.measureText(next).width > maxWidth) { out.push(current); current = word; } else current = next;
    }
    out.push(current);
  }
  return out;
}
