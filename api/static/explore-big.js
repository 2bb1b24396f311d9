// The explorer's drawing of big views (over BIG_LIMIT nodes) on one 2D canvas of its own: Cytoscape.js took
// 6 s to first paint 10,000 nodes and ~1 s a frame to pan them (benchmarks/README.md), most of it per-element
// styles and bookkeeping; adding 10,000 elements to Cytoscape alone, unrendered, took 0.2-0.8 s. Here nodes
// and edges are flat arrays, laid out in layers by depth from the root in O(n), drawn one path per colour,
// with names only where they can be read; a pan or zoom moves a cached bitmap and the full detail is drawn
// again when the gesture rests. Loaded before explore.js, which gives it the answer's node and edge data.
'use strict';

const BIG_LIMIT = 1000;        // past this many nodes the canvas draws (Cytoscape took 3 s for 1,000 on a loaded day)
const BIG_SPACING = 40;        // world units between neighbours in a row of a layer
const BIG_ROW = 44;            // between the rows a wide layer wraps into
const BIG_LAYER_GAP = 120;     // between layers: the gap shows where one depth ends
const REST_MS = 150;           // no pan or zoom for this long: the gesture is over, full detail is drawn again
const CACHE_PAD = 0.25;        // the cached bitmap reaches this share of the view past each side, so a pan shows drawing
const STRONGEST_LABELS = 40;   // names drawn when zoomed out: the strongest nodes in view
// Relations drawn at most in one view, nearest the root and strongest first: 50,000 see-through lines took
// 270 of a 320 ms redraw (rasterising them) and are a haze at that zoom; the rest come in as the view narrows.
const EDGE_BUDGET = 12000;
const ALL_LABELS_AT = 30;      // on-screen px between neighbours from which every name in view may be drawn
const DETAIL_AT = 18;          // px between neighbours from which arrows, borders and edge widths are drawn
const LABEL_FONT = '11px system-ui, "Noto Sans CJK SC", sans-serif';

// Layers by depth from the root (breadth-first over relations in either direction), as the small view's layers:
// the incident or the centre on top, then what is one relation away, and so on. A layer wider than the drawing's
// columns wraps into rows; in each layer nodes keep the order of their parents, so a node's children sit together
// under it. Parts not connected to the root are laid out the same way in layers of their own below it.
// Returns flat coordinates (world units) indexed like `nodes`. O(nodes + edges).
function layeredPositions(nodes, ends, root, aspect) {
  const n = nodes.length;
  const near = adjacency(n, ends);
  const depth = new Int32Array(n).fill(-1);
  const parent = new Int32Array(n).fill(-1);  // the node each was reached from
  const order = new Int32Array(n);
  let tail = 0;
  const reach = (start, base) => {
    let head = tail;
    depth[start] = base;
    order[tail++] = start;
    let deepest = base;
    for (; head < tail; head++) {
      const at = order[head];
      for (let k = near.start[at]; k < near.start[at + 1]; k++) {
        const other = near.other[k];
        if (depth[other] < 0) { depth[other] = depth[at] + 1; parent[other] = at; deepest = depth[other]; order[tail++] = other; }
      }
    }
    return deepest;
  };
  const deepest = n ? reach(root, 0) : 0;
  for (let i = 0; i < n; i++) if (depth[i] < 0) reach(i, deepest + 1);
  // Breadth-first order is layer order within each part; a stable sort by depth puts the parts' layers together.
  const layers = [];
  for (let k = 0; k < n; k++) (layers[depth[order[k]]] ||= []).push(order[k]);
  const columns = Math.max(1, Math.ceil(Math.sqrt(n * aspect * BIG_ROW / BIG_SPACING)));
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  let y = 0;
  for (const layer of layers) {
    if (!layer) continue;
    // Filled column by column, so a node's x grows with its place in the layer as its parent's does in the
    // layer above: relations run mostly downwards instead of across the drawing.
    const rows = Math.ceil(layer.length / columns);
    const used = Math.ceil(layer.length / rows);
    layer.forEach((i, k) => {
      xs[i] = (Math.floor(k / rows) - (used - 1) / 2) * BIG_SPACING;
      ys[i] = y + (k % rows) * BIG_ROW;
    });
    layer.wrapped = rows > 1;
    y += (rows - 1) * BIG_ROW + BIG_LAYER_GAP;
  }
  centreOverChildren(layers, parent, xs);
  return { xs, ys, near, depth };
}

