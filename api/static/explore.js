// corpgraph's graph explorer: draws liability chains, exposure, owners, holdings, sanctions and neighbourhoods from the
// GraphQL API with Cytoscape.js, explains every number in a side panel, and keeps a text view of the
// same nodes and edges. It knows the server only through GraphQL (/graphql) and the exports (/export).
'use strict';

const $ = (id) => document.getElementById(id);
const TYPE_COLOURS = { COMPANY: '#4c6ef5', PERSON: '#2f9e44', ORGANIZATION: '#868e96', ACTOR: '#343a40', INCIDENT: '#e03131' };
const ROLE_COLOURS = { RESPONSIBLE: '#e8590c', OWNER: '#1c7ed6', DATA_RECIPIENT: '#9c36b5', PERPETRATOR: '#212529' };
const STATUS_COLOURS = { LISTED: '#c92a2a', BLOCKED_BY_OWNERSHIP: '#e8590c', BLOCKED_BY_CONTROL: '#f08c00',
  UNDETERMINED: '#fab005', NOT_BLOCKED: '#2f9e44' };
const CHANNEL_COLOURS = { OWNERSHIP: '#1c7ed6', DEPENDENCY: '#f08c00', DATA_FLOW: '#9c36b5', AFFECTED: '#c92a2a' };
const OWNERS_STEP = 100;      // parties fetched per "load more" (the API's maxOwners)
const OWNERS_MAX = 1000;      // the API's upper bound for maxOwners
const DRAW_LIMIT = 2000;      // nodes drawn before "show more" asks: keeps the page responsive
const SOURCES = 'sources { publisher title url publishedOn }';
const PATHS = `paths { weight hops { from to type share relationId ${SOURCES} } }`;
const HOLDINGS_PAGE = 100;   // owners/holdings fetched per page (the API's `first`)
const HOLDING = 'owner { id name type } company { id name type } direct integrated controls unknown cursor count ' +
  'integratedMin integratedMax estimate mayControl overAllocated declared { kind share shareMin shareMax }';
const GRAPH = 'graph { nodes { id type label properties } edges { id source target type properties } }';

const state = { query: 'liability', id: '', asOf: '', regime: 'OFAC', maxOwners: OWNERS_STEP, drawLimit: DRAW_LIMIT,
  details: new Map(), hidden: new Set(), answer: null };

const cy = cytoscape({
  container: $('cy'),
  wheelSensitivity: 0.3,
  maxZoom: 1.6,  // a four-node chain should not fill the screen with giant circles
  // Large graphs: draw a cached texture while panning and zooming instead of every element.
  textureOnViewport: true,
  hideEdgesOnViewport: true,
  style: [
    { selector: 'node', style: {
      'background-color': 'data(colour)', label: 'data(caption)', width: 'data(size)', height: 'data(size)',
      // Long names wrap under the node (the layout reserves their room) instead of being cut.
      'font-size': 12, 'text-valign': 'bottom', 'text-margin-y': 4, 'text-wrap': 'wrap', 'text-max-width': 120,
      'border-width': 'data(border)', 'border-color': '#111', 'min-zoomed-font-size': 7 } },
    { selector: 'node[type = "INCIDENT"]', style: { shape: 'diamond' } },
    { selector: 'node[?more]', style: { shape: 'round-rectangle', width: 90, height: 26, 'border-width': 1, 'border-color': '#868e96' } },
    // Uncertain figures look uncertain: a weight from a range's midpoint, or control only at the range's maximum.
    { selector: 'node[?estimate], node[?mayControl]', style: { 'border-style': 'dashed', 'border-width': 3, 'border-color': '#111' } },
    { selector: 'node[?controls]', style: { 'border-style': 'solid', 'border-width': 4 } },
    { selector: 'node[?overAllocated]', style: { 'border-color': '#f08c00', 'border-width': 4 } },
    { selector: 'node:selected', style: { 'overlay-color': '#4f7cff', 'overlay-opacity': 0.25, 'overlay-padding': 6 } },
    { selector: 'edge', style: {
      width: 'data(width)', 'line-color': 'data(colour)', 'target-arrow-color': 'data(colour)',
      'target-arrow-shape': 'triangle', 'curve-style': 'bezier', label: 'data(label)', 'font-size': 10,
      color: '#3b4252', 'min-zoomed-font-size': 7, 'text-background-color': '#fff', 'text-background-opacity': 0.85,
      'text-background-padding': 1 } },
    // A share known only as a range (GLEIF's "1.00", BODS minimum/maximum) is drawn dashed, labelled as the range.
    { selector: 'edge[?range]', style: { 'line-style': 'dashed' } },
    // Labels off: every edge's on drawings of many edges (`labels`), or those that would collide (`declutter`);
    // back on hover, selection or zoom.
    { selector: '.unnamed, .quiet', style: { label: '' } },
    { selector: 'node.quiet.shown, node:selected', style: { label: 'data(caption)' } },
    { selector: 'edge.unnamed.shown, edge.quiet.shown', style: { label: 'data(label)' } },
    { selector: '.hidden', style: { display: 'none' } },
  ],
});
watchZoom();
// Entity types are spelled as the GraphQL enum spells them (COMPANY) everywhere, graph payloads included;
// people read them as words (Company).
function typeLabel(type) { return type ? type.charAt(0) + type.slice(1).toLowerCase() : ''; }

// ---- GraphQL --------------------------------------------------------------------------------------

async function gql(query, variables) {
  const response = await reach('/graphql', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }),
  });
  const body = await response.json().catch(() => ({ errors: [{ message: `HTTP ${response.status}` }] }));
  if (body.errors && body.errors.length) throw new Error(body.errors.map((e) => e.message).join('; '));
  return body.data;
}

// fetch, with a failure to connect said as what it is (the browser only says "Failed to fetch").
async function reach(url, options) {
  try {
    return await fetch(url, options);
  } catch (error) {
    throw new Error(`server not reachable at ${window.location.origin}: is \`corpgraph serve\` still running? (${error.message})`);
  }
}

