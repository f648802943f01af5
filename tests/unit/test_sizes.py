"""Size parsing and formatting."""

import pytest
from hypothesis import given, strategies as st

from org_ovirt_node.errors import NodeError
from org_ovirt_node.sizes import GiB, MiB, format_size, format_size_exact, parse_size


@pytest.mark.parametrize("text,expected", [
    ("16GiB", 16 * GiB), ("16G", 16 * GiB), ("512", 512 * MiB), ("1.5 GiB", 3 * GiB // 2),
    ("4096B", 4096), ("1TiB", 1024 * GiB), ("2gb", 2 * GiB),
])
def test_parse(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "GiB", "-1GiB", "0", "12 parsecs", "1..2G"])
def test_parse_rejects(text):
    with pytest.raises(NodeError):
        parse_size(text)


def test_format():
    assert format_size(16 * GiB) == "16 GiB"
    assert format_size(1536 * MiB) == "1.5 GiB"
    assert format_size(100) == "100 B"


@given(st.integers(min_value=1, max_value=1 << 50))
def test_exact_format_round_trips(value):
    assert parse_size(format_size_exact(value)) == value


def test_exact_format_of_zero_and_odd_sizes():
    assert format_size_exact(0) == "0B"
    assert format_size_exact(3 * MiB + 1) == f"{3 * MiB + 1}B"
