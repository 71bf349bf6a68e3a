"""Compact readings in, numpy columns out (no Django).

A reading is ``(device code, ts, value)``: ``ts`` in epoch seconds UTC, ``value``
a float (a cumulative counter for meters, the measured value for sensors).
Three wire forms decode to one :class:`Batch`:

* JSON — the compact columnar object ``{"d": [...], "t": [...], "v": [...]}``
  (the fast path: one orjson parse, three numpy conversions) or JSON lines of
  ``{"d": .., "t": .., "v": ..}``; ``t`` may also be an ISO-8601 string with an offset;
* CSV with the header ``device,ts,value``;
* Apache Arrow IPC (stream or file) with columns ``device`` (string or
  dictionary<string>), ``ts`` (int64 seconds or timestamp) and ``value`` (float).

A row that cannot be read at all (no device code, no usable timestamp, a broken
line) is left out of the arrays and listed in ``Batch.errors`` as
``(row, field, reason)``; ``Batch.row`` maps every kept row back to its input row.
A value that is present but not a number stays in the batch as NaN: the detector
bank rejects it as NOT_NUMERIC, so it reaches the rejects log with its device.
A payload that is not one of these forms at all raises :class:`CodecError`.
"""

from __future__ import annotations

import io
import math
from datetime import datetime

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

# uint32 seconds in the detector state: readings must fall in (1970, 2106)
TS_MIN, TS_MAX = 1, 2**32 - 1


class CodecError(ValueError):
    """The payload as a whole is unreadable; the message names the field and the rule."""


class Batch:
    """Columns of readings.  ``device`` is materialised lazily from a dictionary when
    the source was dictionary-encoded (``dictionary[codes]``), so a pre-mapped
    Arrow sweep never builds millions of Python strings."""

    __slots__ = ("_device", "_arrow", "ts", "value", "errors", "row", "dictionary", "codes")

    def __init__(self, device, ts, value, errors=None, row=None, *, dictionary=None, codes=None, arrow=None):
        self._device = device
        self._arrow = arrow  # the device codes as an Arrow string array, when decoded from Arrow
        self.ts = np.asarray(ts, dtype=np.int64)
        self.value = np.asarray(value, dtype=np.float64)
        self.errors: list[tuple[int, str, str]] = list(errors or [])
        self.row = np.arange(len(self.ts), dtype=np.int64) if row is None else np.asarray(row, np.int64)
        self.dictionary = dictionary  # pa.StringArray when the device column was dictionary-encoded
        self.codes = codes  # int32 positions into ``dictionary``, one per row

    @property
    def device(self) -> np.ndarray:
        if self._device is None:
            if self._arrow is not None:
                self._device = self._arrow.to_numpy(zero_copy_only=False)
            else:
                self._device = self.dictionary.to_numpy(zero_copy_only=False)[self.codes]
        return self._device

    def device_arrow(self) -> pa.Array:
        """The device codes as an Arrow string array (what :class:`DeviceIndex` looks up)."""
        if self._arrow is not None:
            return self._arrow
        if self._device is None:
            return self.dictionary.take(pa.array(self.codes))
        return pa.array(self._device, type=pa.string())

    def __len__(self) -> int:
        return len(self.ts)

    def __repr__(self) -> str:
        return f"Batch({len(self)} readings, {len(self.errors)} unreadable rows)"


# ---------------------------------------------------------------- helpers
def _ts_of(t) -> tuple[int | None, str]:
    """One timestamp → (epoch seconds, '') or (None, reason)."""
    if isinstance(t, bool) or t is None:
        return None, "timestamp missing or not a number/ISO-8601 string"
    if isinstance(t, (int, float)):
        if isinstance(t, float) and not math.isfinite(t):
            return None, "timestamp must be finite"
        s = int(t)
    elif isinstance(t, str):
        try:
            d = datetime.fromisoformat(t.strip())
        except ValueError:
            return None, "not an ISO-8601 timestamp"
        if d.tzinfo is None:
            return None, "ISO-8601 timestamp needs a UTC offset (e.g. Z or +08:00)"
        s = int(d.timestamp())
    else:
        return None, "timestamp must be epoch seconds or an ISO-8601 string"
    if not TS_MIN <= s <= TS_MAX:
        if 1e12 <= s < 1e15:
            return None, "timestamp looks like milliseconds; send epoch seconds"
        return None, "timestamp out of range (epoch seconds 1970-2106)"
    return s, ""