const UNCERTAIN = 'weightMin weightMax estimate mayControl overAllocated declared { kind share shareMin shareMax }';
const QUERIES = {
  liability: {
    text: `query($id: ID!, $asOf: Date, $maxOwners: Int) { liabilityChain(incidentId: $id, asOf: $asOf, maxOwners: $maxOwners) {
      asOf ownersTotal incident { id name } parties { entity { id name type } role weight controls unknown detail attributedTo { id name } ${UNCERTAIN} ${PATHS} } ${GRAPH} } }`,
    vars: () => ({ id: state.id, asOf: state.asOf || null, maxOwners: state.maxOwners }),
    pick: (d) => d.liabilityChain,
  },
  exposure: {
    text: `query($id: ID!, $asOf: Date) { exposure(entityId: $id, asOf: $asOf) {
      asOf totals count entity { id name } items { incident { id name } channel weight via { id name } impact ${PATHS} } ${GRAPH} } }`,
    vars: () => ({ id: state.id, asOf: state.asOf || null }),
    pick: (d) => d.exposure,
  },
  owners: {
    text: `query($id: ID!, $asOf: Date, $after: String) { entity(id: $id) { id name type }
      page: owners(companyId: $id, asOf: $asOf, first: ${HOLDINGS_PAGE}, after: $after) { ${HOLDING} } }`,
    vars: () => ({ id: state.id, asOf: state.asOf || null, after: null }),
    pick: (d) => d,
  },
  holdings: {
    text: `query($id: ID!, $asOf: Date, $after: String) { entity(id: $id) { id name type }
      page: holdings(companyId: $id, asOf: $asOf, first: ${HOLDINGS_PAGE}, after: $after) { ${HOLDING} } }`,
    vars: () => ({ id: state.id, asOf: state.asOf || null, after: null }),
    pick: (d) => d,
  },
  sanctions: {
    text: `query($id: ID!, $regime: String!, $asOf: Date) { sanctionsStatus(entityId: $id, regime: $regime, asOf: $asOf) {
      entity { id name type } regime asOf status aggregateShare aggregateShareMin aggregateShareMax notes
      designations { regime authority program validFrom validTo ${SOURCES} }
      contributors { entity { id name type } status via share shareMin shareMax ${PATHS} } } }`,
    vars: () => ({ id: state.id, regime: state.regime, asOf: state.asOf || null }),
    pick: (d) => d.sanctionsStatus,
  },
  neighborhood: {
    text: `query($id: ID!) { neighborhood(id: $id) { nodes { id type label properties } edges { id source target type properties } } }`,
    vars: () => ({ id: state.id }),
    pick: (d) => ({ graph: d.neighborhood }),
  },
};

// ---- drawing --------------------------------------------------------------------------------------

function nodeData(id, type, label, extra = {}) {
  const data = { id, type, label: label || id, colour: TYPE_COLOURS[type] || '#adb5bd', size: 26, border: 0, ...extra };
  data.caption ??= caption(data);
  return data;
}

// What is written under a node: its name, then its weight as the answer gives it (a range's estimate with
// the exact bounds), control, and a declared figure beside the computed one.
function caption(d) {
  const lines = [d.label];
  if (typeof d.weight === 'number' && d.type !== 'INCIDENT') {
    lines.push(d.estimate ? `≈${pct(d.weight)} (${range(d.weightMin, d.weightMax)})` : pct(d.weight));
  }
  const marks = [d.controls ? 'controls' : d.mayControl ? 'may control' : '', d.overAllocated ? 'over 100%, scaled' : '']
    .filter(Boolean);
  if (marks.length) lines.push(marks.join(' · '));
  if (d.declaredText) lines.push(`declared ${d.declaredText}`);
  return lines.join('\n');
}

function edgeData(edge) {
  const p = edge.properties || {};
  const share = typeof p.share === 'number' ? p.share : null;
  const ranged = share === null && typeof p.share_min === 'number' && typeof p.share_max === 'number';
  const colour = { OWNS: '#1c7ed6', RESPONSIBLE_FOR: '#e8590c', SUPPLIED_DATA_TO: '#9c36b5', PERPETRATED: '#212529',
    DEPENDS_ON: '#f08c00', AFFECTED: '#c92a2a', CONTROLS: '#0b7285', RELATED_TO: '#5f3dc4',
    PAID: '#2b8a3e', ATTRIBUTED_TO: '#868e96' }[edge.type] || '#adb5bd';
  // A range weighs as its midpoint for the line's width, and is labelled and dashed as the range it is.
  const weight = ranged ? (p.share_min + p.share_max) / 2 : share;
  return { id: edge.id, source: edge.source, target: edge.target, type: edge.type, share,
    shareMin: ranged ? p.share_min : undefined, shareMax: ranged ? p.share_max : undefined, range: ranged, colour,
    width: weight === null ? 1.5 : 1.5 + 8 * weight,
    label: ranged ? `${edge.type} ${range(p.share_min, p.share_max)}` : share === null ? edge.type : `${edge.type} ${pct(share)}`,
    properties: p };
}

function pct(x) {
  if (x === null || x === undefined) return 'unknown';
  const p = 100 * x;
  // tiny shares keep one significant digit (0.04%) instead of reading as 0.0%
  return `${p > 0 && p < 0.1 ? p.toPrecision(1) : p.toFixed(p % 1 ? 1 : 0)}%`;
}
function range(low, high) { return `${pct(low).replace('%', '')}–${pct(high)}`; }
function declaredText(declared) {
  return (declared || []).map((d) => (typeof d.share === 'number' ? pct(d.share) : typeof d.shareMin === 'number'
    ? range(d.shareMin, d.shareMax) : d.kind.replace('_', ' '))).join(', ');
}
function num(x) { return x === null || x === undefined ? '—' : (Math.round(x * 10000) / 10000).toString(); }

function draw(nodes, edges, layout = 'auto') {
  const cut = nodes.slice(0, state.drawLimit);
  const ids = new Set(cut.map((n) => n.id));
  const [shown, joined] = foldFans(cut, edges.filter((e) => ids.has(e.source) && ids.has(e.target)), state.foldLimit);
  place(shown, joined, layout);
  renderFilters();
  renderTextView();
  return nodes.length - cut.length;
}

