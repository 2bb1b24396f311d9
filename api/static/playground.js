// The GraphQL playground: GraphiQL with its explorer plugin, opened on the README's example queries.
'use strict';

const TABS = [
  { query: `# Who is liable for the Kaola Credit leak: the responsible company, its owners, data recipients.
query LiabilityChain {
  liabilityChain(incidentId: "kaola-leak-2019") {
    incident { id name }
    parties {
      entity { id name type }
      role weight controls
      paths { weight hops { from to type share sources { publisher title publishedOn } } }
    }
  }
}
` },
  { query: `# What Lakala is exposed to, through which channel, with weighted totals.
query Exposure {
  exposure(entityId: "lakala") {
    items { incident { id name } channel weight via { id name } }
    totals
  }
}
` },
  { query: `# Who owns Kaola Credit, directly and through chains, as of a date.
query Owners {
  owners(companyId: "kaola", asOf: "2019-11-21") {
    owner { id name } direct integrated controls unknown
  }
}
` },
  { query: `# Search in any script: Chinese, Korean, Latin.
query SearchThreeScripts {
  zh: search(text: "拉卡拉") { id type name }
  ko: search(text: "라카라") { id type name }
  en: search(text: "lakala") { id type name aliases }
}
` },
  { query: `# Sanctions by ownership: Kaola Credit's status under OFAC's 50% rule, with who contributes and why.
query SanctionsStatus {
  sanctionsStatus(entityId: "kaola", regime: "OFAC") {
    status aggregateShare aggregateShareMin aggregateShareMax notes
    contributors { entity { id name } status share paths { hops { from to type share } } }
  }
}
` },
  { query: `# Live: an event each time Kaola's or Lakala's sanctions status or incident exposure changes
# (the first event per entity is its state now; stop with the button).
subscription Watch {
  watch(entityIds: ["kaola", "lakala"], regimes: ["OFAC", "EU"]) {
    entity { id name } revision changed causes incidents exposure
    statuses { regime status aggregateShare }
  }
}
` },
  { query: `# Writes need the mutation token: set it in the Headers pane below.
mutation UpsertNeedsToken {
  upsertRecords(records: [{type: "Company", id: "example-co", name: "Example Co."}]) { entities relations }
}
`, headers: '{"Authorization": "Bearer PASTE-THE-TOKEN-HERE"}' },
];

const httpFetcher = GraphiQL.createFetcher({ url: '/graphql' });

// Subscriptions (watch) go over a websocket in graphql-transport-ws, the protocol the server speaks; a few
// lines here instead of another library. Everything else goes over HTTP.
function fetcher(params, options) {
  const text = (params.query || '').replace(/#.*$/gm, '');
  const operations = [...text.matchAll(/(?:^|\})\s*(query|mutation|subscription)\b\s*([_A-Za-z]\w*)?/g)];
  // GraphiQL can pass the previous tab's operationName for a moment after a tab switch: trust it only when
  // the document has an operation of that name, else run the document's first operation.
  const chosen = operations.find((m) => m[2] && m[2] === params.operationName) || operations[0];
  if (!chosen) return httpFetcher(params, options);
  const asked = { ...params, operationName: chosen[2] || undefined };
  return chosen[1] === 'subscription' ? subscribe(asked, options) : httpFetcher(asked, options);
}

function subscribe(params, options) {
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/graphql';
  const queue = [];
  let wake = null;
  let done = false;
  const ws = new WebSocket(url, 'graphql-transport-ws');
  const push = (item) => { queue.push(item); if (wake) { wake(); wake = null; } };
  const send = (message) => ws.send(JSON.stringify(message));
  ws.onopen = () => send({ type: 'connection_init', payload: (options && options.headers) || {} });
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === 'connection_ack') send({ id: '1', type: 'subscribe', payload: params });
    else if (message.type === 'next') push(message.payload);
    else if (message.type === 'error') { push({ errors: message.payload }); push(null); }
    else if (message.type === 'complete') push(null);
    else if (message.type === 'ping') send({ type: 'pong' });
  };
  ws.onerror = () => push({ errors: [{ message: 'the websocket to ' + url + ' failed' }] });
  ws.onclose = () => push(null);
  return {
    [Symbol.asyncIterator]() {
      return {
        async next() {
          while (!queue.length && !done) await new Promise((resolve) => { wake = resolve; });
          const item = queue.length ? queue.shift() : null;
          if (item === null) { done = true; return { done: true, value: undefined }; }
          return { done: false, value: item };
        },
        async return() {
          done = true;
          if (ws.readyState === WebSocket.OPEN) { send({ id: '1', type: 'complete' }); ws.close(); }
          return { done: true, value: undefined };
        },
      };
    },
  };
}
const explorer = GraphiQLPluginExplorer.explorerPlugin();

function Playground() {
  return React.createElement(GraphiQL, {
    fetcher,
    defaultTabs: TABS,
    plugins: [explorer],
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
  });
}

ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(Playground));
