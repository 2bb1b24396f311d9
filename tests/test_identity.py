"""Identity clusters (graph.identity.clusters): shared identifiers and users' decisions, canonical ids, splits."""
from __future__ import annotations

from pathlib import Path

import pytest

from corpgraph.graph.identity.identifiers import identifier_key, parse_identifier_ref
from corpgraph.graph.identity.clusters import IdentityError, build_identity
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.errors import NotFound
from tests.factory import batch, company, entity

LEI = "549300O897ZC5H7CY412"


def _gleif(id: str = f"lei:{LEI}") -> dict[str, object]:
    """A company as the GLEIF importer makes it: id from the LEI, the LEI and the register number."""
    return company(id, "FERMCAT LIMITED", identifiers=[{"scheme": "LEI", "id": LEI},
                                                       {"scheme": "GB-COH", "id": "03209885"}], country="GB")


def _bods(id: str = "bods:fermcat") -> dict[str, object]:
    """The same company as a BODS statement carries it: the LEI spelt loosely, no register number."""
    return company(id, "Fermcat Ltd", identifiers=[{"scheme": "lei", "id": LEI.lower()}])


def test_identifier_keys_are_normalised() -> None:
    """Upper-case scheme, LEI upper-case without spaces, other ids trimmed; blank parts make no key."""
    assert identifier_key(" lei ", "5493 00o8 97zc") == "LEI:549300O897ZC"
    assert identifier_key("gb-coh", " 03209885 ") == "GB-COH:03209885"
    assert identifier_key("DK-CVR", "  ") is None
    assert parse_identifier_ref(f"lei:{LEI.lower()}") == f"LEI:{LEI}"
    assert parse_identifier_ref("lakala") is None


def test_a_shared_lei_makes_one_cluster_whatever_the_load_order(tmp_path: Path) -> None:
    """GLEIF then BODS, or BODS then GLEIF: the same canonical id ("bods:" sorts before "lei:")."""
    maps = []
    for order, records in (("gleif-first", [_gleif(), _bods()]), ("bods-first", [_bods(), _gleif()])):
        store = SqliteStore(tmp_path / f"{order}.db")
        for record in records:
            ingest(store, batch(record))
        maps.append(build_identity(store))
        store.close()
    for found in maps:
        assert found.canonical(f"lei:{LEI}") == found.canonical("bods:fermcat") == "bods:fermcat"
        assert found.referents("bods:fermcat") == found.referents(f"lei:{LEI}") == [f"lei:{LEI}"]
        assert found.conflicts == []


def test_a_native_id_is_canonical_before_imported_ones(tmp_store: SqliteStore) -> None:
    """An id chosen by a person (no `prefix:`) names the cluster, even though "bods:" sorts before it."""
    ingest(tmp_store, batch(_gleif(), _bods(), company("fermcat", identifiers={"GB-COH": "03209885"})))
    found = build_identity(tmp_store)
    assert found.ids("bods:fermcat") == ("fermcat", "bods:fermcat", f"lei:{LEI}")


def test_nothing_shared_is_an_empty_map(tmp_store: SqliteStore) -> None:
    """No shared identifier and no decision: nothing merged, every id its own canonical."""
    ingest(tmp_store, batch(_gleif(), company("other", identifiers={"LEI": "5493001KJTIIGC8Y1R12"})))
    found = build_identity(tmp_store)
    assert not found and found.canonical("other") == "other" and found.referents("other") == []


def test_a_same_decision_merges_without_an_identifier(tmp_store: SqliteStore) -> None:
    """`same` joins two ids that share nothing; a decision about an id not loaded waits for it."""
    ingest(tmp_store, batch(company("lakala"), company("stix:lakala-payment")))
    tmp_store.add_judgement("stix:lakala-payment", "lakala", "same", "alice")
    tmp_store.add_judgement("lakala", "veris:not-loaded-yet", "same", "alice")
    found = build_identity(tmp_store)
    assert found.ids("stix:lakala-payment") == ("lakala", "stix:lakala-payment")
    assert found.canonical("veris:not-loaded-yet") == "veris:not-loaded-yet"


