"""End to end over real HTTP: a uvicorn server on 127.0.0.1 serving the seed from a temporary embedded store."""
from __future__ import annotations

from datetime import date

import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import networkx as nx
import pytest
from pydantic import SecretStr
from starlette.routing import Route

from corpgraph.api.app import CorpGraphQL, create_app
from corpgraph.api.settings import ApiSettings
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.seed import seed_path
from corpgraph.loaders.validate import load_file
from tests.http_server import serving

TOKEN = "e2e-token"
LEAK = "kaola-leak-2019"
# Seed: lakala -OWNS 32.4%-> kaola -RESPONSIBLE_FOR-> leak; kaola -SUPPLIED_DATA_TO(incident=leak)-> heipachong.
LAKALA_SHARE = 0.324
# trust_env=False: a proxy configured in the environment must not intercept calls to 127.0.0.1.
HTTP = httpx.Client(trust_env=False, timeout=30)

CHAIN = """query($id: ID!) { liabilityChain(incidentId: $id) {
  incident { id name }
  parties { entity { id name } role weight controls paths { weight hops { from to type share sources { title } } } }
  graph { nodes { id type label properties } edges { id source target type properties } } } }"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a uvicorn server over a freshly seeded store, with a mutation token configured."""
    store = SqliteStore(Path(tmp_path_factory.mktemp("e2e")) / "corpgraph.db")
    ingest(store, load_file(seed_path()))
    with serving(create_app(store=store, settings=ApiSettings(token=SecretStr(TOKEN)))) as url:
        yield url
    store.close()


