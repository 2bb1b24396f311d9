// How the explorer places what it draws: layered (dagre) for the DAG-like answers, fan-outs folded into
// "N more" nodes, and labels that would collide hidden by weight (shown again on hover or when zoomed in).
// Loaded before explore.js, which calls these with its Cytoscape instance `cy` and `state`.
'use strict';

const FAN_LIMIT = 12;          // children of one node drawn before the rest fold into an "N more" node
const LAYERED_LIMIT = 400;     // dagre is superlinear (4.6 s for 1,000 nodes on a busy 2-core machine): rings (O(n)) past it
const SIMPLEX_LIMIT = 150;     // network-simplex ranks layers tightest but costs most; longest-path beyond
const ZOOM_SHOWS_ALL = 2;      // zoomed in this many times past the fitted view, every label is shown
const READABLE_ZOOM = 0.7;     // below this names are too small to read (11 px type drawn under 8 px)

// Liability chains, exposure, owners and holdings are DAG-like: relations run from owners up to what they
// own and on to the incident, so bottom-to-top layers put the incident on top, the responsible company
// under it, then owners by depth; data recipients and perpetrators sit beside them in their own layers.
function layered() {
  const ranker = cy.nodes().length <= SIMPLEX_LIMIT ? 'network-simplex' : 'longest-path';
  cy.layout({ name: 'dagre', rankDir: 'BT', nodeSep: 24, rankSep: 80, edgeSep: 12, ranker,
    nodeDimensionsIncludeLabels: true, animate: false, fit: false }).run();
}

// Fit the whole drawing when it can be read that way; a wider one is shown from the top (the incident, the
// responsible company, the first owners) at a zoom where names can be read, to be panned from there.
function fitReadable() {
  cy.fit(undefined, 40);
  if (cy.zoom() >= READABLE_ZOOM) return;
  const box = cy.elements().boundingBox();
  const focus = cy.nodes().max((n) => n.data('rank') || 0).ele;
  cy.zoom(READABLE_ZOOM);
  cy.pan({ x: cy.width() / 2 - READABLE_ZOOM * focus.position('x'), y: 40 - READABLE_ZOOM * box.y1 });
  setTimeout(() => setStatus(`${$('status').textContent} Drawn from the top at a readable size: drag or scroll to see the rest.`), 0);
}

// Fold the leaves of a large fan-out: of the leaves hanging off one node (neighbours with no other
// relation), the FAN_LIMIT - 1 strongest stay and the others become one "N more" node, expanded on click.
// Returns the nodes and edges to draw; state.folded keeps what each "more" node stands for.
function foldFans(nodes, edges, limit = FAN_LIMIT) {
  state.folded = new Map();
  const degree = new Map();
  for (const e of edges) for (const end of [e.source, e.target]) degree.set(end, (degree.get(end) || 0) + 1);
  const leavesOf = new Map();
  for (const e of edges) {
    for (const [leaf, hub] of [[e.source, e.target], [e.target, e.source]]) {
      if (degree.get(leaf) === 1 && degree.get(hub) > 1) {
        if (!leavesOf.has(hub)) leavesOf.set(hub, []);
        leavesOf.get(hub).push({ leaf, edge: e });
      }
    }
  }
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const gone = new Set();
  const added = [];
  for (const [hub, leaves] of leavesOf) {
    if (leaves.length <= limit) continue;
    leaves.sort((a, b) => strength(byId.get(b.leaf), b.edge) - strength(byId.get(a.leaf), a.edge));
    const folded = leaves.slice(limit - 1);
    const id = `more|${hub}`;
    state.folded.set(id, { nodes: folded.map((f) => byId.get(f.leaf)), edges: folded.map((f) => f.edge) });
    for (const f of folded) { gone.add(f.leaf); gone.add(f.edge.id); }
    const outward = folded[0].edge.source === hub;  // the folded relations' direction, kept by the stand-in
    added.push({ node: nodeData(id, 'More', `${folded.length} more`, { more: true, colour: '#dee2e6', size: 30,
      caption: `${folded.length} more\n(click to show)`, rank: -1 }),
    edge: { id: `${id}|edge`, source: outward ? hub : id, target: outward ? id : hub, type: folded[0].edge.type,
      share: null, colour: '#adb5bd', width: 1.5, label: '', properties: {} } });
  }
  return [[...nodes.filter((n) => !gone.has(n.id)), ...added.map((a) => a.node)],
    [...edges.filter((e) => !gone.has(e.id)), ...added.map((a) => a.edge)]];
}

