import pytest

from mixsearch.controller.targets import TargetError, format_flops, parse_duration, parse_flops, parse_latency
from mixsearch.search_space.errors import MixsearchError


@pytest.mark.parametrize("text", ["300M", "0.3G", "3e8", "300000k", "300m", " 300 M ", "300000000", 300_000_000])
def test_every_spelling_of_300_million_multiply_adds(text):
    assert parse_flops(text) == 300_000_000


BAD_FLOPS = ["", "abc", "300X", "-300M", "0", "0M", "M300", "3e8e", "300 MB", "nan", "inf", "1e-9"]


@pytest.mark.parametrize("text", BAD_FLOPS)
def test_bad_flops_strings_raise_one_line_errors(text):
    with pytest.raises(MixsearchError) as err:
        parse_flops(text)
    message = str(err.value)
    assert "\n" not in message and "--target-flops" in message and "300M" in message


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("30m", 1800), ("1h", 3600), ("1.5h", 5400), ("45", 45)])
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text, ms", [("15ms", 15.0), ("15", 15.0), ("1500us", 1.5), ("0.015s", 15.0)])
def test_latencies(text, ms):
    assert parse_latency(text) == pytest.approx(ms)


@pytest.mark.parametrize("parse, text", [(parse_duration, "30 minutes"), (parse_duration, "-1m"),
                                         (parse_latency, "15 fps"), (parse_latency, "0ms")])
def test_bad_durations_and_latencies(parse, text):
    with pytest.raises(TargetError):
        parse(text)


def test_format_flops_is_readable():
    assert format_flops(300_000_000) == "300.0M" and format_flops(1.2e9) == "1.2G" and format_flops(512) == "512"
