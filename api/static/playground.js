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
  { query: `# Writes need the mutation token: set it in the Headers pane below.
mutation UpsertNeedsToken {
  upsertRecords(records: [{type: "Company", id: "example-co", name: "Example Co."}]) { entities relations }
}
`, headers: '{"Authorization": "Bearer PASTE-THE-TOKEN-HERE"}' },
];

const fetcher = GraphiQL.createFetcher({ url: '/graphql' });
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