// From the deepest layer up, a layer drawn on one row puts each node over the middle of the children it reached
// (a tree's usual look: the root over its subsidiaries), keeping order and spacing; nodes with none follow
// their left neighbour. O(n).
function centreOverChildren(layers, parent, xs) {
  const sum = new Float64Array(xs.length);
  const count = new Int32Array(xs.length);
  for (let d = layers.length - 1; d >= 0; d--) {
    const layer = layers[d];
    if (!layer) continue;
    if (!layer.wrapped) {
      let previous = -Infinity;
      for (const i of layer) {
        const wanted = count[i] ? sum[i] / count[i] : previous + BIG_SPACING;
        xs[i] = Math.max(Number.isFinite(wanted) ? wanted : 0, previous + BIG_SPACING);
        previous = xs[i];
      }
    }
    for (const i of layer) if (parent[i] >= 0) { sum[parent[i]] += xs[i]; count[parent[i]]++; }
  }
}

// Each node's relations as one flat list (compressed rows): neighbours and edge numbers of node i sit at
// start[i] .. start[i + 1] - 1.
function adjacency(n, ends) {
  const start = new Int32Array(n + 1);
  for (let k = 0; k < ends.length; k += 2) if (ends[k] >= 0) { start[ends[k] + 1]++; start[ends[k + 1] + 1]++; }
  for (let i = 0; i < n; i++) start[i + 1] += start[i];
  const other = new Int32Array(start[n]);
  const edge = new Int32Array(start[n]);
  const fill = start.slice(0, n);
  for (let k = 0; k < ends.length; k += 2) {
    const [s, t] = [ends[k], ends[k + 1]];
    if (s < 0) continue;
    other[fill[s]] = t; edge[fill[s]++] = k / 2;
    other[fill[t]] = s; edge[fill[t]++] = k / 2;
  }
  return { start, other, edge };
}

// Which node is near a point: nodes bucketed in square cells of the layout's spacing.
class PointGrid {
  constructor(xs, ys, cell) {
    this.xs = xs; this.ys = ys; this.cell = cell; this.cells = new Map();
    for (let i = 0; i < xs.length; i++) {
      const key = this.key(Math.floor(xs[i] / cell), Math.floor(ys[i] / cell));
      if (!this.cells.has(key)) this.cells.set(key, []);
      this.cells.get(key).push(i);
    }
  }

  key(cx, cy) { return `${cx},${cy}`; }

  // The node nearest (x, y) within `radius` world units, or -1.
  nearest(x, y, radius) {
    let best = -1;
    let bestDistance = radius * radius;
    const [cx, cy] = [Math.floor(x / this.cell), Math.floor(y / this.cell)];
    const reach = Math.ceil(radius / this.cell);
    for (let i = cx - reach; i <= cx + reach; i++) {
      for (let j = cy - reach; j <= cy + reach; j++) {
        for (const k of this.cells.get(this.key(i, j)) || []) {
          const d = (this.xs[k] - x) ** 2 + (this.ys[k] - y) ** 2;
          if (d <= bestDistance) { best = k; bestDistance = d; }
        }
      }
    }
    return best;
  }
}

class BigView {
  // `on`: select(node data) when a node is clicked, expand(id) when it is double-clicked.
  constructor(canvas, on) {
    this.canvas = canvas;
    this.on = on;
    this.cache = document.createElement('canvas');
    this.nodes = [];
    this.edges = [];
    this.hidden = new Set();
    this.zoom = 1;
    this.pan = { x: 0, y: 0 };  // screen = world * zoom + pan, in CSS pixels
    this.selected = -1;
    this.hover = -1;
    this.drawSeconds = null;    // the last show(): layout and the first full drawing, for the status line and tests
    this.listen();
  }