// Put nodes and edges on screen: past BIG_LIMIT nodes on the big view's canvas (explore-big.js), else in Cytoscape.
function place(nodes, edges, layout) {
  state.big = nodes.length > BIG_LIMIT;
  $('cy').hidden = state.big;
  $('big-view').hidden = !state.big;
  if (state.big) {
    cy.elements().remove();
    big.hidden = new Set(state.hidden);
    big.show(nodes, edges);
    return;
  }
  big.clear();
  cy.resize();  // its container may just have come back from being hidden
  cy.batch(() => {  // one style pass for the whole answer, not one per element
    cy.elements().remove();
    cy.add(nodes.map((data) => ({ group: 'nodes', data })));
    cy.add(edges.map((data) => ({ group: 'edges', data })));
    applyFilters();
  });
  labels(edges.length);
  runLayout(layout);
}

// The node and edge data on screen, whichever view draws them (edges of hidden relation types included).
function onScreen() {
  if (state.big) return { nodes: big.nodes, edges: big.edges };
  return { nodes: cy.nodes().map((n) => n.data()), edges: cy.edges().map((e) => e.data()) };
}

function drawnText() {
  const { nodes, edges } = onScreen();
  const later = edges.length > EDGE_BUDGET ? `names and, past ${EDGE_BUDGET.toLocaleString('en')} in view, relations` : 'names';
  const timing = state.big ? ` in ${big.drawSeconds.toFixed(2)} s (drag to pan, scroll to zoom: ${later} show as you zoom in)` : '';
  return `${nodes.length} nodes, ${edges.length} edges drawn${timing}.`;
}

function runLayout(name) {
  const count = cy.nodes().length;
  // Answers that are DAG-like (every view but a neighbourhood) are drawn in layers while dagre is quick;
  // cose is readable for small neighbourhoods but grows quadratically (70 s at 1,000 nodes, measured in
  // benchmarks/explorer_draw.py); past that rings around the centre are computed in O(n).
  if (state.query !== 'neighborhood' && name !== 'cose' && count <= LAYERED_LIMIT) {
    layered();
    fitReadable();
    state.fitZoom = cy.zoom();
    return declutter();
  } else if (count <= 300 && name !== 'rings') {
    cy.layout({ name: 'cose', animate: false, nodeRepulsion: () => 9000, idealEdgeLength: () => 110, randomize: false }).run();
  } else {
    const positions = ringPositions();
    cy.layout({ name: 'preset', positions: (node) => positions.get(node.id()), fit: false, animate: false }).run();
    fitTo(positions.values());
    state.fitZoom = cy.zoom();
    return declutter();
  }
  cy.fit(undefined, 40);
  state.fitZoom = cy.zoom();
  declutter();
}

// Fit the view to known positions: cy.fit() measures every element and label, which took seconds at
// 10,000 nodes; the positions we just computed give the same box for free.
function fitTo(points) {
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
  for (const p of points) { x1 = Math.min(x1, p.x); y1 = Math.min(y1, p.y); x2 = Math.max(x2, p.x); y2 = Math.max(y2, p.y); }
  const pad = 60;
  const zoom = Math.min(cy.maxZoom(), cy.width() / (x2 - x1 + 2 * pad), cy.height() / (y2 - y1 + 2 * pad));
  cy.viewport({ zoom, pan: { x: cy.width() / 2 - zoom * (x1 + x2) / 2, y: cy.height() / 2 - zoom * (y1 + y2) / 2 } });
}

// Edge labels (relation and share) only while they can be read; the text view always has them. (Node names
// past BIG_LIMIT nodes are the big view's business: explore-big.js draws them by zoom.)
const EDGE_LABEL_LIMIT = 300;  // past that, hidden even before the collision pass (explore-layout.js)
function labels(edgeCount) {
  cy.batch(() => cy.edges().toggleClass('unnamed', edgeCount > EDGE_LABEL_LIMIT));
}

// A radial tree around the most central node (highest rank): ring k holds the nodes k hops away, and
// each node's children share its angular sector in proportion to their subtree sizes, so edges of the
// breadth-first tree never cross. O(nodes + edges).
function ringPositions() {
  const ids = cy.nodes().map((n) => n.id());
  const rank = new Map(cy.nodes().map((n) => [n.id(), n.data('rank') || 0]));
  const near = new Map(ids.map((id) => [id, []]));
  cy.edges().forEach((e) => { near.get(e.data('source'))?.push(e.data('target')); near.get(e.data('target'))?.push(e.data('source')); });
  const centre = ids.reduce((best, id) => (rank.get(id) > rank.get(best) ? id : best), ids[0]);
  const children = new Map(ids.map((id) => [id, []]));
  const depth = new Map([[centre, 0]]);
  const order = [centre];
  for (let i = 0; i < order.length; i++) {
    for (const other of near.get(order[i])) {
      if (!depth.has(other)) { depth.set(other, depth.get(order[i]) + 1); children.get(order[i]).push(other); order.push(other); }
    }
  }
  const orphans = ids.filter((id) => !depth.has(id));  // not connected to the centre: one outer ring
  const size = new Map();
  for (let i = order.length - 1; i >= 0; i--) size.set(order[i], 1 + children.get(order[i]).reduce((t, c) => t + size.get(c), 0));
  const perRing = [];
  for (const id of order) perRing[depth.get(id)] = (perRing[depth.get(id)] || 0) + 1;
  const radius = [0];
  for (let k = 1; k < perRing.length + 1; k++) radius[k] = Math.max(radius[k - 1] + 160, ((perRing[k] || orphans.length) * 34) / (2 * Math.PI));
  const positions = new Map();
  const sector = new Map([[centre, [0, 2 * Math.PI]]]);
  for (const id of order) {
    const [from, to] = sector.get(id);
    const r = radius[depth.get(id)];
    const angle = (from + to) / 2;
    positions.set(id, { x: r * Math.cos(angle), y: r * Math.sin(angle) });
    let at = from;
    const total = size.get(id) - 1;
    for (const child of children.get(id)) {
      const width = ((to - from) * size.get(child)) / total;
      sector.set(child, [at, at + width]);
      at += width;
    }
  }
  const outer = radius[perRing.length];
  orphans.forEach((id, i) => {
    const angle = (2 * Math.PI * i) / orphans.length;
    positions.set(id, { x: outer * Math.cos(angle), y: outer * Math.sin(angle) });
  });
  return positions;
}

