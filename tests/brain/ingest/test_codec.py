"""Compact readings in, numpy out: every wire form round-trips and bad rows are named (no DB)."""

import numpy as np
import orjson
import pyarrow as pa
import pytest

from cityloop.brain.ingest.codec import (
    Batch,
    CodecError,
    DeviceIndex,
    decode_arrow,
    decode_csv,
    decode_json,
    encode_arrow,
    encode_csv,
    encode_json,
    iter_decode_arrow,
)


def sample(n=50, seed=0):
    rng = np.random.default_rng(seed)
    dev = np.array([f"PDW{i:06d}" for i in rng.integers(0, 20, n)], dtype=object)
    ts = 1_767_225_600 + np.sort(rng.integers(0, 86_400, n))
    value = np.round(rng.uniform(0, 1000, n), 3)
    value[3] = np.nan
    return Batch(dev, ts, value)


def same(a: Batch, b: Batch):
    assert list(a.device) == list(b.device)
    np.testing.assert_array_equal(a.ts, b.ts)
    np.testing.assert_array_equal(a.value, b.value)  # NaN == NaN here


@pytest.mark.parametrize(
    "enc,dec", [(encode_json, decode_json), (encode_csv, decode_csv), (encode_arrow, decode_arrow)]
)
def test_every_wire_form_round_trips(enc, dec):
    b = sample()
    out = dec(enc(b))
    same(b, out)
    assert out.errors == []


def test_json_lines_round_trip_and_iso_timestamps_are_read_as_utc():
    b = sample()
    same(b, decode_json(encode_json(b, lines=True)))
    out = decode_json(
        b'{"d":"a","t":"2026-01-01T08:00:00+08:00","v":1.5}\n{"d":"b","t":"2026-01-01T00:00:00Z","v":2}\n'
    )
    assert out.ts.tolist() == [1_767_225_600, 1_767_225_600]


def test_arrow_dictionary_column_keeps_the_dictionary_positions():
    b = sample(10)
    reg = pa.array([f"PDW{i:06d}" for i in range(20)])
    codes = np.array([int(d[3:]) for d in b.device])
    out = decode_arrow(encode_arrow(b, dictionary=reg, codes=codes))
    assert out.codes.tolist() == codes.tolist()
    same(b, out)
    parts = list(iter_decode_arrow(encode_arrow(b, dictionary=reg, codes=codes, chunk=4)))
    assert [len(p) for p in parts] == [4, 4, 2]
    assert np.concatenate([p.codes for p in parts]).tolist() == codes.tolist()


def test_arrow_timestamp_column_is_read_as_epoch_seconds():
    t = pa.table(
        {"device": ["a"], "ts": pa.array([1_767_225_600_000], pa.timestamp("ms", tz="UTC")), "value": [1.0]}
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, t.schema) as w:
        w.write_table(t)
    assert decode_arrow(sink.getvalue().to_pybytes()).ts.tolist() == [1_767_225_600]


def test_malformed_json_lines_are_reported_with_row_and_field():
    data = (
        b'{"d":"a","t":1767225600,"v":1}\n'
        b'{"d":"","t":1767225600,"v":1}\n'
        b"not json\n"
        b'{"d":"b","t":1767225600000,"v":1}\n'
        b'{"d":"c","t":"2026-01-01T00:00:00","v":1}\n'
        b'{"d":"e","t":1767225601,"v":"twelve"}\n'
    )
    out = decode_json(data)
    fields = {(r, f) for r, f, _ in out.errors}
    assert fields == {(1, "d"), (2, "line"), (3, "t"), (4, "t")}
    assert "milliseconds" in dict(((r, f), why) for r, f, why in out.errors)[(3, "t")]
    assert "offset" in dict(((r, f), why) for r, f, why in out.errors)[(4, "t")]
    assert list(out.device) == ["a", "e"] and out.row.tolist() == [0, 5]
    assert np.isnan(out.value[1])  # kept: the bank rejects it as NOT_NUMERIC


def test_columnar_json_with_a_bad_row_falls_back_and_names_it():
    out = decode_json(b'{"d":["a","b",5],"t":[1767225600,"x",1767225600],"v":[1,2,3]}')
    assert out.errors == [
        (1, "t", "not an ISO-8601 timestamp"),
        (2, "d", "device code must be a non-empty string"),
    ]
    assert list(out.device) == ["a"]


