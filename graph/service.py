"""The facade every query goes through: a store plus its projection, rebuilt in the background (graph.projection.live)."""
from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum
from typing import Protocol

from corpgraph.schema.batch import Batch, WriteSummary
from corpgraph.schema.declaration import endpoint_kinds
from corpgraph.schema.errors import NotFound, UnreadableRecord
from corpgraph.schema.kinds import EntityType, IncidentCategory, RelationType
from corpgraph.schema.records import Entity

from corpgraph.graph import browse, budget
from corpgraph.graph.projection import delta
from corpgraph.graph.projection.apart import build_apart
from corpgraph.graph.analytics import disagreements, liability, ownership, pages, sanctions, sanctions_evidence
from corpgraph.graph.analytics.solves import Solves
from corpgraph.graph.analytics.disagreements import Disagreement
from corpgraph.graph.analytics import exposure as exposure_
from corpgraph.graph.analytics.results import (Channel, Designation, Exposure, Holding, HoldingPage, LiabilityChain,
                                              SanctionedPage, SanctionsAnswer, Subgraph)
from corpgraph.graph.identity.clusters import IdentityMap, build_identity, decide, resolve_ref
from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.projection.live import FRESH_WAIT, LiveState
from corpgraph.graph.projection.ready import ready_view
from corpgraph.graph.analytics.neighborhood import DEFAULT_MAX_NODES, neighborhood
from corpgraph.graph.projection.build import AsOfView, Projection, build_projection
from corpgraph.graph.identity.resolved import ResolvedStore
from corpgraph.graph.identity.resolve import matching
from corpgraph.graph.identity.resolve.candidates import CandidateSet
from corpgraph.graph.projection.snapshot import Snapshots
from corpgraph.graph.projection.view_arrays import is_ready, with_unsaved_parts
from corpgraph.graph.settings import get_settings
from corpgraph.graph.stores.base import GraphStore, Judgement, StoredRelation, Verdict
from corpgraph.graph.stores.record_cache import RecordCache
from corpgraph.graph.subgraph import build_subgraph

E = EntityType
R = RelationType
# Which kinds each question accepts, read from the declaration (schema/declaration.py), never restated.
_OWNED = endpoint_kinds((R.OWNS, "targets"))
_OWNERS = endpoint_kinds((R.OWNS, "sources"))
# Exposed: whoever an incident reaches through a channel (holdings, dependencies, data received, being hit).
_EXPOSED = endpoint_kinds((R.OWNS, "sources"), (R.DEPENDS_ON, "sources"), (R.SUPPLIED_DATA_TO, "targets"),
                          (R.AFFECTED, "targets"))
# Designated: whoever a Sanction can name, the parties a sanctions rule answers about.
_DESIGNATED = endpoint_kinds((R.SANCTION, "targets"))
_EMPTY = HoldingPage([], 0)  # the page of an entity that takes part in no relation
_log = logging.getLogger(__name__)
SNAPSHOT_EVERY = 60.0  # seconds between snapshots of states made by deltas (each save writes every array)
VIEW_WAIT = 120.0  # seconds a following worker waits for its builder's view of a day before building its own
_VIEW_POLL = 0.02  # seconds between its looks at the builder's publications


class RebuildHooks(Protocol):
    """What a process runs around each projection rebuild and each large answer (for a server: garbage-collector
    tuning)."""

    def before_rebuild(self, replacing: bool) -> None:
        """Before a build; `replacing` when a projection already serves."""
        ...

    def after_rebuild(self) -> None:
        """After a build."""
        ...

    def large_answer(self) -> AbstractContextManager[None]:
        """Around the making of a whole holdings or owners answer (up to 10^6 rows)."""
        ...


class Applied(str, Enum):
    """How the state queries read was made from the store's change."""

    DELTA = "delta"  # graph.projection.delta applied the change log to the previous state
    FULL = "full"  # built from the whole store
    MAPPED = "mapped"  # mapped from the snapshot another worker process published (graph.projection.snapshot)


@dataclass(frozen=True)
class BuildStatus:
    """How a state was built, and for a full build why the change log could not be applied."""

    applied: Applied = Applied.FULL
    why: str = ""

    def __str__(self) -> str:
        """`delta`, `mapped`, or `full: <why>` (what logs and benchmarks print)."""
        return f"full: {self.why}" if self.applied is Applied.FULL else self.applied.value


@dataclass(frozen=True)
class Analytic:
    """What analytics answer from: a projection and the identity it was merged by, swapped in together."""

    identity: IdentityMap
    projection: Projection
    how: BuildStatus = BuildStatus()

    @property
    def revision(self) -> int:
        """The store revision both were built from (the identity's: it was read first)."""
        return self.identity.revision