function merge(graph) {
  const known = new Set(onScreen().nodes.map((n) => n.id));
  const fresh = graph.nodes.filter((n) => !known.has(n.id));
  if (state.big || known.size + fresh.length > BIG_LIMIT) {
    return mergeDrawn(fresh.map((n) => nodeData(n.id, n.type, n.label, { properties: n.properties })), graph.edges.map(edgeData));
  }
  const add = [];
  for (const n of fresh) add.push({ group: 'nodes', data: nodeData(n.id, n.type, n.label, { properties: n.properties }) });
  const edgeIds = new Set(cy.edges().map((e) => e.id()));
  for (const e of graph.edges) if (!edgeIds.has(e.id)) add.push({ group: 'edges', data: edgeData(e) });
  cy.add(add);
  applyFilters();
  runLayout('cose');
  renderFilters();
  renderTextView();
}

// Nodes and edges added to what is on screen (a neighbourhood expanded, a "more" node opened, which goes), where
// that is or makes a big view: all of it placed again (Cytoscape adds to its drawing in place, merge and unfold).
function mergeDrawn(nodes, edges, gone = null) {
  const shown = onScreen();
  const kept = shown.nodes.filter((n) => n.id !== gone);
  const known = new Set(kept.map((n) => n.id));
  const edgeIds = new Set(shown.edges.map((e) => e.id));
  place([...kept, ...nodes.filter((n) => !known.has(n.id))],
    [...shown.edges.filter((e) => e.source !== gone && e.target !== gone), ...edges.filter((e) => !edgeIds.has(e.id))]);
  renderFilters();
  renderTextView();
}

// ---- the views ------------------------------------------------------------------------------

// The uncertainty fields of a party or holding, as node data (drawn by the stylesheet and `caption`).
function uncertainty(x) {
  return { estimate: Boolean(x.estimate), weightMin: x.weightMin ?? x.integratedMin, weightMax: x.weightMax ?? x.integratedMax,
    controls: Boolean(x.controls), mayControl: Boolean(x.mayControl && !x.controls), overAllocated: Boolean(x.overAllocated),
    declaredText: declaredText(x.declared) };
}

// A weight as the panel writes it: exact, or ≈ the estimate with its exact range; then a declared figure.
function figure(value, x) {
  if (value === null || value === undefined) return '—';
  const min = x.weightMin ?? x.integratedMin;
  const max = x.weightMax ?? x.integratedMax;
  const text = x.estimate ? `≈${num(value)} (${range(min, max)})` : num(value);
  const declared = declaredText(x.declared);
  return text + (x.overAllocated ? ' · over 100%, scaled' : '') + (declared ? ` · declared ${declared}` : '');
}

// A perpetrator's attribution, as the chain states it: shown beside it, never a liable party (no weight).
function attributedText(p) {
  const to = p.attributedTo || [];
  return to.length ? ` · attributed to ${to.map((e) => `<a href="#" data-select="${esc(e.id)}">${esc(e.name)}</a>`).join(', ')}` : '';
}

function showLiability(chain) {
  const parties = new Map(chain.parties.map((p) => [p.entity.id, p]));
  const nodes = chain.graph.nodes.map((n) => {
    const p = parties.get(n.id);
    const extra = { properties: n.properties, rank: n.type === 'INCIDENT' ? 10 : (p ? 5 : 1) };
    if (p) Object.assign(extra, uncertainty(p), { role: p.role, weight: p.weight, colour: ROLE_COLOURS[p.role],
      border: p.controls ? 4 : 0, size: 22 + 34 * (p.weight ?? 0) });
    if (n.type === 'INCIDENT') Object.assign(extra, { size: 44 });
    return nodeData(n.id, n.type, n.label, extra);
  });
  const cut = draw(nodes, chain.graph.edges.map(edgeData));
  const owners = chain.parties.filter((p) => p.role === 'OWNER').length;
  const more = chain.ownersTotal - owners;
  // One entity can be a party several times (the owner of two responsible companies, an owner that also
  // received data): say how many entities that is.
  const distinct = new Set(chain.parties.map((p) => p.entity.id)).size;
  $('summary').innerHTML = `<h3>Liability: ${esc(chain.incident.name)}</h3>
    <div class="muted">as of ${chain.asOf} · ${chain.parties.length} parties (${distinct} distinct) · ${chain.ownersTotal} owner parties in all</div>
    ${more > 0 ? `<div class="more">Showing the ${owners} strongest owners; ${more} more.
      ${state.maxOwners < OWNERS_MAX ? '<button id="more-owners" type="button">Load more owners</button>' : '(the API returns at most 1000)'}</div>` : ''}
    ${cutNotice(cut)}
    <table class="parties">${chain.parties.map((p) => `<tr><td><a href="#" data-select="${esc(p.entity.id)}">${esc(p.entity.name)}</a></td>
      <td>${p.role}${p.controls ? ' · controls' : p.mayControl ? ' · may control' : ''}${attributedText(p)}</td><td>${figure(p.weight, p)}</td></tr>`).join('')}</table>`;
  state.details = new Map(chain.parties.map((p) => [p.entity.id, { kind: 'party', ...p }]));
  legend(ROLE_COLOURS, 'solid border: controls a responsible company; dashed: may control, or an estimate from a range; dashed edge: a share known as a range; grey ATTRIBUTED_TO edge: attribution, never liability; size: weight');
}

