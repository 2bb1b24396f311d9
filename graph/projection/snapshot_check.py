"""What a projection snapshot must satisfy before its arrays are trusted (graph.projection.snapshot loads only what passes).

Each array's CRC-32 only shows that the zip was not damaged in transit; a file re-saved with valid CRCs (by
hand, by a tool, by a bug) can still hold anything. So the loader checks, before assembling a projection:
- the manifest's structure (every key, of its type);
- every array the format needs, of its dtype kind and shape;
- index ranges: node indices below the node count, edge indices below the edge count, sorted where the
  reader bisects them, codes below the size of the table they index (relation types, kinds, keys);
- values: shares and share bounds finite within [0, 1] (NaN is an unknown share);
- a digest of every array's bytes, written in the manifest: a column altered and re-saved (shares halved)
  no longer matches it.
Any failure raises SnapshotInvalid naming the first broken invariant; the loader then discards the file.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from corpgraph.schema.declaration import ANALYTIC_RELATIONS

from corpgraph.graph.projection.view_arrays import names

COLUMNS = ("type", "src", "dst", "bounded", "bound_min", "bound_max", "bound_open")
CODED = ("share", "valid_from", "valid_to")  # coded columns (graph.projection.coded_column): `.codes` and `.table`
_OTHERS = ("incident.at", "incident.values", "kind.at", "kind.values", "rel.keyed", "rel.key_codes", "rel.whole",
           "rel.whole_buffer", "rel.whole_offsets")
# manifest key -> the Python type its value must have
_MANIFEST = {"format": int, "instance": str, "revision": int, "nodes": int, "edges": int, "groups": int,
             "extra": list, "kinds": list, "keys": list, "statements": dict, "digest": str, "views": list}


class SnapshotInvalid(ValueError):
    """A snapshot file breaks an invariant of the format (it is discarded and the projection rebuilt)."""


def digest(arrays: Mapping[str, np.ndarray]) -> str:
    """A digest of every array but the manifest: names, dtypes, shapes and bytes, in name order."""
    h = hashlib.blake2b(digest_size=16)
    for name in sorted(k for k in arrays if k != "manifest"):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def manifest_of(arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The manifest of a snapshot's arrays, its structure checked."""
    raw = arrays.get("manifest")
    _require(raw is not None and raw.ndim == 1 and raw.dtype == np.uint8, "no manifest")
    try:
        manifest = json.loads(raw.tobytes().decode("utf-8"))  # type: ignore[union-attr]
    except (UnicodeDecodeError, ValueError) as exc:
        raise SnapshotInvalid(f"the manifest is not JSON: {exc}") from None
    _require(isinstance(manifest, dict), "the manifest is not an object")
    for key, kind in _MANIFEST.items():
        value = manifest.get(key)
        _require(isinstance(value, kind) and not isinstance(value, bool), f"manifest {key!r} is not a {kind.__name__}")
    for key in ("nodes", "edges", "groups", "revision"):
        _require(manifest[key] >= 0, f"manifest {key!r} is negative")
    for key in ("extra", "kinds", "keys"):
        _require(all(isinstance(v, str) for v in manifest[key]), f"manifest {key!r} holds a non-string")
    _check_statements(manifest["statements"])
    damaged = manifest.get("damaged", [])  # optional: the rows the build left out (graph.projection.build)
    _require(isinstance(damaged, list) and all(isinstance(d, list) and len(d) == 4 and all(isinstance(v, str) for v in d)
                                               for d in damaged), "manifest 'damaged' is not a list of 4 texts each")
    checked: dict[str, Any] = manifest
    return checked