def test_a_split_keeps_two_apart_though_an_identifier_links_them(tmp_store: SqliteStore) -> None:
    """The split wins; the identifier link it overrides is reported, naming the key and the decision."""
    ingest(tmp_store, batch(_gleif(), _bods(), company("third", identifiers={"LEI": LEI})))
    tmp_store.add_judgement("bods:fermcat", f"lei:{LEI}", "different", "bob")
    found = build_identity(tmp_store)
    assert found.canonical(f"lei:{LEI}") != found.canonical("bods:fermcat")
    # by hand: the LEI group is [bods:fermcat, lei:..., third]; its star links bods:fermcat-lei:... (refused)
    # and bods:fermcat-third (followed), so third joins bods:fermcat and lei:... stays alone
    assert found.ids("third") == ("third", "bods:fermcat")
    assert [(c.a, c.b, c.link) for c in found.conflicts] == [("bods:fermcat", f"lei:{LEI}", f"LEI:{LEI}")]
    assert found.conflicts[0].reason == f"a split decision keeps bods:fermcat and lei:{LEI} apart"


def test_a_split_refuses_a_chain_of_same_decisions(tmp_store: SqliteStore) -> None:
    """a = b and b = c with a split between a and c: the pair (a, b) is followed first, (b, c) refused."""
    ingest(tmp_store, batch(company("a"), company("b"), company("c")))
    for x, y, verdict in (("a", "b", "same"), ("b", "c", "same"), ("a", "c", "different")):
        tmp_store.add_judgement(x, y, verdict, "carol")
    found = build_identity(tmp_store)
    assert found.ids("a") == ("a", "b") and found.canonical("c") == "c"
    assert [(c.a, c.b, c.reason) for c in found.conflicts] == [("b", "c", "a split decision keeps a and c apart")]


def test_entities_of_different_types_are_never_merged(tmp_store: SqliteStore) -> None:
    """A company and an organization with the same LEI stay two; the refused link is reported."""
    ingest(tmp_store, batch(_gleif(), entity("Organization", "ftm:fermcat", identifiers={"LEI": LEI})))
    found = build_identity(tmp_store)
    assert not found
    assert [(c.a, c.b, c.link) for c in found.conflicts] == [("ftm:fermcat", f"lei:{LEI}", f"LEI:{LEI}")]
    assert found.conflicts[0].reason.startswith(f"ftm:fermcat is of type Organization and lei:{LEI} of type Company")


def test_the_facade_resolves_identifiers_and_checks_decisions(tmp_store: SqliteStore) -> None:
    """`LEI:...` names the merged entity; a decision by identifier is stored between ids; wrong ones refused."""
    ingest(tmp_store, batch(_gleif(), _bods(), company("acme"), entity("Person", "pat")))
    graph = CorpGraph(tmp_store)
    assert graph.resolve(f"LEI:{LEI}") == graph.resolve(f"lei:{LEI}") == graph.resolve("GB-COH:03209885") == "bods:fermcat"
    assert graph.referents("bods:fermcat") == [f"lei:{LEI}"]
    made = graph.decide("acme", f"LEI:{LEI}", "different", "dora")
    assert (made.a, made.b) == ("acme", "bods:fermcat")
    with pytest.raises(IdentityError, match="of different types"):
        graph.decide("acme", "pat", "same", "dora")
    with pytest.raises(NotFound, match="LEI:NOPE"):
        graph.resolve("LEI:NOPE")


def test_the_identity_benchmark_world_merges_every_restated_stake(tmp_path: Path) -> None:
    """benchmarks/identity.py: each twin's stake is the same fact as its original, so merging removes one edge per stake."""
    from benchmarks.generate import generate
    from benchmarks.identity import twins
    from corpgraph.graph.projection.build import build_projection
    from corpgraph.loaders.validate import load_file

    world = generate(tmp_path / "world.jsonl", 200)
    store = SqliteStore(tmp_path / "world.db")
    ingest(store, load_file(world.path))
    restated = twins(store, 20)
    stakes = sum(r["type"] == "OWNS" for r in restated)
    store.write(batch(*restated))
    identity = build_identity(store)
    plain, merged = build_projection(store), build_projection(store, identity)
    assert len(identity.members) == 20 and stakes > 0
    assert merged.src.size == plain.src.size - stakes
    assert len(merged.statements.groups) == stakes
    store.close()