function showExposure(exp) {
  const byIncident = new Map();
  for (const item of exp.items) byIncident.set(item.incident.id, item);
  const nodes = exp.graph.nodes.map((n) => {
    const item = byIncident.get(n.id);
    const extra = { properties: n.properties, rank: n.id === exp.entity.id ? 10 : (item ? 5 : 1) };
    if (item) Object.assign(extra, { colour: CHANNEL_COLOURS[item.channel] || '#e03131', weight: item.weight, size: 22 + 34 * item.weight });
    if (n.id === exp.entity.id) Object.assign(extra, { size: 44, border: 3 });
    return nodeData(n.id, n.type, n.label, extra);
  });
  const cut = draw(nodes, exp.graph.edges.map(edgeData));
  const totals = Object.entries(exp.totals || {}).map(([k, v]) => `<dt>${esc(k)}</dt><dd>${Number(v).toLocaleString()}</dd>`).join('');
  $('summary').innerHTML = `<h3>Exposure: ${esc(exp.entity.name)}</h3>
    <div class="muted">as of ${exp.asOf} · ${exp.count > exp.items.length ? `the ${exp.items.length} largest (weight × impact) of ${exp.count.toLocaleString()} exposures; totals over all` : `${exp.items.length} exposures`}</div>${cutNotice(cut)}
    <h4>Weighted totals</h4><dl>${totals || '<dt>none</dt><dd></dd>'}</dl>
    <table>${exp.items.map((i) => `<tr><td><a href="#" data-select="${esc(i.incident.id)}">${esc(i.incident.name)}</a></td>
      <td>${i.channel}</td><td>${num(i.weight)}</td></tr>`).join('')}</table>`;
  state.details = new Map(exp.items.map((i) => [i.incident.id, { kind: 'exposure', ...i }]));
  legend(CHANNEL_COLOURS, 'incidents coloured by channel; size: weight');
}

// Owners of a company or holdings of an owner, a page at a time (strongest first, as the API orders them):
// the largest holder's 850k holdings stay usable because only loaded pages are drawn.
function showHoldings(data) {
  const centre = data.entity;
  if (!centre) throw new Error(`no entity with id ${state.id}`);
  const owners = state.query === 'owners';
  const holdings = data.page;
  const other = (h) => (owners ? h.owner : h.company);
  const nodes = [nodeData(centre.id, centre.type, centre.name, { size: 44, rank: 10 })];
  const edges = [];
  for (const h of holdings) {
    const o = other(h);
    nodes.push(nodeData(o.id, o.type, o.name, { ...uncertainty(h), weight: h.integrated, size: 22 + 34 * (h.integrated ?? 0),
      border: h.controls ? 4 : 0, rank: 5 }));
    // An integrated share from a range's midpoint is labelled as an estimate with its exact bounds, dashed.
    const integrated = h.estimate ? `≈${pct(h.integrated)} (${range(h.integratedMin, h.integratedMax)})` : pct(h.integrated);
    edges.push({ id: `holding|${h.owner.id}|${h.company.id}`, source: h.owner.id, target: h.company.id, type: 'OWNS',
      share: h.integrated, range: Boolean(h.estimate), colour: '#1c7ed6', width: 1.5 + 8 * (h.integrated ?? 0),
      label: `${h.direct !== null && !h.estimate ? 'direct ' + pct(h.direct) + ', ' : ''}integrated ${integrated}`, properties: {} });
  }
  const cut = draw(nodes, edges, 'rings');  // a star: rings read better than a force layout
  const total = holdings.length ? holdings[0].count : 0;
  const more = total - holdings.length;
  $('summary').innerHTML = `<h3>${owners ? 'Owners of' : 'Holdings of'} ${esc(centre.name)}</h3>
    <div class="muted">${total} in all, strongest first</div>
    ${more > 0 ? `<div class="more">Showing ${holdings.length}; ${more} more. <button id="more-holdings" type="button">Load ${Math.min(more, HOLDINGS_PAGE)} more</button></div>` : ''}
    ${cutNotice(cut)}<table>${holdings.slice(0, 500).map((h) => `<tr><td><a href="#" data-select="${esc(other(h).id)}">${esc(other(h).name)}</a></td>
      <td>direct ${h.estimate ? 'a range' : pct(h.direct)}</td><td>integrated ${figure(h.integrated, h)}${h.controls ? ' · controls' : h.mayControl ? ' · may control' : ''}${h.unknown ? ' · some shares unknown' : ''}</td></tr>`).join('')}</table>`;
  state.details = new Map(holdings.map((h) => [other(h).id, { kind: 'holding', ...h }]));
  legend(TYPE_COLOURS, 'solid border: controls; dashed: may control, or an estimate from a range; edge width: integrated share');
}

async function moreHoldings() {
  const spec = QUERIES[state.query];
  const loaded = state.answer.page;
  setStatus('Loading more…');
  try {
    const data = await gql(spec.text, { ...spec.vars(), after: loaded[loaded.length - 1].cursor });
    state.answer = { ...state.answer, page: [...loaded, ...data.page] };
    showHoldings(state.answer);
    setStatus(drawnText());
  } catch (error) { setStatus(error.message, true); }
}

function showNeighborhood(answer) {
  const nodes = answer.graph.nodes.map((n) => nodeData(n.id, n.type, n.label, { properties: n.properties, size: n.id === state.id ? 40 : 26 }));
  const cut = draw(nodes, answer.graph.edges.map(edgeData));
  $('summary').innerHTML = `<h3>Neighbourhood of ${esc(state.id)}</h3><div class="muted">${nodes.length} nodes; click a node, then Expand</div>${cutNotice(cut)}`;
  state.details = new Map();
  legend(TYPE_COLOURS, 'click a node to see it; Expand adds its neighbours');
}