def check_arrays(arrays: Mapping[str, np.ndarray], manifest: dict[str, Any]) -> None:
    """Every invariant of the arrays against the manifest (which manifest_of checked); SnapshotInvalid if one fails."""
    m, n = manifest["edges"], manifest["nodes"]
    groups = [f"ids.{k}" for k in range(manifest["groups"])]
    coded = [f"{name}.{part}" for name in CODED for part in ("codes", "table")]
    for name in (*COLUMNS, *coded, *_OTHERS, *groups):
        _require(name in arrays and arrays[name].ndim == 1, f"array {name!r} is missing or not one-dimensional")
    _require(digest(arrays) == manifest["digest"], "the arrays do not match the manifest's digest")
    for name in groups:
        _require(arrays[name].dtype.kind == "S", f"array {name!r} does not hold ids")
    _require(sum(arrays[g].size for g in groups) + len(manifest["extra"]) == n, "the ids do not number the nodes")
    for name in ("type", "src", "dst", *(f"{name}.codes" for name in CODED)):
        _require(arrays[name].shape == (m,), f"column {name!r} does not have one value per edge")
    _codes(arrays, "type", len(ANALYTIC_RELATIONS))
    _codes(arrays, "src", n)
    _codes(arrays, "dst", n)
    for name in CODED:
        _codes(arrays, f"{name}.codes", arrays[f"{name}.table"].size)
    for name in ("valid_from", "valid_to"):
        _require(arrays[f"{name}.table"].dtype.kind == "i", f"column {name!r} is not integer days")
    _shares(arrays, "share.table")
    _positions(arrays, "bounded", m)
    for name in ("bound_min", "bound_max", "bound_open"):
        _require(arrays[name].shape == arrays["bounded"].shape, f"{name!r} does not match 'bounded'")
    _shares(arrays, "bound_min")
    _shares(arrays, "bound_max")
    _require(arrays["bound_open"].dtype.kind == "b", "array 'bound_open' is not true/false")
    _sparse(arrays, "incident", m, n)
    _sparse(arrays, "kind", m, len(manifest["kinds"]))
    _positions(arrays, "rel.keyed", m)
    _require(arrays["rel.key_codes"].shape == arrays["rel.keyed"].shape, "'rel.key_codes' does not match 'rel.keyed'")
    _codes(arrays, "rel.key_codes", len(manifest["keys"]))
    _positions(arrays, "rel.whole", m)
    offsets, buffer = arrays["rel.whole_offsets"], arrays["rel.whole_buffer"]
    _require(offsets.dtype.kind == "i" and offsets.size == arrays["rel.whole"].size + 1 and offsets[0] == 0
             and bool(np.all(np.diff(offsets) >= 0)) and offsets[-1] == buffer.size,
             "'rel.whole_offsets' do not cut 'rel.whole_buffer'")
    for day in manifest["views"]:
        _require(isinstance(day, int) and not isinstance(day, bool), "manifest 'views' holds a non-integer day")
        _check_view(arrays, f"view.{day}.", m, n)