class CorpGraph:
    """Facade over a store with a projection kept up to date in the background; every query goes through here.

    Writes through this facade (`write`, `decide`) return once their change is visible to queries; writes by
    another process are picked up through the store's revision (graph.projection.live says how and when).
    With follow=True the facade never builds: each new state is the one another process (the builder worker
    of `corpgraph serve --workers N`) published in `snapshots`, mapped read-only and shared with it, or the
    previous one plus the change log. With apart=True (and snapshots) a full build runs in a child process
    (graph.projection.apart) whose snapshot is then mapped, so that it never holds this process's GIL.
    save_deltas=False: a state made by deltas is not saved now and then (SNAPSHOT_EVERY) by the build that made it;
    the builder worker of `corpgraph serve --workers N` publishes its states itself, once the writes pause
    (api.workers.Publisher), so no snapshot is written amid a burst of writes.
    """

    def __init__(self, store: GraphStore, rebuild_hooks: RebuildHooks | None = None,
                 fresh_wait: float = FRESH_WAIT, snapshots: Snapshots | None = None, follow: bool = False,
                 apart: bool = False, record_cache: int | None = None, save_deltas: bool = True) -> None:
        self.store = store
        self._hooks = rebuild_hooks  # the process decides (graph.gc_policy.FrozenProjections for a server)
        self.snapshots = snapshots  # where projections are saved and read back (graph.projection.snapshot; a server passes it)
        self._identity: IdentityMap | None = None
        self._identity_lock = threading.Lock()
        self._candidates: tuple[int, CandidateSet] | None = None  # the matcher's candidates of one revision
        self._candidates_lock = threading.Lock()
        # decoded records of the store's latest revision (graph.stores.record_cache); CORPGRAPH_RECORD_CACHE per kind
        self._records = RecordCache(get_settings().record_cache if record_cache is None else record_cache)
        self._impacts: tuple[Analytic, exposure_.Impacts] | None = None  # exposure's incident figures of one state
        self._impacts_lock = threading.Lock()
        self._solves: tuple[Analytic, Solves] | None = None  # the last owners/holdings solves of one state
        self._solves_lock = threading.Lock()
        self._apart = apart and snapshots is not None
        self._follows = follow
        self._published: tuple[int, frozenset[int]] = (-1, frozenset())  # the revision and views last published
        self._saved_at = time.monotonic()  # when a state made by a delta was last saved (a build saves its own)
        self._save_deltas = save_deltas
        if follow and snapshots is None:
            raise ValueError("a following facade needs the snapshots folder its builder publishes to")
        # through self: a forked benchmark child swaps self.store for its own connection
        self.live: LiveState[Analytic] = LiveState(self._follow if follow else self._build,
                                                   lambda: self.store.revision(), fresh_wait, self._replaced)

    # --- identity: one entity per identifier, users' decisions -------------------------------------------

    def identity(self) -> IdentityMap:
        """Which ids are one entity, as the store is now (rebuilt when store.revision() changed)."""
        return self._identity_at(self.store.revision())

    def _identity_at(self, revision: int) -> IdentityMap:
        """The identity of the store at `revision`, just read (built again when it is not the one held)."""
        with self._identity_lock:
            if self._identity is None or self._identity.revision != revision:
                self._identity = build_identity(self.store, revision)
            return self._identity

    def resolve(self, ref: str) -> str:
        """The canonical id of an entity id, or of `SCHEME:ID` (`LEI:5493...`) for one of its identifiers."""
        return resolve_ref(self.store, self.identity(), ref)

    def referents(self, id: str) -> list[str]:
        """The other ids of the entity (merged by a shared identifier or a decision); empty when none."""
        return self.identity().referents(id)

    def decide(self, a: str, b: str, verdict: Verdict | str, by: str) -> Judgement:
        """Record that two entities are the same (`same`) or must never be merged (`different`)."""
        made = decide(self.store, self.identity(), a, b, verdict, by)
        self.live.fresh_if_built()  # the next query sees the decision
        return made

    def merge(self, a: str, b: str, by: str) -> Judgement:
        """Record that a and b are the same entity (identity checks both exist and share a type)."""
        return self.decide(a, b, Verdict.SAME, by)

    def split(self, a: str, b: str, by: str) -> Judgement:
        """Record that a and b must never be merged (wins over identifiers and earlier merges)."""
        return self.decide(a, b, Verdict.DIFFERENT, by)

    def candidates(self, min_score: float = 0.0) -> CandidateSet:
        """Candidates between entities no decision has joined or kept apart, highest score first."""
        revision = self.store.revision()
        with self._candidates_lock:  # one computation per revision; concurrent callers wait rather than repeat it
            if self._candidates is None or self._candidates[0] != revision:
                self._candidates = (revision, matching.compute_candidates(self.store, self.identity()))
            found = self._candidates[1]
        return CandidateSet([c for c in found.candidates if c.score >= min_score], found.skipped_blocks)

    def accept_above(self, threshold: float, by: str) -> matching.Accepted:
        """Merge every candidate scoring at least `threshold` unless the merge would join conflicting facts."""
        return matching.accept_above(self.candidates(threshold), self.store, self.identity,
                                     lambda a, b: self.merge(a, b, by))

    def reader(self, analytic: Analytic | None = None, revision: int | None = None) -> ResolvedStore:
        """The store read through identity (merged entities, canonical ids): what every answer reads. Records by id
        come through the record cache of the store revision the request read (with an analytic state: `revision`,
        when given; without one: read now)."""
        if analytic is None:
            revision = self.store.revision()
            return ResolvedStore(self.store, self._identity_at(revision), None, self._records.at(revision, self.store))
        records = None if revision is None else self._records.at(revision, self.store)
        return ResolvedStore(self.store, analytic.identity, analytic.projection.statements, records)

    def entities(self, refs: Sequence[str]) -> dict[str, Entity]:
        """Merged entities by id or `SCHEME:ID`, keyed by the reference asked for (unknown ones are absent)."""
        reader = self.reader()
        found = reader.get_entities(refs)
        for ref in (r for r in refs if r not in found):
            try:
                found.update({ref: e for e in reader.get_entities([self.resolve(ref)]).values()})
            except NotFound:
                continue
        return found

    def entity_types(self, ids: Sequence[str]) -> dict[str, EntityType]:
        """Stored type per existing canonical id, without reading the records (through the record cache)."""
        return self.reader().entity_types(ids)

    def readable(self, refs: Sequence[str]) -> tuple[dict[str, Entity], list[str]]:
        """The entities of these references that exist and can be read, and what to say of the others: an id a
        stored relation points at but no entity has, or a record that cannot be read (UnreadableRecord)."""
        wanted = list(dict.fromkeys(refs))
        problems: list[str] = []
        unreadable: set[str] = set()
        try:
            found = self.entities(wanted)
        except UnreadableRecord:  # one of them is damaged: read them one by one to keep the others
            found = {}
            for ref in wanted:
                try:
                    found.update(self.entities([ref]))
                except UnreadableRecord as exc:
                    problems.append(str(exc))
                    unreadable.add(ref)
        problems += [f"a stored relation points at {ref!r}, which is not a stored entity; it was left out of this "
                     "answer; `corpgraph check` lists every such record"
                     for ref in wanted if ref not in found and ref not in unreadable]
        return found, problems

    def search(self, text: str, types: Sequence[EntityType] | None = None, limit: int = 10,
               topics: Sequence[str] | None = None) -> list[Entity]:
        """Entities whose name or alias contains the text (any script), each merged entity once; with topics,
        only those carrying any of them (graph.identity.topics)."""
        return self.reader().search(text, types, limit, topics)

    def neighborhood(self, ref: str, depth: int = 1, relation_types: Sequence[RelationType] | None = None,
                     max_nodes: int = DEFAULT_MAX_NODES) -> Subgraph:
        """Entities within `depth` relations of the entity (any of its ids or `SCHEME:ID`), merged by identity."""
        return neighborhood(self.reader(), self.resolve(ref), depth, relation_types, max_nodes=max_nodes)

    def build_failure(self) -> BaseException | None:
        """The error of the last projection build if it failed (the store could not be read whole), until one succeeds."""
        return self.live.last_failure

    def damage_near(self, ids: Iterable[str]) -> list[str]:
        """What to say of the damaged relations (left out of the projection) that touch any of these ids."""
        damaged = self.projection().damaged
        if not damaged:
            return []
        wanted = set(ids)
        return [d.message() for d in damaged if d.source in wanted or d.target in wanted]

    def projection(self) -> Projection:
        """The projection queries answer from now (the store's latest, or the previous one while it is built)."""
        return self.live.get().projection

    def _build(self) -> Analytic:
        """Identity and projection of the store as it is now (run by graph.projection.live's builder thread): the previous
        state plus the change log when graph.projection.delta can apply it, else a full build."""
        previous = self.live.current()
        why = "first build"
        identity: IdentityMap | None = None
        if previous is not None:
            advanced = self._advanced(previous)
            if isinstance(advanced, Analytic):
                self._snapshot_now_and_then(advanced)
                return advanced
            why = advanced
            _log.info("full projection rebuild: %s", why)
        elif self._snapshot_behind():  # only then is an identity needed before the build (a build apart makes its own)
            identity = build_identity(self.store)  # reads the revision first: a racing write makes another build
            self._keep_identity(identity)
            resumed = self._resumed(identity)
            if resumed is not None:
                return resumed
        if self._apart:
            return self._built_apart(previous, why)
        if identity is None:
            identity = build_identity(self.store)
            self._keep_identity(identity)
        projection = _rebuilt(self.store, identity, previous is not None, self._hooks, self.snapshots)
        _warm(projection, previous)
        return self._with_impacts(Analytic(identity, projection, BuildStatus(Applied.FULL, why)))

    def _replaced(self, old: Analytic, new: Analytic) -> None:
        """A new state serves: the caches of older states let go of them, and the old one's projection forgets its
        views once the last holder of the old state lets go of it (its memory is then freed at once).

        Its views refer back to it: a reference cycle, left to the collector's full collections, which come after
        many writes (they count objects; a state holds a few hundred, and 70-100 MB of its own at 1M companies).
        A query reads a state through this handle, kept while it runs: it never finds the views forgotten.
        """
        with self._solves_lock:
            if self._solves is not None and self._solves[0].revision < new.revision:
                self._solves = None
        with self._impacts_lock:
            if self._impacts is not None and self._impacts[0].revision < new.revision:
                self._impacts = None
        weakref.finalize(old, old.projection.forget_views)

    def _snapshot_now_and_then(self, state: Analytic) -> None:
        """Save a state made by a delta when the last save is SNAPSHOT_EVERY seconds old: a restart then
        catches up on few writes (delta.advance takes at most MAX_RELATIONS of them), not on a day's."""
        if not self._save_deltas or self.snapshots is None or time.monotonic() - self._saved_at < SNAPSHOT_EVERY:
            return
        self._saved_at = time.monotonic()
        self.snapshots.save_in_background(state.projection, identity=state.identity)  # with it: workers map it

    def _snapshot_behind(self) -> bool:
        """A snapshot of an older revision than the store's is saved: the change log may bring it up to date."""
        newest = None if self.snapshots is None else self.snapshots.newest()
        return newest is not None and newest < self.store.revision()

    def _resumed(self, identity: IdentityMap) -> Analytic | None:
        """A start from the snapshot of an older revision plus the change log since (graph.projection.delta), saved
        again at the new revision; None when there is none or the log cannot bring it up to date.

        Without this a process restarted after any write rebuilt from the whole store: deltas save no snapshot,
        so the newest one was always older than the store (at 200k companies, 27.8 s against 32.1 s without
        one). `identity` is the store's current one: a change of identity since the snapshot (a decision, an
        entity merged by a shared identifier) makes delta.advance refuse, and the caller builds in full.
        """
        if self.snapshots is None or identity.revision <= 0 or self.snapshots.newest() == identity.revision:
            return None  # a snapshot of this very revision is used as it is (_rebuilt, _built_apart)
        older = self.snapshots.latest(identity.revision - 1)
        if older is None:
            return None
        advanced = delta.advance(self.store, identity, older)
        if not isinstance(advanced, delta.Advanced):
            _log.info("the snapshot of revision %d is not used: %s", older.revision, advanced)
            return None
        self._keep_identity(advanced.identity)
        self.snapshots.save_in_background(advanced.projection, identity=advanced.identity)
        return Analytic(advanced.identity, advanced.projection, BuildStatus(Applied.DELTA))

    def _built_apart(self, previous: Analytic | None, why: str) -> Analytic:
        """A full build in a child process (graph.projection.apart), or the snapshot of this revision if saved,
        mapped here; the views queries asked of the previous state built before the swap."""
        assert self.snapshots is not None  # __init__ builds apart only with them
        revision = self.store.revision()
        # a snapshot of this revision (a restart): checked before it is trusted, as a loaded one is
        state = self._mapped(revision, checked=True) if self.snapshots.newest() == revision else None
        while state is None:  # None: a newer build pruned the child's file before it was mapped; build again
            state = self._mapped(build_apart(self.store.location(), self.snapshots))
        _warm(state.projection, previous)
        return self._with_impacts(Analytic(state.identity, state.projection, BuildStatus(Applied.FULL, why)))

    def _advanced(self, previous: Analytic) -> Analytic | str:
        """The previous state plus the store's change log (graph.projection.delta), or why it cannot be applied."""
        advanced = delta.advance(self.store, previous.identity, previous.projection)
        if not isinstance(advanced, delta.Advanced):
            return advanced
        self._keep_identity(advanced.identity)
        return Analytic(advanced.identity, advanced.projection, BuildStatus(Applied.DELTA))

    def _follow(self) -> Analytic:
        """The state of the store as it is now for a following facade (run by graph.projection.live's builder
        thread): the previous state (at first, the newest published one) plus the change log, as a builder would
        apply it; when the log cannot be applied, the state the builder process publishes for this revision or
        a later one, mapped, never a build here."""
        assert self.snapshots is not None  # __init__ refuses a following facade without them
        previous = self.live.current() or self._mapped(self.snapshots.newest())
        if previous is not None:
            if previous.revision == self.store.revision():
                return previous if self.live.current() else self._with_impacts(previous)  # first one: mapped now
            advanced = self._advanced(previous)
            if isinstance(advanced, Analytic):
                return advanced
        wanted = self.store.revision()
        while True:  # wait for the builder's publication (its full build) of this revision or a later one
            revision = self.snapshots.wait_for(wanted)
            state = self._mapped(revision)
            if state is not None:
                _warm(state.projection, previous)
                return self._with_impacts(state)
            wanted = revision + 1  # pruned meanwhile, or not a published snapshot: the next one

    def _mapped(self, revision: int | None, checked: bool = False) -> Analytic | None:
        """The state published for a revision, mapped (None when there is none, or it was pruned meanwhile)."""
        assert self.snapshots is not None
        # a follower takes the file's views as its queries ask for them (Snapshots.mapped): its deltas patch those alone
        found = None if revision is None else self.snapshots.mapped(revision, checked, views=not self._follows)
        if found is None:
            return None
        projection, identity = found
        self._keep_identity(identity)
        if self._follows:
            projection.published = self._published_view
        return Analytic(identity, projection, BuildStatus(Applied.MAPPED))

    def _published_view(self, projection: Projection, day: int) -> AsOfView | None:
        """The builder's ready view of a day for a following facade: asked for, then mapped from its snapshot once
        published (the pages shared with every worker); None when the builder has moved past this revision or
        takes longer than VIEW_WAIT (the caller then builds the view itself, as a single process does)."""
        assert self.snapshots is not None
        deadline = time.monotonic() + VIEW_WAIT
        seen: object = None
        while True:
            stamp = self.snapshots.stamp(projection.revision)
            view = self.snapshots.mapped_view(projection, day) if stamp != seen else None  # read a file once
            seen = stamp
            if view is not None or self._published_past(projection.revision) or time.monotonic() > deadline:
                return view
            self.snapshots.want(projection.revision, day)  # again each time: a builder still at an older state drops it
            budget.check()
            time.sleep(_VIEW_POLL)

    def _published_past(self, revision: int) -> bool:
        """The builder will not ready a view at this revision: it has published a newer one (or nothing), or it has
        not reached this one yet and the store has moved past it (an older newest with the store still at this
        revision means that the builder is catching up to it: it serves the ask once it has)."""
        assert self.snapshots is not None
        newest = self.snapshots.newest()
        return newest is None or newest > revision or (newest < revision and self.store.revision() > revision)

    def serve_wanted(self) -> bool:
        """For a builder process: ready the views of the days following workers asked for (Snapshots.want) in the
        current state; whether there were any (then `publish` carries them)."""
        state = self.live.current()
        if self.snapshots is None or state is None:
            return False
        asked = [day for revision, day in self.snapshots.wanted() if revision == state.revision]
        for day in asked:
            ready_view(state.projection, date(1970, 1, 1) + timedelta(days=day))
        return bool(asked)

    def publish(self) -> int | None:
        """Publish the current state's snapshot with its identity and its ready views for the following processes,
        unless it is published already with those views (a full build saves its own, without views: they are
        built after it); the revision published (None: nothing to publish)."""
        state = self.live.current()
        if self.snapshots is None or state is None:
            return None
        days = frozenset(day for day, view in state.projection.cached_views() if is_ready(view))
        on_file = self.snapshots.newest() == state.revision
        published = self._published[1] if on_file and self._published[0] == state.revision else frozenset()
        if (on_file or state.how.applied is Applied.FULL) and days <= published:
            return None
        self.snapshots.save(state.projection, state.identity, durable=False)
        self._published = (state.revision, days)
        built = dict(state.projection.cached_views())
        # this process reads its views from the file too: its pages are then shared, not private. A view published
        # before at this revision stays mapped from that file, which the followers that took it map too (mapped
        # again from the new file, the old file's pages of it were a follower's alone, counted in its USS)
        for day in days - published:
            view = self.snapshots.mapped_view(state.projection, day)
            if view is not None and day in built:  # with what the file does not carry: no query here builds it again
                state.projection.keep_view(with_unsaved_parts(view, built[day]))
        return state.revision

    def _keep_identity(self, identity: IdentityMap) -> None:
        """Remember a newer identity, so the plain reads (search, entities) need not build it again."""
        with self._identity_lock:
            if self._identity is None or self._identity.revision < identity.revision:
                self._identity = identity

    def owners(self, company: str, as_of: date | None = None, bounds: bool = True) -> list[Holding]:
        """Every owner with a direct or integrated share in the company, and its controllers, largest share first.

        bounds=False skips the solves at the ranges' minimums and maximums (integrated_min/max None).
        """
        found = self._solved(company, as_of, bounds, owner_side=True)
        return [] if found is None else self._answered(found)

    def holdings(self, owner: str, as_of: date | None = None, bounds: bool = True) -> list[Holding]:
        """Every company the owner holds a direct or integrated share in or controls, largest share first."""
        found = self._solved(owner, as_of, bounds, owner_side=False)
        return [] if found is None else self._answered(found)

    def _answered(self, found: ownership.Candidates) -> list[Holding]:
        """The whole answer of solved candidates, made under the process's hooks for large answers (a server pauses
        its collector: graph.gc_policy); a library process without hooks keeps its collector as it is."""
        with self._hooks.large_answer() if self._hooks is not None else nullcontext():
            return found.answer()

    def owners_page(self, company: str, as_of: date | None = None, first: int = 100,
                    after: str | None = None, bounds: bool = True) -> HoldingPage:
        """One page of owners (see owners) after the cursor `after`, with the count of all of them.

        Owners with no share (controllers through CONTROLS interests, declared holders) come with the first page.
        """
        found = self._solved(company, as_of, bounds, owner_side=True)
        return _EMPTY if found is None else _paged(found, first, after)

    def holdings_page(self, owner: str, as_of: date | None = None, first: int = 100,
                      after: str | None = None, bounds: bool = True) -> HoldingPage:
        """One page of holdings (see holdings) after the cursor `after`, with the count of all of them."""
        found = self._solved(owner, as_of, bounds, owner_side=False)
        return _EMPTY if found is None else _paged(found, first, after)

    def _solved(self, ref: str, as_of: date | None, bounds: bool, owner_side: bool) -> ownership.Candidates | None:
        """The owners (owner_side) or holdings of an entity as candidates, solved once for all pages of one state
        (graph.analytics.solves); None when it takes part in no relation."""
        view, node, analytic, _ = self._node_of(ref, _OWNED if owner_side else _OWNERS, as_of)
        if node is None:
            return None
        with self._solves_lock:
            if self._solves is None or self._solves[0] is not analytic:
                self._solves = (analytic, Solves())
            solves = self._solves[1]
        if owner_side:
            return solves.get(view, node, bounds, True, lambda: ownership.owner_candidates(view, node, bounds=bounds))
        return solves.get(view, node, bounds, False, lambda: ownership.holding_candidates(view, node, bounds))

    def ultimate_owners(self, company: str, as_of: date | None = None, threshold: float = 0.25) -> list[Holding]:
        """Owners with integrated >= threshold in the company that no other such owner controls or holds entirely."""
        view, node = self._node(company, _OWNED, as_of)
        return [] if node is None else ownership.ultimate_owners(view, node, threshold)

    def controlling_parent(self, company: str, as_of: date | None = None) -> str | None:
        """The ultimate controller of the company by the control rule (> 0.5 to a fixed point), or None."""
        view, node = self._node(company, _OWNED, as_of)
        parent = None if node is None else ownership.controlling_parent(view, node)
        return None if parent is None else view.projection.ids[parent]

    def declared_disagreements(self, as_of: date | None = None, after: str | None = None,
                               limit: int = 100) -> tuple[list[Disagreement], bool]:
        """Declared indirect shares and ultimate parents that disagree with the computed ones, by company id."""
        view = ready_view(self.projection(), as_of or date.today())
        return disagreements.disagreements(view, after, limit)

    def liability_chain(self, incident: str, as_of: date | None = None, max_depth: int = 6, min_share: float = 0.0,
                        min_hop_share: float = 0.0, top_k: int = 3, max_owners: int | None = None,
                        bounds: bool = True, paths: bool = True) -> LiabilityChain:
        """Responsible companies, their owners, data recipients and perpetrators of the incident.

        paths=False leaves out the explaining paths and the subgraph (the weights are the same).
        """
        day = as_of or date.today()
        view, node, _, reader = self._node_of(incident, (E.INCIDENT,), day)
        if node is None:
            id = self.resolve(incident)
            return LiabilityChain(id, day, [], build_subgraph(reader, [id], []))
        return liability.liability_chain(reader, view, node, day, max_depth, min_share, min_hop_share, top_k,
                                         max_owners, bounds, paths)

    def exposure(self, entity: str, as_of: date | None = None, channels: Sequence[Channel] | None = None,
                 max_depth: int = 6, top_k: int = 3, bounds: bool = True, paths: bool = True,
                 first: int | None = None, after: str | None = None) -> Exposure:
        """Incidents the entity is exposed to, per channel, with weighted impact totals.

        first/after: one page of the items, ranked by weight x impact (graph.analytics.exposure), after the
        `cursor` of an item received; totals and count are over every item. paths=False leaves out the
        explaining paths and the subgraph; with paths, only the page's items are explained.
        """
        found = self._exposed(entity, as_of, paths)
        if isinstance(found, Exposure):
            return found
        reader, view, node, day, impacts = found
        return exposure_.exposure(reader, view, node, day, channels, max_depth, top_k, bounds, paths, first, after,
                                  impacts)

    def exposure_pages(self, entity: str, as_of: date | None = None, channels: Sequence[Channel] | None = None,
                       max_depth: int = 6, top_k: int = 3, bounds: bool = True, paths: bool = True,
                       size: int = 1000) -> Iterator[Exposure]:
        """Every item of the exposure (see exposure) a page of `size` at a time, in rank order, each page as
        exposure(first=size, after=the last cursor of the page before) answers it (after a full last page, an
        empty one); one analytic state, searched and ranked once for every page (graph.analytics.exposure)."""
        found = self._exposed(entity, as_of, paths)
        if isinstance(found, Exposure):
            yield found
            return
        reader, view, node, day, impacts = found
        yield from exposure_.exposure_pages(reader, view, node, day, channels, max_depth, top_k, bounds, paths, size,
                                            impacts)

    def exposure_graphs(self, entity: str, as_of: date | None = None, channels: Sequence[Channel] | None = None,
                        max_depth: int = 6, top_k: int = 3, bounds: bool = True, size: int = 1000
                        ) -> Iterator[Subgraph]:
        """The subgraphs of exposure_pages' pages for an export, each without what an earlier page carried (their
        union is exposure's subgraph; graph.analytics.exposure.exposure_graphs). Each page is computed with the
        store's reads unmapped (GraphStore.unmapped_reads), in the thread that asks for it: an export's pages
        read most of the store's file once, and mapped pages would stay in this process's RSS."""
        with self.store.unmapped_reads():
            found = self._exposed(entity, as_of, True)
        if isinstance(found, Exposure):
            yield found.graph
            return
        reader, view, node, _, impacts = found
        graphs = exposure_.exposure_graphs(reader, view, node, channels, max_depth, top_k, bounds, size, impacts)
        while True:
            with self.store.unmapped_reads():  # not across the yield: the next page may run in another thread
                graph = next(graphs, None)
            if graph is None:
                return
            yield graph

    def _exposed(self, entity: str, as_of: date | None, paths: bool
                 ) -> Exposure | tuple[ResolvedStore, AsOfView, int, date, exposure_.Impacts]:
        """What an exposure is computed from (reader, view, node, date and the state's incident figures), or the
        empty answer of an entity that takes part in no relation."""
        day = as_of or date.today()
        view, node, analytic, reader = self._node_of(entity, _EXPOSED, day, whole=paths)  # its subgraph shows it
        if node is None:
            id = self.resolve(entity)
            return Exposure(id, day, [], {}, build_subgraph(reader, [id], []) if paths else Subgraph())
        return reader, view, node, day, self._impacts_of(analytic)

    def _impacts_of(self, analytic: Analytic) -> exposure_.Impacts:
        """The incident figures read for this analytic state (a new state starts an empty cache; a query still on
        an older state than the cached one gets one of its own, so the newer state's figures stay)."""
        with self._impacts_lock:
            held = self._impacts
            if held is not None and held[0] is analytic:
                return held[1]
            fresh = exposure_.Impacts(len(analytic.projection.ids))
            if held is None or held[0].revision <= analytic.revision:
                self._impacts = (analytic, fresh)
            return fresh

    def _with_impacts(self, state: Analytic) -> Analytic:
        """The state, with the figures of every incident exposure can reach read for it (Impacts.every) before it
        is served: a state built in full or mapped, whose first exposure call would otherwise read them."""
        impacts = exposure_.Impacts.every(self.reader(state), state.projection)
        with self._impacts_lock:
            self._impacts = (state, impacts)
        return state

    def sanctions_status(self, entity: str, regime: str, as_of: date | None = None) -> SanctionsAnswer:
        """The entity's status under a regime's ownership-and-control rule (docs/sanctions.md), with the evidence."""
        day = as_of or date.today()
        view, node, _, reader = self._node_of(entity, _DESIGNATED, day)
        id = self.resolve(entity) if node is None else view.projection.ids[node]
        return sanctions_evidence.sanctions_status(reader, view, node, id, regime, day)

    def designations(self, entity: str, as_of: date | None = None, regime: str | None = None) -> list[Designation]:
        """The entity's designations in force at the date, of one regime or of all (LISTED under any regime)."""
        view, node, _, reader = self._node_of(entity, _DESIGNATED, as_of or date.today())
        return sanctions_evidence.designations_of(reader, view, node, regime)

    def sanctioned_by_ownership(self, regime: str, as_of: date | None = None, first: int = 100,
                                after: str | None = None) -> SanctionedPage:
        """Every entity a regime's rule blocks (or may block) without a listing of its own, a page at a time."""
        return sanctions.sanctioned(ready_view(self.projection(), as_of or date.today()), regime, first, after)

    def relations(self, ids: Sequence[str]) -> dict[str, StoredRelation]:
        """Relation records by relation id, as stored (missing ids are absent)."""
        return self.store.get_relations(ids)

    def companies(self, first: int, after: str | None = None) -> browse.Page:
        """Companies ordered by id, a page at a time."""
        return browse.companies(self.reader(), first, after)

    def incidents(self, category: IncidentCategory | None = None, from_: date | None = None, to: date | None = None,
                  first: int = 20, after: str | None = None) -> browse.Page:
        """Incidents ordered by id, optionally of one category and within dates (inclusive)."""
        return browse.incidents(self.reader(), category, from_, to, first, after)

    def write(self, batch: Batch) -> WriteSummary:
        """Check a validated batch's references and write it in one transaction; returns once queries see it."""
        summary = ingest(self.store, batch)
        self.live.fresh_if_built()
        return summary

    def revision(self) -> int:
        """The store's revision (changes with every committed write)."""
        return self.store.revision()

    def _node(self, ref: str, kinds: tuple[EntityType, ...], as_of: date | None) -> tuple[AsOfView, int | None]:
        """The view at as_of and the node index of ref's entity (None: it exists but takes part in no relation)."""
        view, node, _, _ = self._node_of(ref, kinds, as_of)
        return view, node

    def _node_of(self, ref: str, kinds: tuple[EntityType, ...], as_of: date | None, whole: bool = False
                 ) -> tuple[AsOfView, int | None, Analytic, ResolvedStore]:
        """As _node, with the analytic state answered from (its identity resolves ref, as its projection merged) and
        the reader of the answer (records of the revision read here, one read of the store's revision a request).

        whole: the answer shows ref's record anyway (a subgraph), so its type is read with the whole record, which
        the request's record cache then keeps: one store read instead of a type read now and a record read later.
        """
        revision = self.store.revision()
        analytic = self.live.at(revision)
        reader = self.reader(analytic, revision)
        found = _type_of(reader, ref, whole)
        id = ref
        if found is None or analytic.identity.canonical(ref) != ref:  # else one read told both id and type
            try:
                id = resolve_ref(self.store, analytic.identity, ref)
            except NotFound:
                id = ref  # the message below says which kind of entity was looked for
            found = reader.entity_types([id]).get(id)
        if found not in kinds:
            wanted = " or ".join(k.value for k in kinds)
            also = f" (it is a {found.value})" if found else ""
            raise NotFound(f"no {wanted} with id {id!r}{also}; search for the entity to find its id")
        proj = analytic.projection
        return ready_view(proj, as_of or date.today()), proj.index.get(id), analytic, reader


