"""The embedded (SQLite) store's own guarantees: atomic batches, durability, crash safety, search."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.schema.errors import InvalidInput, StoreError
from corpgraph.schema.kinds import EntityType, RelationType
from tests.factory import batch, company, companies_owning, owns

ROOT = Path(__file__).resolve().parents[1]


def test_reloading_the_same_batch_changes_nothing(seed_store: SqliteStore) -> None:
    from corpgraph.loaders.seed import seed_path
    from corpgraph.loaders.validate import load_file

    before = seed_store.counts()
    docs = seed_store.get_entities(["lakala", "kaola"])
    ingest(seed_store, load_file(seed_path()))
    assert seed_store.counts() == before
    assert seed_store.get_entities(["lakala", "kaola"]) == docs


def test_a_later_record_updates_the_same_id_and_relation_key(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, companies_owning(("a", "b", 0.2)))
    ingest(tmp_store, batch(company("a", "A renamed"), owns("a", "b", 0.3)))
    assert tmp_store.get_entities(["a"])["a"].name == "A renamed"
    rows = [r for page in tmp_store.iter_edges([RelationType.OWNS]) for r in page]
    assert [(r.id, r.share) for r in rows] == [("OWNS|a|b|", 0.3)]


def test_a_new_valid_from_is_a_new_stake(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, batch(company("a"), company("b"), owns("a", "b", 0.2, valid_to="2020-01-01"),
                            owns("a", "b", 0.6, valid_from="2020-01-01")))
    assert tmp_store.counts()["OWNS"] == 2


def test_a_failed_batch_writes_nothing(tmp_store: SqliteStore) -> None:
    ingest(tmp_store, companies_owning(("a", "b", 0.2)))
    before, revision = tmp_store.counts(), tmp_store.revision()
    with pytest.raises(InvalidInput):
        ingest(tmp_store, batch(company("c"), owns("c", "a", 0.1), owns("c", "ghost", 0.1)))
    assert tmp_store.counts() == before
    assert tmp_store.revision() == revision


def test_data_survives_reopening(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "g.db")
    ingest(store, companies_owning(("a", "b", 0.5)))
    store.close()
    again = SqliteStore(tmp_path / "g.db")
    assert again.counts() == {"Company": 2, "OWNS": 1}
    again.close()


CHILD = textwrap.dedent(
    """
    import sys
    from corpgraph.graph.write.ingest import ingest
    from corpgraph.graph.stores.sqlite import SqliteStore
    from tests.factory import batch, company
    store = SqliteStore(sys.argv[1])
    big = batch(*(company(f"c{i:07d}") for i in range(int(sys.argv[2]))))
    print("writing", flush=True)
    ingest(store, big)
    print("done", flush=True)
    """
)


def test_sigkill_during_a_load_leaves_all_or_nothing(tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    store = SqliteStore(db)
    ingest(store, companies_owning(("a", "b", 0.5)))
    before = store.counts()
    store.close()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), "300000"], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "writing"
    time.sleep(0.8)  # well inside the write of 300,000 rows (several seconds on this machine)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, "the load finished before it could be killed"
    reopened = SqliteStore(db)
    assert reopened._query("PRAGMA integrity_check", []) == [("ok",)]
    assert reopened.counts() == before
    reopened.close()


@pytest.mark.parametrize("text", ["拉卡拉", "라카라", "lakala", "LAKALA", "Ｌａｋａｌａ", "拉卡拉支付股份有限公司",
                                  "Lakala Payment Co., Ltd.", "lakala payment"])
def test_search_finds_lakala_in_any_script(seed_store: SqliteStore, text: str) -> None:
    assert seed_store.search(text, [EntityType.COMPANY], 5)[0].id == "lakala"


def test_search_ranks_exact_before_contained_and_filters_types(seed_store: SqliteStore) -> None:
    hits = [e.id for e in seed_store.search("kaola", None, 10)]
    assert hits[0] == "kaola"
    assert "kaola-leak-2019" in hits
    assert [e.id for e in seed_store.search("kaola", [EntityType.INCIDENT], 10)] == ["kaola-leak-2019"]
    assert seed_store.search("no such name anywhere", None, 10) == []
    assert seed_store.search("  ", None, 10) == []


def test_search_text_is_data_not_sql(seed_store: SqliteStore) -> None:
    assert seed_store.search("'; DROP TABLE entities; --", None, 10) == []
    assert seed_store.counts()["Company"] == 6


def test_list_entities_pages_by_id(seed_store: SqliteStore) -> None:
    first = seed_store.list_entities(EntityType.COMPANY, None, 4)
    rest = seed_store.list_entities(EntityType.COMPANY, first[-1].id, 4)
    ids = [e.id for e in first + rest]
    assert ids == sorted(ids) and len(ids) == 6 and len(set(ids)) == 6


def test_relations_touching_and_get_relations(seed_store: SqliteStore) -> None:
    touching = seed_store.relations_touching(["kaola"], [RelationType.OWNS, RelationType.SUPPLIED_DATA_TO])
    assert {(r.record.source, r.record.target) for r in touching} == {("lakala", "kaola"), ("kaola", "heipachong")}
    got = seed_store.get_relations([touching[0].id, "missing"])
    assert list(got) == [touching[0].id]


def _index_names(store: SqliteStore) -> set[str]:
    """Names of the relation indexes present."""
    return {r[0] for r in store._query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'relations' "
                                       "AND name NOT LIKE 'sqlite_%'", [])}


def test_bulk_path_rebuilds_indexes_and_a_failure_restores_them(tmp_store: SqliteStore,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import corpgraph.graph.stores.sqlite as sqlite_module

    indexes = _index_names(tmp_store)
    assert indexes == {"relations_type", "relations_source", "relations_target"}
    monkeypatch.setattr(sqlite_module, "_BULK", 2)
    ingest(tmp_store, companies_owning(("a", "b", 0.5), ("b", "c", 0.5), ("a", "c", 0.1)))
    assert _index_names(tmp_store) == indexes
    assert len(tmp_store.relations_touching(["c"], [RelationType.OWNS])) == 2

    # the rows' insert fails once the indexes are dropped (the documents are encoded before: sqlite_prepare)
    monkeypatch.setattr(sqlite_module, "_UPSERT_RELATION", "INSERT INTO no_such_table VALUES (?)")
    with pytest.raises(StoreError, match="no such table"):
        tmp_store.write(companies_owning(("c", "d", 0.5), ("d", "e", 0.5)))
    assert _index_names(tmp_store) == indexes
    assert tmp_store.counts() == {"Company": 3, "OWNS": 3}


def _mapped(store: SqliteStore) -> bool:
    """Whether this process maps the store's file (/proc/self/maps names each mapped file; the WAL's -shm is
    always mapped and is another file)."""
    name = str(store.path.resolve())
    return any(line.endswith(" " + name) for line in Path("/proc/self/maps").read_text().splitlines())


def test_unmapped_reads_let_the_mapping_go_and_bring_it_back(seed_store: SqliteStore) -> None:
    # Reads go through a shared mapping of the file; inside the block this thread's connection maps nothing (its
    # mapped pages would count in the RSS of a long export), reads answer the same, and the size comes back after.
    seed_store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the pages in the file: WAL pages are never mapped
    mapped = seed_store.get_entities(["lakala", "kaola"])
    assert _mapped(seed_store)
    size = seed_store._db.execute("PRAGMA mmap_size").fetchone()[0]
    assert size > 0
    with seed_store.unmapped_reads():
        assert not _mapped(seed_store)
        assert seed_store.get_entities(["lakala", "kaola"]) == mapped
        with seed_store.unmapped_reads():  # nested: the outer block stays unmapped after the inner one
            pass
        assert seed_store._db.execute("PRAGMA mmap_size").fetchone()[0] == 0
        assert not _mapped(seed_store)
    assert seed_store._db.execute("PRAGMA mmap_size").fetchone()[0] == size
    assert seed_store.get_entities(["lakala", "kaola"]) == mapped
    assert _mapped(seed_store)