def test_columnar_json_with_unequal_columns_is_refused():
    with pytest.raises(CodecError, match="^v:"):
        decode_json(b'{"d":["a","b"],"t":[1,2],"v":[1]}')
    with pytest.raises(CodecError, match="^body:"):
        decode_json(b"[1,2,3]")


def test_malformed_csv_rows_are_reported_with_row_and_field():
    data = (
        b"device,ts,value\na,1767225600,1.5\nb,yesterday,2\nc,1767225600,abc\nd,1,2,3\n,1767225600,1\n"
        b"e,1767225601,7\n"
    )
    out = decode_csv(data)
    assert [(r, f) for r, f, _ in out.errors] == [(1, "ts"), (3, "row"), (4, "device")]
    assert list(out.device) == ["a", "c", "e"] and out.row.tolist() == [0, 2, 5]
    assert np.isnan(out.value[1])


def test_csv_without_the_header_is_refused():
    with pytest.raises(CodecError, match="^header: missing column"):
        decode_csv(b"dev,time,v\na,1,2\n")


def test_arrow_with_a_wrong_column_type_is_refused():
    t = pa.table({"device": ["a"], "ts": ["yesterday"], "value": [1.0]})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, t.schema) as w:
        w.write_table(t)
    with pytest.raises(CodecError, match="^ts:"):
        decode_arrow(sink.getvalue().to_pybytes())
    with pytest.raises(CodecError, match="^body:"):
        decode_arrow(b"garbage")


def test_device_index_maps_codes_and_marks_unknown_ones():
    codes = [f"PD{k}{i:07d}" for k in "WPG" for i in range(3000)] + ["short", "a-much-longer-code-42"]
    ix = DeviceIndex(codes)
    q = ["PDG0000007", "nope", "short", "a-much-longer-code-42", "PDW0002999", "PDW000299"]
    assert ix.lookup(q).tolist() == [6007, -1, 9000, 9001, 2999, -1]
    assert ix.lookup(pa.array(q).dictionary_encode()).tolist() == [6007, -1, 9000, 9001, 2999, -1]
    assert ix.extend(["new-1", "new-2"]).tolist() == [9002, 9003]
    assert ix.lookup(["new-2", "PDW0000000"]).tolist() == [9003, 0]
    with pytest.raises(ValueError, match="already registered"):
        ix.extend(["short"])


def test_device_index_equals_a_dict_on_random_codes_of_every_length():
    rng = np.random.default_rng(5)
    alphabet = list("ABCxyz0123456789-_.") + ["水", "电", "é"]
    codes = sorted({"".join(rng.choice(alphabet, int(rng.integers(1, 40)))) for _ in range(5000)})
    rng.shuffle(codes)
    ix = DeviceIndex(codes[:3000])
    for k in range(3000, len(codes), 250):  # growth by small registrations keeps every code findable
        ix.extend(codes[k : k + 250])
    truth = {c: i for i, c in enumerate(codes)}
    unknown = [c + "~" for c in codes[:300]] + ["", "PDW", "水电"]
    q = list(rng.choice(codes + unknown, 4000))
    expected = [truth.get(c, -1) for c in q]
    assert ix.lookup(q).tolist() == expected
    assert ix.lookup(pa.array(q, pa.large_string())).tolist() == expected
    assert ix.lookup(pa.array(q).slice(1000, 50)).tolist() == expected[1000:1050]
    fixed = [c for c in q if len(c.encode()) == 16] or q[:1]  # the fixed-width fast path
    assert ix.lookup(fixed).tolist() == [truth.get(c, -1) for c in fixed]
    assert ix.lookup(pa.array([codes[7], None])).tolist() == [7, -1]


def test_columnar_json_fast_path_equals_the_row_by_row_path():
    rng = np.random.default_rng(11)
    n = 2000
    d = [f"PD{k}{i:07d}" for k, i in zip(rng.choice(list("WPGN"), n), rng.integers(0, 10**7, n), strict=True)]
    t = (1_767_225_600 + rng.integers(0, 10**6, n)).tolist()
    v = np.round(rng.uniform(-5, 5000, n), 3).tolist()
    fast = decode_json(orjson.dumps({"d": d, "t": t, "v": v}))
    rows = decode_json(
        b"\n".join(orjson.dumps({"d": a, "t": b, "v": c}) for a, b, c in zip(d, t, v, strict=True))
    )
    same(fast, rows)
    assert fast.device_arrow().to_pylist() == d
    assert fast.errors == rows.errors == []
    np.testing.assert_array_equal(fast.row, np.arange(n))
