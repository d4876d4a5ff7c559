"""Pure functions of the core, tested without I/O: result options and rate-limit headers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from duneasync import ConfigurationError
from duneasync._options import result_params
from duneasync._ratelimit import parse_rate_limits
from duneasync.models import RateLimitInfo, RateLimitPolicy, RateLimitState

# -- result_params ------------------------------------------------------------------------------


def test_result_params_of_no_options_is_empty() -> None:
    assert result_params({}) == {}


def test_result_params_drops_options_given_as_none() -> None:
    assert result_params({"limit": None, "offset": None, "sample_count": 5}) == {
        "sample_count": "5"
    }


@pytest.mark.parametrize(
    ("options", "params"),
    [
        ({"limit": 1}, {"limit": "1"}),
        ({"offset": 0}, {"offset": "0"}),
        ({"limit": 250_000, "offset": 1_000_000}, {"limit": "250000", "offset": "1000000"}),
        ({"sample_count": 100}, {"sample_count": "100"}),
        ({"columns": "a,b"}, {"columns": "a,b"}),
        ({"columns": ["a", "b", "c"]}, {"columns": "a,b,c"}),
        ({"columns": ("a",)}, {"columns": "a"}),
        ({"sort_by": "volume desc"}, {"sort_by": "volume desc"}),
        ({"sort_by": ["volume desc", "name asc"]}, {"sort_by": "volume desc,name asc"}),
        (
            {"filters": "block_number > 100 AND name = 'x'"},
            {"filters": "block_number > 100 AND name = 'x'"},
        ),
        ({"allow_partial_results": True}, {"allow_partial_results": "true"}),
        ({"allow_partial_results": False}, {"allow_partial_results": "false"}),
        (
            {"ignore_max_datapoints_per_request": True},
            {"ignore_max_datapoints_per_request": "true"},
        ),
    ],
)
def test_result_params_writes_each_option_as_the_api_reads_it(
    options: dict[str, Any], params: dict[str, str]
) -> None:
    assert result_params(options) == params


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sample_count": 1, "limit": 1}, "sample_count cannot be combined with limit"),
        ({"sample_count": 1, "offset": 0}, "sample_count cannot be combined with offset"),
        ({"sample_count": 1, "filters": "a > 1"}, "sample_count cannot be combined with filters"),
        ({"bogus": 1}, r"unknown result option\(s\): bogus"),
        ({"limit": 0}, "limit must be an integer >= 1, not 0"),
        ({"offset": -1}, "offset must be an integer >= 0, not -1"),
        ({"limit": False}, "limit must be an integer >= 1, not False"),
        ({"columns": ["a,b"]}, "columns must not contain ','"),
        ({"columns": {"a": 1}}, "columns must be a non-empty string or list of strings"),
        ({"allow_partial_results": 1}, "allow_partial_results must be True or False, not 1"),
    ],
)
def test_result_params_refuses_with_a_message_naming_the_option(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        result_params(options)


def test_a_configuration_error_is_also_a_value_error() -> None:
    with pytest.raises(ValueError, match="limit"):
        result_params({"limit": -1})


# -- parse_rate_limits --------------------------------------------------------------------------


def parse(**headers: str) -> RateLimitInfo | None:
    named = {name.replace("_", "-"): value for name, value in headers.items()}
    return parse_rate_limits(httpx.Headers(named), received_at=12.5)


def test_parse_rate_limits_reads_every_policy_and_state() -> None:
    info = parse(
        RateLimit_Policy='"write";q=15;w=60, "read";q=40;w=60, "ip";q=1000;w=1',
        RateLimit='"write";r=14;t=0, "read";r=39;t=52, "ip";r=999;t=1',
    )

    assert info == RateLimitInfo(
        policies={
            "write": RateLimitPolicy(name="write", quota=15, window=60),
            "read": RateLimitPolicy(name="read", quota=40, window=60),
            "ip": RateLimitPolicy(name="ip", quota=1000, window=1),
        },
        states={
            "write": RateLimitState(name="write", remaining=14, reset=0),
            "read": RateLimitState(name="read", remaining=39, reset=52),
            "ip": RateLimitState(name="ip", remaining=999, reset=1),
        },
        received_at=12.5,
    )


def test_parse_rate_limits_keeps_commas_and_semicolons_inside_quoted_names() -> None:
    info = parse(RateLimit_Policy='"read, fast";q=10;w=1, "a;b";q=2;w=3')

    assert info is not None
    assert info.policies["read, fast"].quota == 10
    assert info.policies["a;b"] == RateLimitPolicy(name="a;b", quota=2, window=3)


def test_parse_rate_limits_reads_unquoted_names_and_header_case() -> None:
    info = parse_rate_limits(
        httpx.Headers({"RATELIMIT": "read;r=3;t=9.5", "ratelimit-policy": "read;Q=40;W=60"}),
        received_at=0,
    )

    assert info is not None
    assert info.states["read"] == RateLimitState(name="read", remaining=3, reset=9.5)
    assert info.policies["read"] == RateLimitPolicy(name="read", quota=40, window=60)


def test_parse_rate_limits_skips_malformed_entries_and_values() -> None:
    info = parse(
        RateLimit_Policy='"write";q=15;w=60, ;q=3, "read";q=lots;w=-5, , "ip";q=inf;w=nan',
        RateLimit='"write";r=;t=abc, "read";r=-1, garbage',
    )

    assert info is not None
    assert set(info.policies) == {"write", "read", "ip"}
    assert info.policies["write"] == RateLimitPolicy(name="write", quota=15, window=60)
    assert info.policies["read"] == RateLimitPolicy(name="read")
    assert info.policies["ip"] == RateLimitPolicy(name="ip")
    assert info.states["write"] == RateLimitState(name="write")
    assert info.states["read"] == RateLimitState(name="read")
    assert info.states["garbage"] == RateLimitState(name="garbage")


def test_parse_rate_limits_with_only_one_header_reads_that_one() -> None:
    info = parse(RateLimit='"read";r=0;t=30')

    assert info is not None
    assert info.policies == {}
    assert info.states["read"].remaining == 0


def test_parse_rate_limits_without_the_headers_is_none() -> None:
    assert parse() is None
    assert parse(Content_Type="application/json", Retry_After="3") is None