def _check_view(arrays: Mapping[str, np.ndarray], prefix: str, m: int, n: int) -> None:
    """A saved view's arrays (graph.projection.view_arrays): present, compressed rows that cut their entries,
    indices within the nodes or edges they index, shares within [0, 1]."""
    for name in names(prefix):
        _require(name in arrays and arrays[name].ndim == 1, f"array {name!r} is missing or not one-dimensional")
    _require(arrays[prefix + "valid"].shape == ((m + 7) >> 3,) and arrays[prefix + "valid"].dtype == np.uint8,
             f"{prefix}valid is not one bit an edge")
    rows = {"down": ("indptr", "edge", m), "up": ("indptr", "edge", m), "W": ("indptr", "indices", n)}
    rows.update({"control.col": ("ptr", "idx", n)})
    for part, (ptr, entries, bound) in rows.items():
        sep = "_" if part.startswith("control") else "."
        indptr, name = arrays[f"{prefix}{part}{sep}{ptr}"], f"{prefix}{part}{sep}{entries}"
        _require(indptr.dtype.kind in "iu" and indptr.size == n + 1 and (indptr.size == 0 or indptr[0] == 0)
                 and bool(np.all(np.diff(indptr) >= 0)) and indptr[-1] == arrays[name].size,
                 f"the rows of {prefix}{part} do not cut its entries")
        _codes(arrays, name, bound)
    _shares(arrays, prefix + "W.data")
    _require(arrays[prefix + "W.data"].size == arrays[prefix + "W.indices"].size, f"{prefix}W.data is not one share an entry")
    controls = arrays[prefix + "control.controls"]
    _require(controls.dtype == np.uint8 and controls.size == (n + 7) >> 3, f"{prefix}control.controls is not one bit a node")
    _require(arrays[prefix + "components.labels"].size == n, f"{prefix}components.labels is not one value a node")
    for name in ("components.labels", "components.cyclic_ranks", "components.cyclic_nodes"):
        _codes(arrays, prefix + name, n)
    _require(bool(np.all(np.diff(arrays[prefix + "components.cyclic_ranks"]) > 0)),
             f"{prefix}components.cyclic_ranks is not strictly increasing")
    _require(arrays[prefix + "components.cyclic_nodes"].size == arrays[prefix + "components.cyclic_ranks"].size,
             f"{prefix}components.cyclic_nodes is not one node a cyclic rank")
    for name in ("unknown_src", "unknown_dst", "over_allocated", "ranged_src", "ranged_dst"):
        _codes(arrays, prefix + name, n)
    for name in ("midpoints.edge", "overlaps.edge", "overlaps.edges"):
        _codes(arrays, prefix + name, m)


def _check_statements(saved: dict[str, Any]) -> None:
    """The merged statements' structure: groups of id lists, merged_into an id map, disputed a list of ids."""
    groups, merged, disputed = saved.get("groups"), saved.get("merged_into"), saved.get("disputed")
    _require(isinstance(groups, dict) and all(isinstance(v, list) for v in groups.values()),
             "manifest statements 'groups' is not a map of lists")
    _require(isinstance(merged, dict) and all(isinstance(v, str) for v in merged.values()),
             "manifest statements 'merged_into' is not a map of ids")
    _require(isinstance(disputed, list), "manifest statements 'disputed' is not a list")


def _codes(arrays: Mapping[str, np.ndarray], name: str, bound: int, missing: bool = False) -> None:
    """An integer array of indices into a table of `bound` entries (missing: -1 stands for none)."""
    a = arrays[name]
    _require(a.dtype.kind in "iu", f"array {name!r} is not integer")
    _require(a.size == 0 or (int(a.min()) >= -int(missing) and int(a.max()) < bound), f"array {name!r} indexes past its table")


def _positions(arrays: Mapping[str, np.ndarray], name: str, m: int) -> None:
    """Strictly increasing edge positions (readers bisect them)."""
    _codes(arrays, name, m)
    _require(bool(np.all(np.diff(arrays[name]) > 0)), f"array {name!r} is not strictly increasing")


def _sparse(arrays: Mapping[str, np.ndarray], name: str, m: int, bound: int) -> None:
    """A sparse column: sorted edge positions and, for each, an index into a table of `bound` entries."""
    _positions(arrays, f"{name}.at", m)
    _require(arrays[f"{name}.values"].shape == arrays[f"{name}.at"].shape, f"'{name}.values' does not match '{name}.at'")
    _codes(arrays, f"{name}.values", bound)


def _shares(arrays: Mapping[str, np.ndarray], name: str) -> None:
    """Floats within [0, 1], or NaN (an unknown share)."""
    a = arrays[name]
    _require(a.dtype.kind == "f", f"array {name!r} is not floating point")
    known = a[~np.isnan(a)]
    _require(bool(np.all((known >= 0) & (known <= 1))), f"array {name!r} holds a share outside [0, 1]")


def _require(condition: bool, broken: str) -> None:
    """Raise SnapshotInvalid saying which invariant broke."""
    if not condition:
        raise SnapshotInvalid(broken)