// Sanctions by ownership: the entity, its listed and blocked holders coloured by status, and every hop of the
// paths from a designation down to it (a listed party wears a thick border; click an edge for its sources).
function showSanctions(answer) {
  const statuses = new Map(answer.contributors.map((c) => [c.entity.id, c.status]));
  statuses.set(answer.entity.id, answer.status);
  const nodes = new Map([[answer.entity.id, nodeData(answer.entity.id, answer.entity.type, answer.entity.name,
    { size: 44, rank: 10, status: answer.status, colour: STATUS_COLOURS[answer.status], border: answer.status === 'LISTED' ? 6 : 0 })]]);
  const edges = new Map();
  for (const c of answer.contributors) {
    nodes.set(c.entity.id, nodeData(c.entity.id, c.entity.type, c.entity.name, { rank: 5, status: c.status,
      weight: c.share, colour: STATUS_COLOURS[c.status], size: 22 + 34 * (c.share ?? 0.3), border: c.status === 'LISTED' ? 6 : 0 }));
    for (const path of c.paths) {
      for (const h of path.hops) {
        if (h.from === h.to) continue;  // the designation itself: the listed party's border says it
        for (const id of [h.from, h.to]) if (!nodes.has(id)) nodes.set(id, nodeData(id, 'COMPANY', id, { rank: 1 }));
        edges.set(h.relationId, { id: h.relationId, source: h.from, target: h.to, type: h.type, share: h.share,
          colour: h.type === 'CONTROLS' ? '#0b7285' : '#1c7ed6', width: h.share === null ? 2 : 1.5 + 8 * h.share,
          label: h.share === null ? h.type : `${h.type} ${pct(h.share)}`, properties: {}, sources: h.sources });
      }
    }
  }
  draw([...nodes.values()], [...edges.values()], 'tree');
  const bounds = answer.aggregateShareMin === answer.aggregateShareMax ? '' : ` (between ${pct(answer.aggregateShareMin)} and ${pct(answer.aggregateShareMax)})`;
  $('summary').innerHTML = `<h3>Sanctions (${esc(answer.regime)}): ${esc(answer.entity.name)}</h3>
    <div class="muted">as of ${answer.asOf}</div>
    <div class="status" style="color:${STATUS_COLOURS[answer.status]}"><strong>${answer.status.replace(/_/g, ' ')}</strong></div>
    <div>listed and blocked holders hold ${pct(answer.aggregateShare)}${bounds}</div>
    ${answer.designations.map((d) => `<div class="designation">listed: ${esc(d.regime)} ${esc(d.program || '')} by ${esc(d.authority || 'an authority not named')}
      from ${d.validFrom || 'always'}${d.validTo ? ` to ${d.validTo}` : ''}${d.sources.map(sourceHtml).join('')}</div>`).join('')}
    <table class="contributors">${answer.contributors.map((c) => `<tr><td><a href="#" data-select="${esc(c.entity.id)}">${esc(c.entity.name)}</a></td>
      <td style="color:${STATUS_COLOURS[c.status]}">${c.status}</td><td>${c.via === 'CONTROLS' ? 'controls' : pct(c.share)}</td></tr>`).join('')}</table>
    ${answer.notes.map((n) => `<div class="note">${esc(n)}</div>`).join('')}`;
  state.details = new Map(answer.contributors.map((c) => [c.entity.id, { kind: 'contributor', ...c }]));
  legend(STATUS_COLOURS, 'thick border: listed; click a node for its path from a designation, an edge for its sources');
}

const SHOW = { liability: showLiability, exposure: showExposure, owners: showHoldings, holdings: showHoldings,
  sanctions: showSanctions, neighborhood: showNeighborhood };

async function run() {
  if (!state.id) return;
  showRegime(state.query);
  syncUrl();
  setStatus(`Loading ${state.query} of ${state.id}…`);
  $('details').innerHTML = '';
  try {
    const spec = QUERIES[state.query];
    const data = spec.pick(await gql(spec.text, spec.vars()));
    state.answer = data;
    SHOW[state.query](data);
    setStatus(drawnText());
  } catch (error) {
    cy.elements().remove();
    big.clear();
    renderTextView();
    $('summary').innerHTML = '';
    setStatus(error.message, true);
  }
}

// ---- the side panel ------------------------------------------------------------------------------

async function select(id) {
  const node = cy.getElementById(id);
  cy.elements().unselect();
  if (node.nonempty()) node.select();
  big.select(id);
  const detail = state.details.get(id);
  let entity = null;
  try {
    entity = (await gql(`query($id: ID!) { entity(id: $id) { id name type aliases description
      addresses { full street postalCode city country } ${SOURCES} } }`, { id })).entity;
  } catch (error) { /* the panel still shows what the answer said */ }
  const name = entity ? entity.name : id;
  let html = `<h3>${esc(name)}</h3><div class="muted">${esc(entity ? typeLabel(entity.type) : '')} · id <code>${esc(id)}</code></div>`;
  if (entity && entity.aliases.length) html += `<div class="muted">also: ${entity.aliases.map(esc).join(', ')}</div>`;
  if (entity && entity.addresses.length) html += `<div class="muted">address: ${entity.addresses.map(addressText).map(esc).join('; ')}</div>`;
  if (detail) html += describe(detail);
  if (entity && entity.sources.length) html += `<h4>Sources of this entity</h4>${entity.sources.map(sourceHtml).join('')}`;
  html += `<div><button type="button" data-expand="${esc(id)}">Expand neighbours</button>
    <button type="button" data-open="exposure" data-id="${esc(id)}">Exposure</button>
    <button type="button" data-open="owners" data-id="${esc(id)}">Owners</button>
    <button type="button" data-open="holdings" data-id="${esc(id)}">Holdings</button>
    <button type="button" data-open="sanctions" data-id="${esc(id)}">Sanctions</button>
    ${entity && entity.type === 'INCIDENT' ? `<button type="button" data-open="liability" data-id="${esc(id)}">Liability chain</button>` : ''}</div>`;
  $('details').innerHTML = html;
}