function strength(node, edge) {
  return (node && typeof node.weight === 'number' ? node.weight : 0) + (typeof edge.share === 'number' ? edge.share : 0);
}

// A "more" node was clicked: draw what it stands for in its place and lay the whole drawing out again.
function unfold(id) {
  const folded = state.folded.get(id);
  if (!folded) return;
  state.folded.delete(id);
  if (state.big || cy.nodes().length + folded.nodes.length > BIG_LIMIT) return mergeDrawn(folded.nodes, folded.edges, id);
  cy.batch(() => {
    cy.getElementById(id).remove();
    cy.add(folded.nodes.map((data) => ({ group: 'nodes', data })));
    cy.add(folded.edges.map((data) => ({ group: 'edges', data })));
    applyFilters();
  });
  runLayout('auto');
  renderTextView();
}

// Hide the labels that would sit under a node or on top of a stronger label; strongest first (node names
// by weight, the incident and the centre first; then edge labels by share). Hidden labels come back on hover
// and when the view is zoomed in ZOOM_SHOWS_ALL times.
function declutter() {
  cy.elements().removeClass('quiet');
  const bodies = new Grid();
  cy.nodes(':visible').forEach((n) => bodies.add(n.boundingBox({ includeLabels: false, includeOverlays: false }), n.id()));
  const labelled = cy.elements(':visible').filter((el) => Boolean(el.style('label')));
  const order = labelled.toArray().sort((a, b) => priority(b) - priority(a));
  const kept = new Grid();
  cy.batch(() => {
    for (const el of order) {
      const box = labelBox(el);
      if (bodies.hits(box, el.id()) || kept.hits(box, null)) el.addClass('quiet');
      else kept.add(box, el.id());
    }
  });
}

// Boxes bucketed in square cells, so "does this box overlap any kept one" looks at its neighbours only
// (the collision pass stays linear in the labels instead of quadratic).
class Grid {
  constructor(cell = 120) { this.cell = cell; this.cells = new Map(); }

  keys(box) {
    const out = [];
    for (let x = Math.floor(box.x1 / this.cell); x <= Math.floor(box.x2 / this.cell); x++) {
      for (let y = Math.floor(box.y1 / this.cell); y <= Math.floor(box.y2 / this.cell); y++) out.push(`${x},${y}`);
    }
    return out;
  }

  add(box, id) {
    for (const key of this.keys(box)) {
      if (!this.cells.has(key)) this.cells.set(key, []);
      this.cells.get(key).push([box, id]);
    }
  }

  // Whether the box overlaps a stored one other than `self`.
  hits(box, self) {
    return this.keys(box).some((key) => (this.cells.get(key) || []).some(([other, id]) => id !== self && overlaps(box, other)));
  }
}

function priority(el) {
  if (el.isEdge()) return typeof el.data('share') === 'number' ? el.data('share') : 0;
  return 2 + (el.data('rank') || 0) + (typeof el.data('weight') === 'number' ? el.data('weight') : 0);
}

function labelBox(el) {
  return el.boundingBox({ includeNodes: false, includeEdges: false, includeLabels: true, includeOverlays: false });
}

function overlaps(a, b) {
  return a.w > 0 && b.w > 0 && a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2;
}

// Labels come back when the user zooms in far enough to read them, and go again when zoomed out.
function watchZoom() {
  cy.on('zoom', () => {
    const close = state.fitZoom && cy.zoom() >= ZOOM_SHOWS_ALL * state.fitZoom;
    cy.container().classList.toggle('zoomed-in', Boolean(close));
    if (close !== state.zoomedIn) {
      state.zoomedIn = close;
      cy.batch(() => cy.elements('.quiet').toggleClass('shown', Boolean(close)));
    }
  });
  cy.on('mouseover', 'node, edge', (e) => { e.target.addClass('shown'); if (e.target.isNode()) e.target.connectedEdges().addClass('shown'); });
  cy.on('mouseout', 'node, edge', (e) => {
    if (state.zoomedIn) return;
    e.target.removeClass('shown');
    if (e.target.isNode()) e.target.connectedEdges().removeClass('shown');
  });
}