def _type_of(reader: ResolvedStore, ref: str, whole: bool) -> EntityType | None:
    """The stored type of ref, read alone or (whole, through the request's record cache) with its whole record."""
    if not whole or reader.records is reader.store:  # no record cache: nothing would keep the record for later
        return reader.entity_types([ref]).get(ref)
    record = reader.records.get_entities([ref]).get(ref)
    return None if record is None else EntityType(record.type)  # type: ignore[attr-defined]


def _paged(candidates: ownership.Candidates, first: int, after: str | None) -> HoldingPage:
    """A page of share holders, and on the first page the few pairs with no share (they have no rank to page by)."""
    found = pages.page(candidates, first, after)
    extra = candidates.without_shares()
    if after is None and extra:
        return HoldingPage(found.items + extra, found.count + len(extra))
    return HoldingPage(found.items, found.count + len(extra))


def _warm(projection: Projection, previous: Analytic | None) -> None:
    """Build the views of the dates queries asked of the previous state, so the first query after the swap
    does not: with each view's lazy parts (graph.projection.ready; its control relation alone cost the first
    liability chain after a rebuild 2.7 s at 1M companies)."""
    if previous is not None:
        for day in previous.projection.cached_days():
            ready_view(projection, day)


def _rebuilt(store: GraphStore, identity: IdentityMap, replacing: bool, hooks: RebuildHooks | None,
             snapshots: Snapshots | None = None) -> Projection:
    """Read the snapshot of identity's revision or build a projection (then snapshot it in the background),
    with the process's rebuild hooks around it (graph.gc_policy for a server)."""
    if hooks is not None:
        hooks.before_rebuild(replacing)
    try:
        projection = snapshots.load(identity.revision) if snapshots is not None else None
        if projection is None:
            projection = build_projection(store, identity)
            # only a projection merged by the identity of its own revision is what a build at that revision gives
            if snapshots is not None and projection.revision == identity.revision:
                snapshots.save_in_background(projection, identity=identity)
    finally:  # a failed build must not leave the process's collector paused
        if hooks is not None:
            hooks.after_rebuild()
    return projection
