from cityloop.seal import published, rules


def test_a_resident_id_is_masked_to_its_region_and_last_four():
    assert rules.mask_holder_id("11010119900101123X") == "110101********123X"


def test_a_company_credit_code_is_printed_as_given():
    assert rules.mask_holder_id("91110000600037341L") == "91110000600037341L"


def test_an_18_digit_number_without_a_real_birth_date_is_not_taken_for_a_resident_id():
    assert rules.mask_holder_id("911100006000373419") == "911100006000373419"


def test_serials_have_the_year_and_six_digits():
    assert rules.format_serial(2026, 123) == "CL-2026-000123"
    assert rules.SERIAL_RE.match(rules.format_serial(2026, 1234567))


def test_claim_names_round_trip_through_the_compact_integer_keys():
    claims = {"serial": "CL-2026-000001", "status_index": 7}
    assert rules.from_claims_map(rules.to_claims_map(claims)) == claims


def test_the_status_bitstring_sets_exactly_the_revoked_indexes():
    encoded = published.encode_bits([0, 9, 131071], 131072)
    assert encoded.startswith("u")
    assert [i for i in range(16) if published.bit_is_set(encoded, i)] == [0, 9]
    assert published.bit_is_set(encoded, 131071)
    assert not published.bit_is_set(encoded, 131070)