function describe(d) {
  if (d.kind === 'contributor') {
    return `<dl><dt>status</dt><dd>${d.status}</dd><dt>${d.via === 'CONTROLS' ? 'interest' : 'share'}</dt>
      <dd>${d.via === 'CONTROLS' ? 'controls' : pct(d.share)}${d.shareMin !== d.shareMax ? ` (${pct(d.shareMin)} to ${pct(d.shareMax)})` : ''}</dd></dl>${pathsHtml(d.paths)}`;
  }
  if (d.kind === 'party') {
    return `<dl><dt>role</dt><dd>${d.role}${d.detail ? ` (${esc(d.detail)})` : ''}</dd><dt>weight</dt><dd>${figure(d.weight, d)}</dd>
      <dt>controls</dt><dd>${d.controls ? 'yes' : d.mayControl ? 'may (at the ranges\' maximum)' : 'no'}</dd>${d.unknown ? '<dt>note</dt><dd>a share on the way is unknown</dd>' : ''}</dl>${pathsHtml(d.paths)}`;
  }
  if (d.kind === 'exposure') {
    const impact = Object.entries(d.impact || {}).map(([k, v]) => `<dt>${esc(k)}</dt><dd>${Number(v).toLocaleString()}</dd>`).join('');
    return `<dl><dt>channel</dt><dd>${d.channel}</dd><dt>weight</dt><dd>${num(d.weight)}</dd>
      ${d.via ? `<dt>via</dt><dd>${esc(d.via.name)}</dd>` : ''}${impact}</dl>${pathsHtml(d.paths)}`;
  }
  return `<dl><dt>direct</dt><dd>${d.estimate ? 'a range' : pct(d.direct)}</dd><dt>integrated</dt><dd>${figure(d.integrated, d)}</dd>
    <dt>controls</dt><dd>${d.controls ? 'yes' : d.mayControl ? 'may (at the ranges\' maximum)' : 'no'}</dd></dl>`;
}

function pathsHtml(paths) {
  if (!paths || !paths.length) return '';
  return `<h4>Why: ${paths.length} path${paths.length > 1 ? 's' : ''}</h4>` + paths.map((p) => `<div class="path">
    <div class="muted">path weight ${num(p.weight)}</div>${p.hops.map((h) => `<div class="hop">${esc(h.from)} —${h.type}${
      h.share !== null && h.share !== undefined ? ` ${pct(h.share)}` : ''}→ ${esc(h.to)}</div>${h.sources.map(sourceHtml).join('')}`).join('')}</div>`).join('');
}

function addressText(a) {
  return a.full || [a.street, [a.postalCode, a.city].filter(Boolean).join(' '), a.country].filter(Boolean).join(', ');
}

function sourceHtml(s) {
  const title = s.url ? `<a href="${esc(s.url)}" target="_blank" rel="noopener noreferrer">${esc(s.title)}</a>` : esc(s.title);
  return `<div class="src">${esc(s.publisher)}, ${title}${s.publishedOn ? `, ${s.publishedOn}` : ''}</div>`;
}

async function expand(id) {
  setStatus(`Expanding ${id}…`);
  try {
    const graph = (await gql(QUERIES.neighborhood.text, { id })).neighborhood;
    const before = onScreen().nodes.length;
    merge(graph);
    const after = onScreen().nodes.length;
    setStatus(`${after - before} nodes added around ${id}; ${after} nodes drawn.`);
  } catch (error) { setStatus(error.message, true); }
}

// ---- filters, text view, legend ------------------------------------------------------------------

function renderFilters() {
  const types = [...new Set(onScreen().edges.map((e) => e.type))].sort();
  $('filters').innerHTML = types.length ? 'Relations: ' + types.map((t) => `<label><input type="checkbox" data-type="${esc(t)}"
    ${state.hidden.has(t) ? '' : 'checked'}> ${esc(t)}</label>`).join('') : '';
}

function applyFilters() {
  if (state.big) return big.setHidden(state.hidden);
  cy.batch(() => cy.edges().forEach((e) => e.toggleClass('hidden', state.hidden.has(e.data('type')))));
}

// Written when shown (a table of ten thousand rows is a tenth of a second better spent when asked for).
function renderTextView() {
  state.textStale = $('text-view').hidden;
  if (state.textStale) return;
  const { nodes, edges: all } = onScreen();
  const edges = all.filter((e) => !state.hidden.has(e.type));
  const labels = new Map(nodes.map((n) => [n.id, n.label]));
  $('nodes-table').innerHTML = '<tr><th>name</th><th>type</th><th>id</th><th>role</th><th>weight</th></tr>' + nodes.map((n) =>
    `<tr><td>${esc(n.label)}</td><td>${esc(typeLabel(n.type))}</td><td>${esc(n.id)}</td><td>${esc(n.role || '')}</td><td>${n.weight === undefined ? '' : num(n.weight)}</td></tr>`).join('');
  const name = (id) => labels.get(id) ?? id;
  $('edges-table').innerHTML = '<tr><th>from</th><th>relation</th><th>to</th><th>share</th></tr>' + edges.map((e) =>
    `<tr><td>${esc(name(e.source))}</td><td>${esc(e.type)}</td><td>${esc(name(e.target))}</td><td>${e.share === null || e.share === undefined ? '' : num(e.share)}</td></tr>`).join('');
}

function legend(colours, note) {
  $('legend').innerHTML = Object.entries(colours).map(([k, c]) => `<span><i style="background:${c}"></i>${colours === TYPE_COLOURS ? typeLabel(k) : k}</span>`).join('') + `<span class="muted">${note}</span>`;
}

function cutNotice(cut) {
  return cut > 0 ? `<div class="more">${cut} more nodes not drawn (the strongest first).
    <button id="draw-more" type="button">Draw ${Math.min(cut, DRAW_LIMIT)} more</button></div>` : '';
}

// ---- links, dates (exports: explore-export.js) ------------------------------------------------------

function syncUrl() {
  const params = new URLSearchParams({ query: state.query, id: state.id });
  if (state.asOf) params.set('asOf', state.asOf);
  if (state.query === 'sanctions') params.set('regime', state.regime);
  history.replaceState(null, '', `/explore?${params}`);
}

const SLIDER_START = new Date(Date.UTC(1990, 0, 1));
function monthsSince(d) { return (d.getUTCFullYear() - SLIDER_START.getUTCFullYear()) * 12 + d.getUTCMonth(); }
function sliderDate(months) { return new Date(Date.UTC(SLIDER_START.getUTCFullYear(), months, 1)).toISOString().slice(0, 10); }