  // Lay out and draw an answer's nodes and edges (the explorer's node and edge data).
  show(nodes, edges) {
    const start = performance.now();
    this.nodes = nodes;
    this.edges = edges;
    this.index = new Map(nodes.map((d, i) => [d.id, i]));
    this.ends = new Int32Array(2 * edges.length);
    edges.forEach((e, k) => {
      const [s, t] = [this.index.get(e.source), this.index.get(e.target)];
      const known = s !== undefined && t !== undefined;
      this.ends[2 * k] = known ? s : -1;
      this.ends[2 * k + 1] = known ? t : -1;
    });
    this.size();
    let root = 0;
    nodes.forEach((d, i) => { if ((d.rank || 0) > (nodes[root].rank || 0)) root = i; });
    Object.assign(this, layeredPositions(nodes, this.ends, root, this.width / this.height));
    this.grid = new PointGrid(this.xs, this.ys, BIG_SPACING);
    this.radius = Float64Array.from(nodes, (d) => Math.min(16, Math.max(6, (d.size || 26) * 0.3)));
    // Strongest first, for names when zoomed out: the root and the answer's parties, then by weight.
    this.strongest = Int32Array.from(nodes.keys()).sort((a, b) => strength(nodes[b]) - strength(nodes[a]));
    this.nodeGroups = groupBy(nodes.length, (i) => `${nodes[i].colour}|${shapeOf(nodes[i])}`);
    this.edgeKey = edges.map((e) => `${e.colour}|${e.range ? 'dashed' : ''}`);
    // Half the small view's widths (1.5 + 8 x share there): hundreds of lines in view at its widths are one blue mass.
    this.edgeWidth = Int8Array.from(edges, (e) => Math.max(1, Math.round((e.width || 1.5) / 2)));
    const near = (k) => (this.ends[2 * k] < 0 ? this.nodes.length : Math.min(this.depth[this.ends[2 * k]], this.depth[this.ends[2 * k + 1]]));
    const share = (k) => (typeof edges[k].share === 'number' ? edges[k].share : 0);
    // Ties in a scrambled order, so that the budget's share of a wide layer's relations is spread across it.
    const scramble = (k) => Math.imul(k, 2654435761) >>> 0;
    this.edgeOrder = Int32Array.from(edges.keys())
      .sort((a, b) => near(a) - near(b) || share(b) - share(a) || scramble(a) - scramble(b));
    this.selected = -1;
    this.hover = -1;
    this.fit();
    this.render();
    this.frame();
    this.drawSeconds = (performance.now() - start) / 1000;
  }

  // Drop the drawing (a small view is on screen).
  clear() {
    this.nodes = [];
    this.edges = [];
    this.index = new Map();
  }

  // Relation types not drawn (the explorer's relation filters).
  setHidden(hidden) {
    this.hidden = new Set(hidden);
    this.render();
    this.frame();
  }

  // Mark a node as the selected one (or none): a ring, its relations drawn strong, its name shown.
  select(id) {
    this.selected = this.index?.get(id) ?? -1;
    this.frame();
  }

  size() {
    const box = this.canvas.getBoundingClientRect();
    this.width = Math.max(1, box.width);
    this.height = Math.max(1, box.height);
    this.ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(this.width * this.ratio);
    this.canvas.height = Math.round(this.height * this.ratio);
  }

  // The layout's extent in world units: [x1, y1, x2, y2] of the nodes' centres.
  bounds() {
    let [x1, y1, x2, y2] = [Infinity, Infinity, -Infinity, -Infinity];
    for (let i = 0; i < this.nodes.length; i++) {
      x1 = Math.min(x1, this.xs[i]); x2 = Math.max(x2, this.xs[i]); y1 = Math.min(y1, this.ys[i]); y2 = Math.max(y2, this.ys[i]);
    }
    return [x1, y1, x2, y2];
  }

  fit() {
    const [x1, y1, x2, y2] = this.bounds();
    const pad = 3 * BIG_SPACING;
    this.zoom = Math.min(1.6, this.width / (x2 - x1 + 2 * pad), this.height / (y2 - y1 + 2 * pad));
    this.fitZoom = this.zoom;
    this.pan = { x: this.width / 2 - this.zoom * (x1 + x2) / 2, y: this.height / 2 - this.zoom * (y1 + y2) / 2 };
  }

  // ---- drawing ----

  // Draw everything in view at full detail into the cached bitmap (a margin of CACHE_PAD around the view).
  render() {
    const padX = Math.round(this.width * CACHE_PAD);
    const padY = Math.round(this.height * CACHE_PAD);
    this.cache.width = Math.round((this.width + 2 * padX) * this.ratio);
    this.cache.height = Math.round((this.height + 2 * padY) * this.ratio);
    this.paint(this.cache.getContext('2d'), this.ratio, this.zoom, this.pan.x + padX, this.pan.y + padY,
      this.width + 2 * padX, this.height + 2 * padY);
    this.cached = { zoom: this.zoom, x: this.pan.x + padX, y: this.pan.y + padY };
  }

