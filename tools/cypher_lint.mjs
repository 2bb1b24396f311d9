// Lint Cypher statements with Neo4j's own front end (@neo4j-cypher/language-support, lintCypherQuery).
// Input on stdin: {"statements": [...], "schema": {labels, relationshipTypes, propertyKeys, parameters},
//                  "functions": ["coalesce", ...]}: only the listed built-in functions count as known, so a
//                  function the store must not use (elementId, datetime: FalkorDB lacks them) is an error.
// Output on stdout: one JSON list, per statement {statement, diagnostics: [{severity, message, start, end}]};
// severity 1 is an error, 2 a warning (LSP numbering). Exit code 0 when it ran, whatever it found:
// judging the findings is the caller's job (tests/test_cypher_lint.py).
import { lintCypherQuery } from '@neo4j-cypher/language-support';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { statements, schema, functions } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const dbSchema = { ...(schema ?? {}) };
if (functions) {
  const registry = Object.fromEntries(functions.map((name) => [name, builtIn(name)]));
  dbSchema.functions = { 'CYPHER 5': registry, 'CYPHER 25': registry };
}

function builtIn(name) {
  return { name, category: '', description: '', isBuiltIn: true, argumentDescription: [],
    returnDescription: '', signature: `${name}()`, aggregating: name === 'count', isDeprecated: false };
}

const results = statements.map((statement) => ({
  statement,
  diagnostics: lintCypherQuery(statement, dbSchema).diagnostics.map((d) => ({
    severity: d.severity,
    message: d.message,
    start: d.offsets?.start ?? null,
    end: d.offsets?.end ?? null,
  })),
}));
process.stdout.write(JSON.stringify(results));
