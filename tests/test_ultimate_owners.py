"""Ultimate owners (issue 20, item 3): the pinned definition on the cases the old one got wrong, worked by hand.

Definition (docs/analytics.md): candidates are the owners X with integrated(X, Y) >= threshold (0.25). A
candidate is left out when another candidate controls it (and it does not control that one back), or when
every owner of it outside its own cross-holding is a candidate or is itself held only through candidates.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.service import CorpGraph
from corpgraph.graph.stores.sqlite import SqliteStore
from tests.factory import companies_owning


def ultimate(store: SqliteStore, company: str, threshold: float = 0.25) -> list[tuple[str, float]]:
    """(owner, integrated) of the ultimate owners, rounded to 1e-9."""
    return [(h.owner, round(h.integrated or 0.0, 9)) for h in CorpGraph(store).ultimate_owners(company, threshold=threshold)]


def test_a_candidate_on_a_loop_is_not_its_own_owner(tmp_store: SqliteStore) -> None:
    # a 60% of c; a and b hold 10% of each other. integrated(a, c) = 0.6 (walks back through a do not count);
    # integrated(b, c) = 0.1 * 0.6 = 0.06 < 0.25. The old rule found a above itself and answered [].
    ingest(tmp_store, companies_owning(("a", "c", 0.6), ("a", "b", 0.1), ("b", "a", 0.1)))
    assert ultimate(tmp_store, "c") == [("a", 0.6)]


def test_an_owner_held_by_someone_below_the_threshold_keeps_its_stake(tmp_store: SqliteStore) -> None:
    # P 100% of Q, Q 40% of C, P 10% of A, Z 80% of A, A 30% of C.
    # integrated in C: P = 0.4 + 0.1 * 0.3 = 0.43; Q = 0.40; A = 0.30; Z = 0.8 * 0.3 = 0.24 (< 0.25).
    # Q: controlled by P, left out. A: P holds only 10%; Z (not a candidate, owned by nobody) holds 80%,
    # so A is not held only through candidates: kept (the old rule dropped it, and with it Z's 24%).
    ingest(tmp_store, companies_owning(("p", "q", 1.0), ("q", "c", 0.4), ("p", "a", 0.1), ("z", "a", 0.8),
                                       ("a", "c", 0.3)))
    assert ultimate(tmp_store, "c") == [("p", 0.43), ("a", 0.3)]


def test_two_cross_held_companies_are_both_ultimate(tmp_store: SqliteStore) -> None:
    # a and b each hold 50% of c and 10% of each other: integrated(a, c) = 0.5 + 0.1 * 0.5 = 0.55, same for b.
    # Neither controls the other and they form one cross-holding with no owner outside it.
    ingest(tmp_store, companies_owning(("a", "c", 0.5), ("b", "c", 0.5), ("a", "b", 0.1), ("b", "a", 0.1)))
    assert ultimate(tmp_store, "c") == [("a", 0.55), ("b", 0.55)]


def test_a_controlled_candidate_is_left_out_even_with_another_owner(tmp_store: SqliteStore) -> None:
    # P 60% and Z 40% of Q, Q 50% of C: P = 0.30, Q = 0.50, Z = 0.20. P controls Q: only P.
    ingest(tmp_store, companies_owning(("p", "q", 0.6), ("z", "q", 0.4), ("q", "c", 0.5)))
    assert ultimate(tmp_store, "c") == [("p", 0.3)]


def test_mutual_control_leaves_both(tmp_store: SqliteStore) -> None:
    # a and b hold 60% of each other and 30% each of c: integrated(a, c) = 0.3 + 0.6 * 0.3 = 0.48, same for b;
    # each controls the other, so neither stands above the other.
    ingest(tmp_store, companies_owning(("a", "b", 0.6), ("b", "a", 0.6), ("a", "c", 0.3), ("b", "c", 0.3)))
    assert ultimate(tmp_store, "c") == [("a", 0.48), ("b", 0.48)]


def test_graphql_and_the_cli_answer_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from corpgraph.api.cli import app
    from corpgraph.graph.settings import get_settings
    from corpgraph.graph.stores.sqlite import SqliteStore as Store
    monkeypatch.setenv("CORPGRAPH_DB", str(tmp_path / "u.db"))
    get_settings.cache_clear()
    store = Store(tmp_path / "u.db")
    ingest(store, companies_owning(("p", "q", 1.0), ("q", "c", 0.4), ("p", "a", 0.1), ("z", "a", 0.8), ("a", "c", 0.3)))
    store.close()
    result = CliRunner().invoke(app, ["ultimate-owners", "c"])
    assert result.exit_code == 0, result.output
    assert [line.split() for line in result.stdout.splitlines()] == [["p", "0.430000"], ["a", "0.300000"]]
    # at 0.35 only P (0.43) and Q (0.40) qualify; P controls Q
    at_35 = CliRunner().invoke(app, ["ultimate-owners", "c", "--threshold", "0.35"]).stdout
    assert [line.split() for line in at_35.splitlines()] == [["p", "0.430000"]]
    from tests.test_api_safety import client_for, gql, messages
    with client_for(Store(tmp_path / "u.db")) as client:
        query = "query($t: Float) { ultimateOwners(companyId: \"c\", threshold: $t) { owner { id } integrated } }"
        assert gql(client, query, {"t": 0.35})["data"]["ultimateOwners"] == [{"owner": {"id": "p"}, "integrated": pytest.approx(0.43)}]
        assert [h["owner"]["id"] for h in gql(client, query)["data"]["ultimateOwners"]] == ["p", "a"]
        assert messages(gql(client, query, {"t": 0})) == ["threshold must be above 0 and at most 1, got 0.0"]