  // Paint the drawing onto `ctx` (`ratio` device pixels a CSS pixel): world point w lands at w * zoom + (ox, oy)
  // in a w x h CSS-pixel area. Only what falls inside is drawn.
  paint(ctx, ratio, zoom, ox, oy, w, h) {
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, w, h);
    const spacing = BIG_SPACING * zoom;
    const detail = spacing >= DETAIL_AT;
    const margin = 16 / zoom;  // a node's body reaches this far (world units) past its centre
    const view = { x1: -ox / zoom - margin, y1: -oy / zoom - margin, x2: (w - ox) / zoom + margin, y2: (h - oy) / zoom + margin };
    const inView = (i) => this.xs[i] >= view.x1 && this.xs[i] <= view.x2 && this.ys[i] >= view.y1 && this.ys[i] <= view.y2;
    const X = (i) => this.xs[i] * zoom + ox;
    const Y = (i) => this.ys[i] * zoom + oy;
    // Edges: one path per colour (and width, once they can be told apart), thin and see-through in proportion to
    // how many there are, so thousands of lines do not bury the nodes; arrows once they can be seen.
    const paths = new Map();
    let drawn = 0;
    for (const k of this.edgeOrder) {
      const [s, t] = [this.ends[2 * k], this.ends[2 * k + 1]];
      if (s < 0 || this.hidden.has(this.edges[k].type)) continue;
      if (Math.max(this.xs[s], this.xs[t]) < view.x1 || Math.min(this.xs[s], this.xs[t]) > view.x2 ||
          Math.max(this.ys[s], this.ys[t]) < view.y1 || Math.min(this.ys[s], this.ys[t]) > view.y2) continue;
      if (++drawn > EDGE_BUDGET) break;
      const key = detail ? `${this.edgeKey[k]}|${this.edgeWidth[k]}` : this.edgeKey[k];
      if (!paths.has(key)) paths.set(key, new Path2D());
      const path = paths.get(key);
      path.moveTo(X(s), Y(s));
      path.lineTo(X(t), Y(t));
      if (detail) this.arrow(path, X(s), Y(s), X(t), Y(t), this.radius[t] * zoom);
    }
    const many = Math.min(drawn, EDGE_BUDGET);
    ctx.globalAlpha = detail ? Math.min(0.8, Math.max(0.25, 300 / many)) : Math.min(0.5, Math.max(0.06, 1500 / many));
    for (const [key, path] of paths) {
      const [colour, dashed, width] = key.split('|');
      ctx.strokeStyle = colour;
      ctx.lineWidth = detail ? Number(width) : 1;
      ctx.setLineDash(dashed && detail ? [5, 4] : []);
      ctx.stroke(path);
    }
    ctx.setLineDash([]);
    ctx.globalAlpha = 1;
    // Nodes: one path per colour and shape; a dot of two pixels when zoomed far out.
    for (const [key, group] of this.nodeGroups) {
      const [colour, shape] = key.split('|');
      ctx.fillStyle = colour;
      ctx.beginPath();
      for (const i of group) if (inView(i)) this.body(ctx, shape, X(i), Y(i), Math.max(1, this.radius[i] * zoom));
      ctx.fill();
    }
    if (detail) this.borders(ctx, zoom, inView, X, Y);
    this.names(ctx, spacing, inView, X, Y);
  }

  body(ctx, shape, x, y, r) {
    if (shape === 'more') ctx.rect(x - 1.6 * r, y - 0.6 * r, 3.2 * r, 1.2 * r);
    else if (shape === 'diamond') { ctx.moveTo(x, y - r * 1.3); ctx.lineTo(x + r * 1.3, y); ctx.lineTo(x, y + r * 1.3); ctx.lineTo(x - r * 1.3, y); ctx.closePath(); }
    else if (r < 2.5) ctx.rect(x - r, y - r, 2 * r, 2 * r);  // a circle of this size is a square anyway, and far cheaper
    else { ctx.moveTo(x + r, y); ctx.arc(x, y, r, 0, 2 * Math.PI); }
  }

  // Borders as the small view draws them: solid for control, dashed for an estimate or possible control.
  borders(ctx, zoom, inView, X, Y) {
    ctx.strokeStyle = '#111';
    for (const dashed of [false, true]) {
      ctx.setLineDash(dashed ? [3, 2] : []);
      ctx.lineWidth = dashed ? 2 : 3;
      ctx.beginPath();
      for (let i = 0; i < this.nodes.length; i++) {
        const d = this.nodes[i];
        const marked = dashed ? d.estimate || d.mayControl : d.controls || d.border > 0;
        if (!marked || !inView(i)) continue;
        const r = this.radius[i] * zoom;
        ctx.moveTo(X(i) + r, Y(i));
        ctx.arc(X(i), Y(i), r, 0, 2 * Math.PI);
      }
      ctx.stroke();
    }
    ctx.setLineDash([]);
  }

  // An open arrowhead on `path` where the line from (x1, y1) meets the target's body of radius r.
  arrow(path, x1, y1, x2, y2, r) {
    const length = Math.hypot(x2 - x1, y2 - y1);
    if (length < 3 * r) return;
    const [ux, uy] = [(x2 - x1) / length, (y2 - y1) / length];
    const [tx, ty] = [x2 - ux * r, y2 - uy * r];
    path.moveTo(tx - ux * 7 - uy * 3.5, ty - uy * 7 + ux * 3.5);
    path.lineTo(tx, ty);
    path.lineTo(tx - ux * 7 + uy * 3.5, ty - uy * 7 - ux * 3.5);
  }

  // Names where they can be read: zoomed out, only the strongest nodes in view; zoomed in, every one in view that
  // does not collide with a stronger one (the explorer's Grid of label boxes, explore-layout.js).
  names(ctx, spacing, inView, X, Y) {
    const every = spacing >= ALL_LABELS_AT;
    const budget = every ? 600 : STRONGEST_LABELS;
    const kept = new Grid(80);
    ctx.font = LABEL_FONT;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    let tried = 0;
    for (const i of this.strongest) {
      if (tried >= budget) break;
      if (!inView(i)) continue;
      tried++;
      this.label(ctx, i, X(i), Y(i) + this.radius[i] * spacing / BIG_SPACING + 3, kept, every);
    }
  }

  // One node's name under it (with its weight line once zoomed in), unless it would cover a kept label; without
  // `kept` (the selected or hovered node, drawn over the rest) on a white box, so it reads over other names.
  label(ctx, i, x, y, kept, full) {
    const lines = full ? this.nodes[i].caption.split('\n').slice(0, 2) : [this.nodes[i].label];
    const width = Math.max(...lines.map((line) => ctx.measureText(line).width));
    const box = { x1: x - width / 2 - 2, x2: x + width / 2 + 2, y1: y, y2: y + 13 * lines.length, w: width + 4 };
    if (kept && kept.hits(box, null)) return;
    kept?.add(box, i);
    if (!kept) {
      ctx.fillStyle = 'rgba(255,255,255,0.95)';
      ctx.fillRect(box.x1 - 2, box.y1 - 2, box.w + 4, box.y2 - box.y1 + 4);
    }
    ctx.lineWidth = 3;
    ctx.strokeStyle = 'rgba(255,255,255,0.9)';
    ctx.fillStyle = '#1d2433';
    lines.forEach((line, k) => { ctx.strokeText(line, x, y + 13 * k); ctx.fillText(line, x, y + 13 * k); });
  }

  // Show the cached bitmap moved and scaled to the current pan and zoom, then the selection and hover on top.
  frame() {
    const ctx = this.canvas.getContext('2d');
    ctx.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, this.width, this.height);
    if (!this.nodes.length || !this.cached) return;
    const scale = this.zoom / this.cached.zoom;
    ctx.drawImage(this.cache, this.pan.x - this.cached.x * scale, this.pan.y - this.cached.y * scale,
      this.cache.width / this.ratio * scale, this.cache.height / this.ratio * scale);
    for (const i of [this.selected, this.hover]) if (i >= 0) this.highlight(ctx, i, i === this.selected);
  }

  highlight(ctx, i, selected) {
    const X = (j) => this.xs[j] * this.zoom + this.pan.x;
    const Y = (j) => this.ys[j] * this.zoom + this.pan.y;
    const r = Math.max(3, this.radius[i] * this.zoom);
    ctx.strokeStyle = selected ? '#4f7cff' : 'rgba(29,36,51,0.6)';
    ctx.lineWidth = selected ? 2 : 1.5;
    ctx.beginPath();
    for (let k = this.near.start[i]; k < this.near.start[i + 1]; k++) {
      if (this.hidden.has(this.edges[this.near.edge[k]].type)) continue;
      ctx.moveTo(X(i), Y(i));
      ctx.lineTo(X(this.near.other[k]), Y(this.near.other[k]));
    }
    ctx.stroke();
    ctx.fillStyle = selected ? 'rgba(79,124,255,0.3)' : 'rgba(29,36,51,0.15)';
    ctx.beginPath();
    ctx.arc(X(i), Y(i), r + 6, 0, 2 * Math.PI);
    ctx.fill();
    ctx.font = LABEL_FONT;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    this.label(ctx, i, X(i), Y(i) + r + 3, null, true);
  }

  // ---- pan, zoom, click ----

  // Move the drawing by (dx, dy) CSS pixels.
  panBy(dx, dy) {
    this.pan = { x: this.pan.x + dx, y: this.pan.y + dy };
    this.moved();
  }

  // Zoom by `factor` keeping the point (x, y) of the canvas where it is.
  zoomAt(factor, x, y) {
    const zoom = Math.min(2, Math.max(this.fitZoom / 4, this.zoom * factor));
    this.pan = { x: x - (x - this.pan.x) * zoom / this.zoom, y: y - (y - this.pan.y) * zoom / this.zoom };
    this.zoom = zoom;
    this.moved();
  }

  // During a gesture each frame is the cached bitmap moved; full detail comes back when it rests.
  moved() {
    if (!this.pending) this.pending = requestAnimationFrame(() => { this.pending = 0; this.frame(); });
    clearTimeout(this.resting);
    this.resting = setTimeout(() => { this.render(); this.frame(); }, REST_MS);
  }

  nodeAt(event) {
    const box = this.canvas.getBoundingClientRect();
    const [x, y] = [(event.clientX - box.left - this.pan.x) / this.zoom, (event.clientY - box.top - this.pan.y) / this.zoom];
    return this.nodes.length ? this.grid.nearest(x, y, Math.max(BIG_SPACING / 2, 6 / this.zoom)) : -1;
  }

  listen() {
    const canvas = this.canvas;
    canvas.addEventListener('wheel', (e) => {
      e.preventDefault();
      const box = canvas.getBoundingClientRect();
      const pixels = e.deltaY * (e.deltaMode === WheelEvent.DOM_DELTA_LINE ? 16 : 1);
      this.zoomAt(Math.exp(-pixels * 0.0015), e.clientX - box.left, e.clientY - box.top);
    }, { passive: false });
    canvas.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      let [lastX, lastY, dragged] = [e.clientX, e.clientY, false];
      const move = (m) => {
        if (!dragged && Math.hypot(m.clientX - e.clientX, m.clientY - e.clientY) < 4) return;
        dragged = true;
        canvas.classList.add('dragging');
        this.panBy(m.clientX - lastX, m.clientY - lastY);
        [lastX, lastY] = [m.clientX, m.clientY];
      };
      const up = (u) => {
        window.removeEventListener('pointermove', move);
        window.removeEventListener('pointerup', up);
        canvas.classList.remove('dragging');
        if (dragged) return;
        const i = this.nodeAt(u);
        if (i >= 0) this.on.select(this.nodes[i]);
      };
      window.addEventListener('pointermove', move);
      window.addEventListener('pointerup', up);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (e.buttons) return;
      const i = this.nodeAt(e);
      canvas.classList.toggle('pointing', i >= 0);
      if (i !== this.hover) { this.hover = i; this.frame(); }
    });
    canvas.addEventListener('pointerleave', () => { if (this.hover >= 0) { this.hover = -1; this.frame(); } });
    canvas.addEventListener('dblclick', (e) => { const i = this.nodeAt(e); if (i >= 0) this.on.expand(this.nodes[i].id); });
    new ResizeObserver(() => {
      const box = canvas.getBoundingClientRect();
      if (!this.nodes.length || (box.width === this.width && box.height === this.height)) return;  // show() drew it
      this.size();
      this.render();
      this.frame();
    }).observe(canvas);
  }

  // The view as a PNG at `scale` times its size on screen.
  png(scale) {
    const out = document.createElement('canvas');
    out.width = Math.round(this.width * scale);
    out.height = Math.round(this.height * scale);
    this.paint(out.getContext('2d'), scale, this.zoom, this.pan.x, this.pan.y, this.width, this.height);
    return new Promise((resolve) => out.toBlob(resolve, 'image/png'));
  }
}

function strength(d) {
  return (d.rank || 0) + (typeof d.weight === 'number' ? d.weight : 0);
}

function shapeOf(d) {
  return d.more ? 'more' : d.type === 'INCIDENT' ? 'diamond' : 'circle';
}

// Item numbers 0..count-1 grouped by key(i), in order.
function groupBy(count, key) {
  const groups = new Map();
  for (let i = 0; i < count; i++) {
    const k = key(i);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(i);
  }
  return groups;
}