def gql(server: str, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
    """The `data` of a GraphQL POST, failing the test on any error."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = HTTP.post(f"{server}/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def test_kaola_leak_liability_chain(server: str) -> None:
    chain = gql(server, CHAIN, {"id": LEAK})["liabilityChain"]
    assert chain["incident"]["id"] == LEAK
    parties = {(p["entity"]["id"], p["role"]): p for p in chain["parties"]}
    assert set(parties) == {("kaola", "RESPONSIBLE"), ("lakala", "OWNER"), ("heipachong", "DATA_RECIPIENT")}
    lakala = parties["lakala", "OWNER"]
    # 32.4% is below the 50% control threshold, so Lakala owns a minority stake without control.
    assert lakala["weight"] == pytest.approx(LAKALA_SHARE)
    assert lakala["controls"] is False
    # One path: lakala -OWNS 0.324-> kaola -RESPONSIBLE_FOR-> leak; its weight is the product of shares, 0.324.
    [path] = lakala["paths"]
    assert path["weight"] == pytest.approx(LAKALA_SHARE)
    assert [(h["from"], h["to"], h["type"], h["share"]) for h in path["hops"]] == [
        ("lakala", "kaola", "OWNS", pytest.approx(LAKALA_SHARE)), ("kaola", LEAK, "RESPONSIBLE_FOR", None)]
    assert path["hops"][0]["sources"][0]["title"].startswith("中 제3대 결제회사")
    assert {n["id"] for n in chain["graph"]["nodes"]} == {"kaola", "lakala", "heipachong", LEAK}
    assert sorted(e["type"] for e in chain["graph"]["edges"]) == ["OWNS", "RESPONSIBLE_FOR", "SUPPLIED_DATA_TO"]


def test_responses_are_the_json_of_their_data(tmp_path: Path) -> None:
    """The app writes responses with orjson: the same values a json.dumps reader gets (non-ASCII names, shares,
    numbers past 2^53), and what orjson refuses (an integer beyond 64 bits, possible in a JSON scalar) still
    written, by json.dumps."""
    app = create_app(store=SqliteStore(tmp_path / "corpgraph.db"))
    view = next(r.app for r in app.routes if isinstance(r, Route) and r.path == "/graphql")
    assert isinstance(view, CorpGraphQL)
    data = {"data": {"parties": [{"entity": {"id": "라카라"}, "role": "OWNER", "weight": 0.324, "n": 2 ** 60}]},
            "errors": None}
    # str, so a websocket carries the subscription's events as text frames (GraphiQL reads no binary frame).
    assert isinstance(view.encode_json(data), str)
    assert json.loads(view.encode_json(data)) == data
    beyond = {"data": {"impact": {"records": 2 ** 70, 3: "int key"}}}
    assert json.loads(view.encode_json(beyond)) == {"data": {"impact": {"records": 2 ** 70, "3": "int key"}}}


@pytest.mark.parametrize("min_share,owners", [(0.3, ["lakala"]), (0.5, [])])
def test_min_share_drops_smaller_owners(server: str, min_share: float, owners: list[str]) -> None:
    query = ("query($m: Float) { liabilityChain(incidentId: \"kaola-leak-2019\", minShare: $m) "
             "{ ownersTotal parties { entity { id } role } } }")
    chain = gql(server, query, {"m": min_share})["liabilityChain"]
    parties = chain["parties"]
    assert chain["ownersTotal"] == len(owners)
    # Lakala's 0.324 passes a 0.3 floor and not a 0.5 one; the responsible company stays either way.
    assert [p["entity"]["id"] for p in parties if p["role"] == "OWNER"] == owners
    assert any(p["role"] == "RESPONSIBLE" for p in parties)


def test_lakala_exposure_through_ownership(server: str) -> None:
    query = """{ exposure(entityId: "lakala", channels: [OWNERSHIP]) {
      entity { id } items { incident { id } channel weight via { id } } totals } }"""
    exposure = gql(server, query)["exposure"]
    assert exposure["entity"]["id"] == "lakala"
    items = [(i["incident"]["id"], i["channel"], i["weight"], i["via"]["id"]) for i in exposure["items"]]
    assert items == [(LEAK, "OWNERSHIP", pytest.approx(LAKALA_SHARE), "kaola")]
    # Totals weight the leak's figures by 0.324: 100M records -> 32.4M, CNY 38M -> CNY 12.312M.
    assert exposure["totals"]["records_affected"] == pytest.approx(32_400_000)
    assert exposure["totals"]["amount_CNY"] == pytest.approx(12_312_000)


PAGE = """query($after: String) { exposure(entityId: "lakala", asOf: "2020-01-01", first: 1, after: $after) {
  count totals items { incident { id } channel weight cursor via { id } paths { weight hops { from to type } } }
  graph { nodes { id } } } }"""


def test_lakala_exposure_a_page_at_a_time(server: str) -> None:
    whole = gql(server, '{ exposure(entityId: "lakala", asOf: "2020-01-01") { count totals items { channel } } }')
    assert whole["exposure"]["count"] == 2 and len(whole["exposure"]["items"]) == 2
    first = gql(server, PAGE)["exposure"]
    # The leak hit Lakala itself (1 x 400M records, its maximum) before it reaches it through Kaola (0.324 x 400M).
    (hit,) = first["items"]
    assert (hit["incident"]["id"], hit["channel"], hit["weight"], hit["via"]["id"]) == (LEAK, "AFFECTED", 1.0, "lakala")
    assert [[(h["from"], h["to"], h["type"]) for h in p["hops"]] for p in hit["paths"]] == [[(LEAK, "lakala", "AFFECTED")]]
    assert first["count"] == 2 and first["totals"] == whole["exposure"]["totals"]  # over both items, not the page
    assert {n["id"] for n in first["graph"]["nodes"]} == {"lakala", LEAK}  # only the page is explained
    second = gql(server, PAGE, {"after": hit["cursor"]})["exposure"]
    (owned,) = second["items"]
    assert (owned["channel"], owned["weight"], owned["via"]["id"]) == ("OWNERSHIP", pytest.approx(LAKALA_SHARE), "kaola")
    assert [(h["from"], h["to"], h["type"]) for h in owned["paths"][0]["hops"]] == [
        ("lakala", "kaola", "OWNS"), ("kaola", LEAK, "RESPONSIBLE_FOR")]
    assert (second["count"], second["totals"]) == (2, whole["exposure"]["totals"])
    assert gql(server, PAGE, {"after": owned["cursor"]})["exposure"]["items"] == []


def test_an_exposure_cursor_that_is_not_ours_is_refused(server: str) -> None:
    response = HTTP.post(f"{server}/graphql", json={"query": PAGE, "variables": {"after": "nonsense"}})
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "INVALID_CURSOR" and "ExposureItem" in error["message"]


@pytest.mark.parametrize("text", ["拉卡拉", "라카라", "lakala", "Lakala Payment Co., Ltd."])
def test_search_in_any_script(server: str, text: str) -> None:
    found = gql(server, "query($t: String!) { search(text: $t) { id name } }", {"t": text})["search"]
    assert found[0] == {"id": "lakala", "name": "Lakala"}


def test_search_by_type(server: str) -> None:
    # The leak's alias "라카라 정보 유출" contains 라카라 too; restricting to incidents finds only it.
    found = gql(server, '{ search(text: "라카라", types: [INCIDENT]) { id type } }')["search"]
    assert found == [{"id": LEAK, "type": "INCIDENT"}]


def test_entity_fields_by_type(server: str) -> None:
    query = """{ entity(id: "kaola-leak-2019") { id type name ... on Incident {
      category recordsAffected recordsAffectedMax amounts { value currency } } } }"""
    entity = gql(server, query)["entity"]
    assert entity["type"] == "INCIDENT" and entity["category"] == "DATA_LEAK"
    assert (entity["recordsAffected"], entity["recordsAffectedMax"]) == (100_000_000, 400_000_000)
    assert entity["amounts"] == [{"value": 38_000_000, "currency": "CNY"}]


def test_as_of_is_honoured_for_a_stake_upserted_through_a_mutation(server: str) -> None:
    records = [
        {"type": "Person", "id": "jane-doe", "name": "Jane Doe"},
        {"type": "Company", "id": "acme-sub", "name": "Acme Sub"},
        {"type": "OWNS", "source": "jane-doe", "target": "acme-sub", "share": "60%", "valid_from": "2020-01-01"},
    ]
    written = gql(server, "mutation($r: [JSON!]!) { upsertRecords(records: $r) { entities relations } }",
                  {"r": records}, token=TOKEN)
    assert written == {"upsertRecords": {"entities": 2, "relations": 1}}
    owners = "query($d: Date) { owners(companyId: \"acme-sub\", asOf: $d) { owner { id } direct integrated controls } }"
    assert gql(server, owners, {"d": "2019-12-31"})["owners"] == []
    after = gql(server, owners, {"d": "2020-06-01"})["owners"]
    # One owner with 60% direct: integrated equals direct (no chains), and 0.6 > 0.5 means control.
    assert after == [{"owner": {"id": "jane-doe"}, "direct": pytest.approx(0.6),
                      "integrated": pytest.approx(0.6), "controls": True}]
    holdings = '{ holdings(companyId: "jane-doe", asOf: "2020-06-01") { company { id name } direct } }'
    assert gql(server, holdings)["holdings"] == [{"company": {"id": "acme-sub", "name": "Acme Sub"},
                                                  "direct": pytest.approx(0.6)}]


def test_neighborhood_graph(server: str) -> None:
    graph = gql(server, '{ neighborhood(id: "kaola", relationTypes: [OWNS, SUPPLIED_DATA_TO]) '
                        '{ nodes { id type label } edges { source target type properties } } }')["neighborhood"]
    assert {(n["id"], n["type"]) for n in graph["nodes"]} == {("kaola", "COMPANY"), ("lakala", "COMPANY"),
                                                             ("heipachong", "COMPANY")}
    supplied = next(e for e in graph["edges"] if e["type"] == "SUPPLIED_DATA_TO")
    assert supplied["properties"]["data"] == ["name", "contact details", "ID number", "ID photo"]


def test_browsing_incidents_and_companies(server: str) -> None:
    page = gql(server, '{ incidents(category: OUTAGE, first: 1) { nodes { id } pageInfo { endCursor hasNextPage } } }')
    assert page["incidents"]["nodes"] == [{"id": "alipay-outage-2015"}]
    assert page["incidents"]["pageInfo"]["hasNextPage"] is True
    cursor = page["incidents"]["pageInfo"]["endCursor"]
    rest = gql(server, "query($a: String) { incidents(category: OUTAGE, after: $a) { nodes { id } } }", {"a": cursor})
    assert rest["incidents"]["nodes"] == [{"id": "ctrip-outage-2015"}]
    dated = gql(server, '{ incidents(from: "2015-05-28", to: "2015-12-31") { nodes { id } } }')
    assert dated["incidents"]["nodes"] == [{"id": "ctrip-outage-2015"}]


@pytest.mark.parametrize("format", ["cytoscape", "d3", "gexf", "graphml"])
def test_exports_have_the_nodes_and_edges_of_the_graphql_graph(server: str, format: str) -> None:
    graph = gql(server, CHAIN, {"id": LEAK})["liabilityChain"]["graph"]
    want_nodes = {n["id"] for n in graph["nodes"]}
    want_edges = {(e["id"], e["source"], e["target"]) for e in graph["edges"]}
    response = HTTP.get(f"{server}/export/{format}", params={"query": "liability", "id": LEAK})
    assert response.status_code == 200
    nodes, edges = _read_export(format, response.text)
    assert (nodes, edges) == (want_nodes, want_edges)
    assert response.headers["x-corpgraph-more-nodes"] == "0"  # a liability graph is never capped


@pytest.mark.parametrize("format,ext", [("cytoscape", "cyjs"), ("d3", "json"), ("gexf", "gexf"), ("graphml", "graphml")])
def test_exports_download_as_view_id_date_ext(server: str, format: str, ext: str) -> None:
    """Saved as `<view>-<id>-<date>.<ext>`: the date asked, else today."""
    dated = HTTP.get(f"{server}/export/{format}", params={"query": "liability", "id": LEAK, "asOf": "2020-01-01"})
    assert dated.headers["content-disposition"] == (f'attachment; filename="liability-{LEAK}-2020-01-01.{ext}"; '
                                                    f"filename*=UTF-8''liability-{LEAK}-2020-01-01.{ext}")
    today = HTTP.get(f"{server}/export/{format}", params={"query": "exposure", "id": "lakala"})
    assert f'filename="exposure-lakala-{date.today().isoformat()}.{ext}"' in today.headers["content-disposition"]


def test_export_file_names_of_ids_that_are_not_file_names() -> None:
    from corpgraph.graph.exports import export_file_name
    day = date(2020, 1, 2)
    assert export_file_name("owners", "stix:identity--a/b", day, "gexf") == "owners-stix_identity--a_b-2020-01-02.gexf"
    assert export_file_name("owners", "拉卡拉 集团", day, "d3") == "owners-拉卡拉_集团-2020-01-02.json"


def test_export_errors_are_clear(server: str) -> None:
    unknown = HTTP.get(f"{server}/export/dot", params={"id": "kaola"})
    assert (unknown.status_code, unknown.json()) == (
        404, {"error": "unknown export format 'dot': use one of cytoscape, d3, gexf, graphml", "code": "NOT_FOUND"})
    missing = HTTP.get(f"{server}/export/gexf", params={"query": "neighborhood", "id": "nope"})
    assert missing.status_code == 404 and "no entity with id 'nope'" in missing.json()["error"]
    too_deep = HTTP.get(f"{server}/export/d3", params={"query": "liability", "id": LEAK, "maxDepth": "99"})
    assert (too_deep.status_code, too_deep.json()) == (400, {"error": "maxDepth must be between 1 and 6, got 99",
                                                            "code": "LIMIT_EXCEEDED"})
    bad_date = HTTP.get(f"{server}/export/d3", params={"query": "exposure", "id": "lakala", "asOf": "yesterday"})
    assert (bad_date.status_code, bad_date.json()) == (400, {"error": "bad value for asOf: 'yesterday'",
                                                           "code": "BAD_REQUEST"})


def test_healthz_and_graphiql(server: str) -> None:
    assert HTTP.get(f"{server}/healthz").json()["status"] == "ok"
    page = HTTP.get(f"{server}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


def _read_export(format: str, text: str) -> tuple[set[str], set[tuple[str, str, str]]]:
    """Node ids and (edge id, source, target) of an export, read by networkx or a plain XML parser."""
    if format == "cytoscape":
        elements = json.loads(text)["elements"]
        return ({n["data"]["id"] for n in elements["nodes"]},
                {(e["data"]["id"], e["data"]["source"], e["data"]["target"]) for e in elements["edges"]})
    if format == "d3":
        graph = nx.node_link_graph(json.loads(text), edges="links")
    elif format == "gexf":
        graph = nx.read_gexf(io.BytesIO(text.encode()))
    else:
        root = ET.fromstring(text)
        ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
        return ({n.get("id", "") for n in root.iterfind(".//g:node", ns)},
                {(e.get("id", ""), e.get("source", ""), e.get("target", "")) for e in root.iterfind(".//g:edge", ns)})
    return set(graph.nodes), {(d["id"], s, t) for s, t, d in graph.edges(data=True)}