def _num(v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return math.nan
    return float(v)


def _assemble(dev: list, ts: list, val: list, n_rows: int, errors: list) -> Batch:
    """Row-wise fallback shared by the JSON paths: validate every row."""
    keep_d, keep_t, keep_v, keep_r = [], [], [], []
    for r in range(n_rows):
        d = dev[r]
        if not isinstance(d, str) or not d:
            errors.append((r, "d", "device code must be a non-empty string"))
            continue
        s, why = _ts_of(ts[r])
        if s is None:
            errors.append((r, "t", why))
            continue
        keep_d.append(d), keep_t.append(s), keep_v.append(_num(val[r])), keep_r.append(r)
    device = np.array(keep_d, dtype=object)
    return Batch(device, np.array(keep_t, np.int64), np.array(keep_v, np.float64), errors, keep_r)


# ---------------------------------------------------------------- JSON
def decode_json(data: bytes) -> Batch:
    """Compact columnar JSON (fast path) or JSON lines → Batch."""
    head = data.lstrip()[:1]
    if head != b"{":
        raise CodecError('body: expected a JSON object {"d","t","v"} or JSON lines of such objects')
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return _decode_json_lines(data)
    if isinstance(obj, dict) and isinstance(obj.get("d"), list):
        return _decode_columnar(obj)
    return _decode_json_lines(data)


def decode_columns(d: list, t: list, v: list) -> Batch:
    """Three equally long lists (device codes, timestamps, values) → Batch, with the JSON form's checks
    (the MQTT worker's single readings, gathered from many messages)."""
    return _decode_columnar({"d": d, "t": t, "v": v})


def _decode_columnar(obj: dict) -> Batch:
    d, t, v = obj.get("d"), obj.get("t"), obj.get("v")
    for name, col in (("t", t), ("v", v)):
        if not isinstance(col, list):
            raise CodecError(f'{name}: the columnar form needs a list under "{name}"')
        if len(col) != len(d):
            raise CodecError(f'{name}: {len(col)} entries but "d" has {len(d)}; columns must be equally long')
    n = len(d)
    # fast path: every code a non-empty str, every ts an int in range, every value a JSON number.
    # The codes go straight from the list into an Arrow string array (C speed; what
    # DeviceIndex.lookup reads); a Python object array is only built if someone asks for it.
    try:
        dev = pa.array(d, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        dev = None
    if dev is not None and (dev.null_count or (n and pc.min(pc.utf8_length(dev)).as_py() == 0)):
        dev = None
    if dev is not None:
        ts = np.array(t)
        val = np.array(v)
        if (
            ts.dtype.kind == "i"
            and (n == 0 or (ts.min() >= TS_MIN and ts.max() <= TS_MAX))
            and val.dtype.kind in "if"
        ):
            return Batch(None, ts.astype(np.int64, copy=False), val.astype(np.float64, copy=False), arrow=dev)
    return _assemble(d, t, v, n, [])


def _decode_json_lines(data: bytes) -> Batch:
    dev, ts, val, rows, errors = [], [], [], [], []
    r = -1
    for line in data.splitlines():
        if not line.strip():
            continue
        r += 1
        try:
            o = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            errors.append((r, "line", f"not valid JSON ({e.msg})"))
            continue
        if not isinstance(o, dict):
            errors.append((r, "line", "each line must be a JSON object with d, t, v"))
            continue
        dev.append(o.get("d")), ts.append(o.get("t")), val.append(o.get("v")), rows.append(r)
    b = _assemble(dev, ts, val, len(dev), [])
    # map the assembler's positions back to line numbers
    rows_a = np.array(rows, dtype=np.int64)
    errors += [(int(rows_a[i]), f, why) for i, f, why in b.errors]
    return Batch(b.device, b.ts, b.value, sorted(errors), rows_a[b.row] if len(rows_a) else b.row)


def encode_json(batch: Batch, *, lines: bool = False) -> bytes:
    """The compact columnar form (or JSON lines) of a batch."""
    d, t, v = batch.device.tolist(), batch.ts.tolist(), [None if x != x else x for x in batch.value.tolist()]
    if lines:
        return (
            b"\n".join(orjson.dumps({"d": a, "t": b, "v": c}) for a, b, c in zip(d, t, v, strict=False))
            + b"\n"
        )
    return orjson.dumps({"d": d, "t": t, "v": v})


# ---------------------------------------------------------------- CSV
_FLOAT_RE = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"
_INT_RE = r"^\s*\d+\s*$"


def decode_csv(data: bytes) -> Batch:
    """``device,ts,value`` CSV → Batch; rows with a wrong number of fields are reported."""
    bad: list[int] = []

    def on_invalid(row):
        bad.append(row.number)
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={"device": pa.string(), "ts": pa.string(), "value": pa.string()},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as e:
        raise CodecError(f"body: not readable as CSV ({e})") from None
    missing = [c for c in ("device", "ts", "value") if c not in table.column_names]
    if missing:
        raise CodecError(f"header: missing column(s) {', '.join(missing)}; expected device,ts,value")
    # row numbers: pyarrow counts lines from 1 with the header as line 1
    bad_rows = sorted(b - 2 for b in bad if b is not None)
    n_total = table.num_rows + len(bad_rows)
    keep = np.ones(n_total, bool)
    keep[bad_rows] = False
    row = np.flatnonzero(keep)
    errors = [(r, "row", "expected 3 fields: device,ts,value") for r in bad_rows]

    dev = pc.utf8_trim_whitespace(table.column("device").combine_chunks())
    ts_s = table.column("ts").combine_chunks()
    val_s = table.column("value").combine_chunks()
    is_int = pc.match_substring_regex(ts_s, _INT_RE).to_numpy(zero_copy_only=False)
    ts = np.zeros(len(ts_s), np.int64)
    ok = is_int.copy()
    if is_int.any():
        ts[is_int] = pc.cast(pc.utf8_trim_whitespace(ts_s.filter(pa.array(is_int))), pa.int64()).to_numpy()
    for i in np.flatnonzero(~is_int):
        s, why = _ts_of(ts_s[i].as_py())
        if s is None:
            errors.append((int(row[i]), "ts", why))
        else:
            ts[i], ok[i] = s, True
    out_of_range = ok & ((ts < TS_MIN) | (ts > TS_MAX))
    for i in np.flatnonzero(out_of_range):
        errors.append((int(row[i]), "ts", _ts_of(int(ts[i]))[1]))
    ok &= ~out_of_range
    empty = pc.utf8_length(dev).to_numpy() == 0
    for i in np.flatnonzero(empty):
        errors.append((int(row[i]), "device", "device code must not be empty"))
    ok &= ~empty
    is_num = pc.match_substring_regex(val_s, _FLOAT_RE).to_numpy(zero_copy_only=False)
    value = np.full(len(val_s), np.nan)
    if is_num.any():
        value[is_num] = pc.cast(
            pc.utf8_trim_whitespace(val_s.filter(pa.array(is_num))), pa.float64()
        ).to_numpy()
    sel = pa.array(ok)
    return Batch(dev.filter(sel).to_numpy(zero_copy_only=False), ts[ok], value[ok], sorted(errors), row[ok])


def encode_csv(batch: Batch) -> bytes:
    t = pa.table({"device": pa.array(batch.device, pa.string()), "ts": batch.ts, "value": batch.value})
    buf = io.BytesIO()
    pacsv.write_csv(t, buf, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return buf.getvalue()


# ---------------------------------------------------------------- Arrow
def _arrow_table(data: bytes) -> pa.Table:
    try:
        if data[:6] == b"ARROW1":
            return pa.ipc.open_file(pa.BufferReader(data)).read_all()
        return pa.ipc.open_stream(pa.BufferReader(data)).read_all()
    except (pa.ArrowInvalid, OSError) as e:
        raise CodecError(f"body: not an Arrow IPC stream or file ({e})") from None


def iter_decode_arrow(data: bytes):
    """One :class:`Batch` per Arrow record batch of an IPC stream (cache-sized pieces)."""
    try:
        reader = pa.ipc.open_stream(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError) as e:
        raise CodecError(f"body: not an Arrow IPC stream ({e})") from None
    for rb in reader:
        yield _batch_of_table(pa.Table.from_batches([rb]))


def decode_arrow(data: bytes) -> Batch:
    return _batch_of_table(_arrow_table(data))


def _batch_of_table(table: pa.Table) -> Batch:
    for c in ("device", "ts", "value"):
        if c not in table.column_names:
            raise CodecError(f"{c}: missing column; expected device, ts, value")
    dev_col, ts_col, val_col = table.column("device"), table.column("ts"), table.column("value")
    # ts: int64 seconds or any timestamp unit
    if pa.types.is_timestamp(ts_col.type):
        ts_col = pc.cast(ts_col, pa.timestamp("s", tz=ts_col.type.tz)).cast(pa.int64())
    elif pa.types.is_integer(ts_col.type):
        ts_col = ts_col.cast(pa.int64())
    else:
        raise CodecError(f"ts: must be int64 epoch seconds or a timestamp, got {ts_col.type}")
    if not (pa.types.is_floating(val_col.type) or pa.types.is_integer(val_col.type)):
        raise CodecError(f"value: must be a float column, got {val_col.type}")
    ts_valid = ts_col.combine_chunks()
    value = val_col.cast(pa.float64()).combine_chunks().to_numpy(zero_copy_only=False)  # nulls -> NaN
    ts_null = ts_valid.is_null().to_numpy(zero_copy_only=False) if ts_valid.null_count else None
    ts = ts_valid.fill_null(0).to_numpy() if ts_valid.null_count else ts_valid.to_numpy()

    dictionary = codes = device = dev_arr = None
    if pa.types.is_dictionary(dev_col.type):
        chunks = dev_col.chunks
        dictionary = chunks[0].dictionary if chunks else pa.array([], pa.string())
        if any(not c.dictionary.equals(dictionary) for c in chunks[1:]):
            dev_col = dev_col.cast(pa.string())
            dictionary = None
        else:
            idx = pa.chunked_array([c.indices for c in chunks], chunks[0].indices.type).combine_chunks()
            codes = idx.fill_null(-1).to_numpy().astype(np.int32, copy=False)
            if not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
                raise CodecError(f"device: dictionary values must be strings, got {dictionary.type}")
    if dictionary is None:
        if not (pa.types.is_string(dev_col.type) or pa.types.is_large_string(dev_col.type)):
            raise CodecError(f"device: must be a string column, got {dev_col.type}")
        dev_arr = dev_col.combine_chunks().cast(pa.string())
        if dev_arr.null_count:
            dev_arr = dev_arr.fill_null("")
        dev_bad = pc.utf8_length(dev_arr).to_numpy() == 0
    else:
        dev_bad = codes < 0
    bad_ts = (ts < TS_MIN) | (ts > TS_MAX)
    if ts_null is not None:
        bad_ts |= ts_null
    bad = dev_bad | bad_ts
    if not bad.any():
        return Batch(device, ts, value, dictionary=dictionary, codes=codes, arrow=dev_arr)
    errors = [(int(r), "device", "device code missing") for r in np.flatnonzero(dev_bad)]
    errors += [
        (int(r), "ts", "timestamp missing or out of range (epoch seconds 1970-2106)")
        for r in np.flatnonzero(bad_ts & ~dev_bad)
    ]
    ok = ~bad
    return Batch(
        None,
        ts[ok],
        value[ok],
        sorted(errors),
        np.flatnonzero(ok),
        dictionary=dictionary,
        codes=None if codes is None else codes[ok],
        arrow=None if dev_arr is None else dev_arr.filter(pa.array(ok)),
    )


def encode_arrow(
    batch: Batch,
    *,
    dictionary: pa.Array | None = None,
    codes: np.ndarray | None = None,
    chunk: int | None = None,
) -> bytes:
    """Arrow IPC stream of a batch.  With ``dictionary`` + ``codes`` the device column is
    dictionary-encoded (sent once per stream); ``chunk`` splits it into record batches."""
    if dictionary is not None:
        dev = pa.DictionaryArray.from_arrays(pa.array(np.asarray(codes, np.int32)), dictionary)
    else:
        dev = pa.array(batch.device, type=pa.string())
    table = pa.table({"device": dev, "ts": pa.array(batch.ts, pa.int64()), "value": pa.array(batch.value)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table, max_chunksize=chunk)
    return sink.getvalue().to_pybytes()


# ---------------------------------------------------------------- code -> index
_P1, _P2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)  # odd 64-bit multipliers
_S1, _S2 = np.uint64(0x243F6A8885A308D3), np.uint64(0x13198A2E03707344)  # seeds
_MIX1, _MIX2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)
_R32, _R33 = np.uint64(32), np.uint64(33)


def _string_words(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Every string of an Arrow (large_)string array as a zero-padded row of uint64 words,
    and its length: a hash then costs one multiply-xor per 8 bytes instead of per byte."""
    n = len(arr)
    large = pa.types.is_large_string(arr.type)
    offs = np.frombuffer(arr.buffers()[1], np.int64 if large else np.int32)[arr.offset : arr.offset + n + 1]
    data = (
        np.frombuffer(arr.buffers()[2], np.uint8) if arr.buffers()[2] is not None else np.zeros(0, np.uint8)
    )
    lens = np.diff(offs).astype(np.int64)
    start, end = int(offs[0]), int(offs[-1])
    width = max(1, (int(lens.max()) + 7) // 8) * 8
    m = np.zeros((n, width), np.uint8)
    L = int(lens.max())
    if int(lens.min()) == L:  # fixed-width codes (the common case): one 2-D copy
        m[:, :L] = data[start:end].reshape(n, L)
    elif end > start:
        row = np.repeat(np.arange(n), lens)
        pos = np.arange(end - start) - np.repeat(offs[:-1].astype(np.int64) - start, lens)
        m[row, pos] = data[start:end]
    return m.view(np.uint64), lens


def _string_hashes(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Two independent 64-bit hashes of every string of an Arrow string array (vectorised)."""
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    if len(arr) == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    words, lens = _string_words(arr)
    n_words = (lens + 7) // 8
    ragged = int(n_words.min()) != words.shape[1]
    out = []
    with np.errstate(over="ignore"):
        for p, seed in ((_P1, _S1), (_P2, _S2)):
            h = lens.astype(np.uint64) * _MIX2
            h ^= seed
            for c in range(words.shape[1]):
                hc = h ^ words[:, c]
                hc *= p
                hc ^= hc >> _R32
                if ragged:  # a code's hash must not depend on the longest code in its batch
                    np.copyto(h, hc, where=c < n_words)
                else:
                    h = hc
            h ^= h >> _R33
            h *= _MIX1
            h ^= h >> _R33
            out.append(h)
    return out[0], out[1]


_SLOT = np.dtype([("h", "<u8"), ("i", "<i4"), ("h2", "<u4")])  # 16 bytes: one gather per probe


def _home(h: np.ndarray, size: int) -> np.ndarray:
    """A hash's home slot in a table of any size (multiply-shift range reduction)."""
    return ((h >> _R32) * np.uint64(size) >> _R32).astype(np.int64)


class DeviceIndex:
    """Device code → row index of the detector bank, for millions of codes without a
    Python loop: an open-addressing table (linear probing, at most half full) of 16-byte
    slots holding a 64-bit hash of the code, its index and 32 bits of a second,
    independent hash.  At most 60 % full (half full after a rebuild).  One gather per probe reads all
    three; a hit must match 96 bits,
    so an unknown code is taken for a registered one with probability ~2**-96 per probe.
    Memory: 27-32 bytes per registered code, besides the codes themselves."""

    def __init__(self, codes=()):
        self.codes = pa.array([], pa.string())
        self._slots = self._empty(16)
        self.extend(codes)

    @staticmethod
    def _empty(size: int) -> np.ndarray:
        slots = np.zeros(size, _SLOT)
        slots["i"] = -1
        return slots

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def nbytes(self) -> int:
        return self._slots.nbytes

    def extend(self, codes) -> np.ndarray:
        """Register new codes (appended in order); returns their indices.  Duplicates raise."""
        new = codes if isinstance(codes, pa.Array) else pa.array(list(codes), pa.string())
        new = new.cast(pa.string())
        if len(new) == 0:
            return np.zeros(0, np.int64)
        if new.null_count:
            raise ValueError("device: a code must not be missing")
        known = self.lookup(new)
        if (known >= 0).any():
            raise ValueError(
                f"device: code {new[int(np.flatnonzero(known >= 0)[0])].as_py()!r} already registered"
            )
        if pc.count_distinct(new).as_py() != len(new):
            raise ValueError("device: duplicate codes in the same registration")
        first = len(self.codes)
        self.codes = pa.concat_arrays([self.codes, new])
        total = len(self.codes)
        if 5 * total > 3 * len(self._slots):  # keep the table at most 60 % full
            self._slots = self._empty(max(16, 2 * total))
            self._insert(np.arange(total, dtype=np.int64), *_string_hashes(self.codes))
        else:
            self._insert(np.arange(first, total, dtype=np.int64), *_string_hashes(new))
        return np.arange(first, total, dtype=np.int64)

    def _insert(self, ids: np.ndarray, h: np.ndarray, h2: np.ndarray) -> None:
        size = len(self._slots)
        col = self._slots["i"]
        slot = _home(h, size)
        pending = np.arange(len(ids))
        while len(pending):
            free = col[slot] == -1
            cand, cslot = pending[free], slot[free]
            col[cslot] = ids[cand]  # several may race for one slot: the last write wins
            won_f = col[cslot] == ids[cand]
            w, ws = cand[won_f], cslot[won_f]
            self._slots["h"][ws], self._slots["h2"][ws] = h[w], h2[w].astype(np.uint32)
            won = np.zeros(len(pending), bool)
            won[np.flatnonzero(free)[won_f]] = True
            pending, slot = pending[~won], slot[~won] + 1
            slot[slot == size] = 0

    def lookup(self, codes) -> np.ndarray:
        """Indices (int64) of the given codes; -1 for codes not registered (or missing)."""
        q = codes if isinstance(codes, (pa.Array, pa.ChunkedArray)) else pa.array(list(codes), pa.string())
        if isinstance(q, pa.ChunkedArray):
            q = q.combine_chunks()
        if pa.types.is_dictionary(q.type):
            d = self.lookup(q.dictionary)
            ix = q.indices.fill_null(0).to_numpy()
            out = d[ix] if len(d) else np.full(len(q), -1, np.int64)
            if q.null_count:
                out[q.is_null().to_numpy(zero_copy_only=False)] = -1
            return out
        n = len(q)
        if n == 0 or len(self.codes) == 0:
            return np.full(n, -1, np.int64)
        null = q.is_null().to_numpy(zero_copy_only=False) if q.null_count else None
        h, h2 = _string_hashes(q.fill_null("") if null is not None else q)
        h2 = h2.astype(np.uint32)
        size = len(self._slots)
        slot = _home(h, size)
        rec = self._slots.take(slot)
        i = rec["i"]
        out = np.where((rec["h"] == h) & (rec["h2"] == h2), i, -1).astype(np.int64)
        todo = np.flatnonzero((out < 0) & (i >= 0))  # slot taken by another code: probe on
        while len(todo):
            s = slot[todo] + 1
            s[s == size] = 0
            slot[todo] = s
            rec = self._slots.take(s)
            hit = (rec["h"] == h[todo]) & (rec["h2"] == h2[todo])
            out[todo[hit]] = rec["i"][hit]
            todo = todo[~hit & (rec["i"] >= 0)]
        if null is not None:
            out[null] = -1
        return out