function setStatus(text, error = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', error);
}

function esc(text) {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

// ---- search --------------------------------------------------------------------------------------

let searchTimer = null;
async function search(text) {
  if (!text.trim()) { $('results').innerHTML = ''; return; }
  try {
    const found = (await gql('query($t: String!) { search(text: $t) { id type name } }', { t: text })).search;
    $('results').innerHTML = found.length ? found.map((e) => `<li><strong>${esc(e.name)}</strong><span class="kind">${e.type} · ${esc(e.id)}</span><br>
      ${e.type === 'INCIDENT' ? `<button type="button" data-open="liability" data-id="${esc(e.id)}">liability chain</button>` :
      `<button type="button" data-open="exposure" data-id="${esc(e.id)}">exposure</button><button type="button" data-open="owners" data-id="${esc(e.id)}">owners</button><button type="button" data-open="holdings" data-id="${esc(e.id)}">holdings</button><button type="button" data-open="sanctions" data-id="${esc(e.id)}">sanctions</button>`}
      <button type="button" data-open="neighborhood" data-id="${esc(e.id)}">neighbourhood</button></li>`).join('')
      : `<li>No entity matches “${esc(text)}”.</li>`;
  } catch (error) { $('results').innerHTML = `<li>${esc(error.message)}</li>`; }
}

function open(query, id) {
  Object.assign(state, { query, id, maxOwners: OWNERS_STEP, drawLimit: DRAW_LIMIT });
  $('query').value = query;
  $('id').value = id;
  $('results').innerHTML = '';
  run();
}

// ---- wiring --------------------------------------------------------------------------------------

$('search').addEventListener('input', (e) => { clearTimeout(searchTimer); searchTimer = setTimeout(() => search(e.target.value), 250); });
$('search-form').addEventListener('submit', (e) => { e.preventDefault(); search($('search').value); });
$('view-form').addEventListener('submit', (e) => {
  e.preventDefault();
  open($('query').value, $('id').value.trim());
});
// The regime picker belongs to the sanctions view only.
function showRegime(query) { $('regime').hidden = query !== 'sanctions'; }
$('query').addEventListener('change', (e) => showRegime(e.target.value));
$('regime').addEventListener('change', (e) => {
  state.regime = e.target.value;
  if (state.query === 'sanctions') run();
});
$('asOf').addEventListener('change', (e) => {
  state.asOf = e.target.value;
  if (state.asOf) $('asOfSlider').value = monthsSince(new Date(state.asOf));
  run();
});
let slideTimer = null;
$('asOfSlider').addEventListener('input', (e) => {
  state.asOf = sliderDate(Number(e.target.value));
  $('asOf').value = state.asOf;
  clearTimeout(slideTimer);
  slideTimer = setTimeout(run, 200);
});
$('filters').addEventListener('change', (e) => {
  const type = e.target.dataset.type;
  if (!type) return;
  e.target.checked ? state.hidden.delete(type) : state.hidden.add(type);
  applyFilters();
  renderTextView();
});
$('toggle-text').addEventListener('click', () => {
  const view = $('text-view');
  view.hidden = !view.hidden;
  $('toggle-text').setAttribute('aria-expanded', String(!view.hidden));
  if (!view.hidden && state.textStale) renderTextView();
  if (!view.hidden) view.scrollIntoView();
});
$('copy-link').addEventListener('click', async () => {
  syncUrl();
  try { await navigator.clipboard.writeText(window.location.href); setStatus('Link copied.'); }
  catch (error) { setStatus(`Link: ${window.location.href}`); }
});
$('export').addEventListener('change', (e) => { if (e.target.value) exportView(e.target.value); e.target.value = ''; });
document.addEventListener('click', (e) => {
  const t = e.target.closest('[data-select],[data-expand],[data-open],#more-owners,#more-holdings,#draw-more');
  if (!t) return;
  e.preventDefault();
  if (t.dataset.select) select(t.dataset.select);
  else if (t.dataset.expand) expand(t.dataset.expand);
  else if (t.dataset.open) open(t.dataset.open, t.dataset.id);
  else if (t.id === 'more-owners') { state.maxOwners = Math.min(OWNERS_MAX, state.maxOwners + OWNERS_STEP); run(); }
  else if (t.id === 'more-holdings') moreHoldings();
  else if (t.id === 'draw-more') { state.drawLimit += DRAW_LIMIT; SHOW[state.query](state.answer); }
});
cy.on('tap', 'node', (e) => (e.target.data('more') ? unfold(e.target.id()) : select(e.target.id())));
// A hop of a sanctions path links to where it is documented.
cy.on('tap', 'edge', (e) => {
  const d = e.target.data();
  if (!d.sources) return;
  $('details').innerHTML = `<h3>${esc(d.label)}</h3><div class="muted">${esc(d.source)} → ${esc(d.target)} · <code>${esc(d.id)}</code></div>
    <h4>Sources of this hop</h4>${d.sources.length ? d.sources.map(sourceHtml).join('') : '<div class="muted">none given</div>'}`;
});
cy.on('dbltap', 'node', (e) => expand(e.target.id()));
// The canvas of big views: a click on a node selects it (opens a "more" node), a double click expands it, as above.
const big = new BigView($('big'), { select: (d) => (d.more ? unfold(d.id) : select(d.id)), expand });

(function start() {
  $('asOfSlider').max = String(monthsSince(new Date()));
  $('asOfSlider').value = $('asOfSlider').max;
  const params = new URLSearchParams(window.location.search);
  state.query = QUERIES[params.get('query')] ? params.get('query') : 'liability';
  state.id = params.get('id') || '';
  state.asOf = params.get('asOf') || '';
  state.regime = params.get('regime') || 'OFAC';
  $('regime').value = state.regime;
  $('query').value = state.query;
  showRegime(state.query);
  $('id').value = state.id;
  if (state.asOf) { $('asOf').value = state.asOf; $('asOfSlider').value = monthsSince(new Date(state.asOf)); }
  if (state.id) run();
})();
