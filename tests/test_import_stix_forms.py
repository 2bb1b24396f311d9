"""STIX as people hold it (issue 20, item 11): a bundle, a bare array, a TAXII 2.1 envelope, JSON Lines.

Each form is detected from its content and gives the same records. The hand-made objects below: incident I
is attributed to intrusion set S, which is attributed to threat actor T (the stated chain), and it impacts
the organisation V (a company: the victim whose systems were compromised, so its operator, RESPONSIBLE_FOR I)
and targets the individual P (affected, never responsible: only companies answer for incidents).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from corpgraph.graph.write.ingest import ingest
from corpgraph.graph.stores.sqlite import SqliteStore
from corpgraph.loaders.detect import detect
from corpgraph.loaders.validate import load_file
from corpgraph.schema.kinds import RelationType

REAL = Path("/work/shared/realdata/stix/incident_pii_report.json")
T = "2020-01-01T00:00:00.000Z"
I, S, A = "incident--11111111-1111-4111-8111-111111111111", "intrusion-set--22222222-2222-4222-8222-222222222222", \
    "threat-actor--33333333-3333-4333-8333-333333333333"
V, P = "identity--44444444-4444-4444-8444-444444444444", "identity--55555555-5555-4555-8555-555555555555"


def obj(id: str, **fields: Any) -> dict[str, Any]:
    """A STIX object with its common properties."""
    return {"type": id.split("--")[0], "spec_version": "2.1", "id": id, "created": T, "modified": T, **fields}


def rel(n: int, kind: str, source: str, target: str) -> dict[str, Any]:
    """A STIX relationship."""
    return obj(f"relationship--{n:08d}-0000-4000-8000-000000000000", relationship_type=kind, source_ref=source,
               target_ref=target)


OBJECTS = [obj(I, name="Breach"), obj(S, name="Set S"), obj(A, name="Actor T"),
           obj(V, name="Victim Ltd", identity_class="organization"), obj(P, name="Pat", identity_class="individual"),
           rel(1, "attributed-to", I, S), rel(2, "attributed-to", S, A), rel(3, "impacts", I, V), rel(4, "targets", I, P)]
FORMS = {
    "bundle": lambda objects: json.dumps({"type": "bundle", "id": "bundle--x", "objects": objects}),
    "bare array": lambda objects: json.dumps(objects, indent=1),
    "taxii envelope": lambda objects: json.dumps({"more": False, "objects": objects}),
    "json lines": lambda objects: "".join(json.dumps(o) + "\n" for o in objects),
}


def write(tmp_path: Path, form: str, objects: list[dict[str, Any]]) -> Path:
    """The objects written in one of the four forms, under a name that tells nothing."""
    path = tmp_path / "objects.txt"
    path.write_text(FORMS[form](objects), encoding="utf-8")
    return path


def pairs(store: SqliteStore, type: RelationType) -> set[tuple[str, str]]:
    """(source, target) of the stored relations of one type around the incident."""
    return {(r.record.source.removeprefix("stix:"), r.record.target.removeprefix("stix:"))
            for r in store.relations_touching([f"stix:{I}"], [type])}


@pytest.mark.parametrize("form", list(FORMS))
def test_each_form_is_detected_and_keeps_attribution_and_the_operator(form: str, tmp_path: Path,
                                                                      tmp_store: SqliteStore) -> None:
    path = write(tmp_path, form, OBJECTS)
    assert detect(path).name == "stix"
    ingest(tmp_store, load_file(path))
    assert pairs(tmp_store, RelationType.PERPETRATED) == {(S, I), (A, I)}
    assert pairs(tmp_store, RelationType.AFFECTED) == {(I, V), (I, P)}
    assert pairs(tmp_store, RelationType.RESPONSIBLE_FOR) == {(V, I)}
    (responsible,) = tmp_store.relations_touching([f"stix:{I}"], [RelationType.RESPONSIBLE_FOR])
    assert responsible.record.role == "operator"  # type: ignore[attr-defined]


def test_json_lines_problems_name_the_line(tmp_path: Path) -> None:
    from corpgraph.schema.errors import InvalidInput
    broken = [*OBJECTS[:5], {"type": "relationship", "id": "relationship--00000009-0000-4000-8000-000000000000",
                             "relationship_type": "targets"}]
    path = write(tmp_path, "json lines", broken)
    with pytest.raises(InvalidInput) as info:
        load_file(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:6: source_ref: a relationship needs `source_ref` and `target_ref`"]


@pytest.mark.parametrize("form", ["bare array", "taxii envelope", "json lines"])
def test_the_real_incident_core_example_loads_in_every_form(form: str, tmp_path: Path,
                                                             tmp_store: SqliteStore) -> None:
    if not REAL.is_file():
        pytest.fail(f"the shared sample {REAL} is missing")
    objects = json.loads(REAL.read_text(encoding="utf-8"))["objects"]
    path = write(tmp_path, form, objects)
    assert detect(path).name == "stix"
    ingest(tmp_store, load_file(path))
    incident = "stix:incident--63c6e23e-7994-4536-acad-4309a7069540"
    assert tmp_store.get_entities([incident])[incident].name == "Sample PII Incident"
    # two individuals and the law enforcement agency (an organisation: a Company, as identities are mapped)
    assert tmp_store.counts()["Person"] == 2
