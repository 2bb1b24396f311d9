"""Identity applied to relations: referents onto canonical ids, one relation per fact stated by several sources.

After identity maps every referent to its canonical id, two stored relations may be the same fact: the same
type, endpoints and identity key (schema/declaration.py), e.g. `OWNS|lei:5493...|kaola|2019-06-30` from
GLEIF and `OWNS|bods:lakala|kaola|2019-06-30` from BODS once `lei:5493...` and `bods:lakala` are one entity.
They become one relation with every source; its values are those of the most recently published statement
(the latest `recorded_on` or `published_on` among its sources; undated statements count as oldest; ties go
to the relation id that sorts last), and when the statements disagree on a value the relation is
`disputed`: answers then list what each source said. A relation whose two ends became one entity is
dropped (an entity does not own itself).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from corpgraph.schema.declaration import ONE_ENTITY
from corpgraph.schema.kinds import RelationType
from corpgraph.schema.records import Relation

from corpgraph.graph.identity.clusters import IdentityMap
from corpgraph.graph.stores.base import GraphStore, StoredRelation

# Fields that say where a statement comes from or how sure it is, not what it states.
_NOT_VALUES = {"sources", "source", "target", "confidence", "as_given"}


@dataclass
class Statements:
    """Relations merged by identity: which stored relations state the same fact, and which disagree."""

    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # chosen relation id -> all, chosen first
    merged_into: dict[str, str] = field(default_factory=dict)  # a relation id not chosen -> the chosen one
    disputed: frozenset[str] = frozenset()  # chosen relation ids whose statements disagree on a value

    def of(self, rel_id: str) -> tuple[str, ...]:
        """Every relation id stating the fact of `rel_id`, the chosen one first."""
        chosen = self.merged_into.get(rel_id, rel_id)
        return self.groups.get(chosen, (chosen,))


def merged_key(identity: IdentityMap, rel_id: str) -> tuple[str, ...]:
    """A relation's identity with every id in it read through identity (ids never hold "|")."""
    return tuple(identity.canonical(part) for part in rel_id.split("|"))


def statement_date(record: Relation) -> date:
    """When a statement was made: the latest recorded_on or published_on among its sources (oldest if none)."""
    days = [d for s in record.sources for d in (s.recorded_on, s.published_on) if d is not None]
    return max(days, default=date.min)


def choose(records: dict[str, Relation]) -> tuple[str, bool]:
    """The statement that counts among several of one fact, and whether they disagree on a value."""
    chosen = max(records, key=lambda rel_id: (statement_date(records[rel_id]), rel_id))
    values = {rel_id: record.model_dump(exclude=_NOT_VALUES) for rel_id, record in records.items()}
    return chosen, any(v != values[chosen] for v in values.values())


def merge_columns(identity: IdentityMap, store: GraphStore, cols: list[list[object]], at: dict[str, int]
                  ) -> tuple[list[int] | None, Statements]:
    """Rewrite endpoints (and incidents) of the projection's edge columns to canonical ids, in place.

    Returns the edge positions to keep (None: all) and the merged statements. Only edges touching a merged
    entity can change, so the others are passed over with one set lookup each. Statements of one fact that
    agree on every analytic column need no record read (the last relation id represents them); only those
    that disagree are read from the store, to find the most recently published.
    """
    rel_ids, sources, targets, incidents = (cols[at[name]] for name in ("id", "source", "target", "incident"))
    types = cols[at["type"]]
    members = {i for ids in identity.members.values() for i in ids}
    canon = identity.mapping
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    dropped: list[int] = []
    for k, (s, t, inc) in enumerate(zip(sources, targets, incidents)):
        if s in members or t in members or inc in members:
            sources[k], targets[k] = canon.get(s, s), canon.get(t, t)  # type: ignore[call-overload]
            incidents[k] = canon.get(inc, inc) if inc is not None else None  # type: ignore[call-overload]
            if sources[k] == targets[k] and types[k] not in ONE_ENTITY:  # a stake between two ids of one entity
                dropped.append(k)
            else:
                groups[merged_key(identity, rel_ids[k])].append(k)  # type: ignore[arg-type]
    values = [col for name, col in enumerate(cols) if name not in {at["id"], at["source"], at["target"]}]
    agreed: list[list[str]] = []
    disputed: list[list[str]] = []
    for group in (g for g in groups.values() if len(g) > 1):
        rows = {tuple(_same_nan(col[k]) for col in values) for k in group}
        (agreed if len(rows) == 1 else disputed).append([str(rel_ids[k]) for k in group])
    statements = _statements(store, agreed, disputed)
    dropped.extend(k for g in groups.values() if len(g) > 1 for k in g if rel_ids[k] in statements.merged_into)
    if not dropped:
        return None, statements
    gone = set(dropped)
    return [k for k in range(len(rel_ids)) if k not in gone], statements


def _same_nan(value: object) -> object:
    """A column value fit for comparison: NaN (an unknown share read as a float) equal to None."""
    return None if value != value else value


def merge_stored(identity: IdentityMap, relations: list[StoredRelation]) -> list[StoredRelation]:
    """Stored relations read through identity: canonical endpoints, one per fact with every source, no self-loops."""
    groups: dict[tuple[str, ...], dict[str, Relation]] = defaultdict(dict)
    for rel in relations:
        groups[merged_key(identity, rel.id)][rel.id] = rel.record
    out = []
    for records in groups.values():
        chosen, _ = choose(records) if len(records) > 1 else (next(iter(records)), False)
        record = canonical_record(identity, records[chosen], [records[i] for i in sorted(records) if i != chosen])
        if record.source != record.target or RelationType(record.type) in ONE_ENTITY:  # type: ignore[attr-defined]
            out.append(StoredRelation(chosen, record))
    return sorted(out, key=lambda r: r.id)


def canonical_record(identity: IdentityMap, record: Relation, others: Sequence[Relation] = ()) -> Relation:
    """A relation record with canonical endpoints and the sources of every statement of the same fact."""
    update: dict[str, object] = {"source": identity.canonical(record.source),
                                 "target": identity.canonical(record.target)}
    incident = vars(record).get("incident")
    if incident:
        update["incident"] = identity.canonical(incident)
    if others:
        sources = list(record.sources)
        update["sources"] = sources + [s for o in others for s in o.sources if s not in sources]
    return record.model_copy(update=update)


def _statements(store: GraphStore, agreed: list[list[str]], disputed: list[list[str]]) -> Statements:
    """Choose the statement that counts in each group: by relation id when they agree, else by date (records read once)."""
    out = Statements(disputed=frozenset())
    for group in agreed:
        _record(out, max(group), group)
    if not disputed:
        return out
    records = store.get_relations(sorted({i for g in disputed for i in g}))
    chosen_ids = set()
    for group in disputed:
        chosen, differ = choose({i: records[i].record for i in group})
        _record(out, chosen, group)
        if differ:
            chosen_ids.add(chosen)
    out.disputed = frozenset(chosen_ids)
    return out


def _record(out: Statements, chosen: str, group: list[str]) -> None:
    """Note one merged group: the chosen relation id first, the others pointing to it."""
    out.groups[chosen] = (chosen, *sorted(i for i in group if i != chosen))
    out.merged_into.update((i, chosen) for i in group if i != chosen)
