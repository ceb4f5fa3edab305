"""How --canary / --batch-size / --max-failures split the ids and set the ceiling."""

from __future__ import annotations

import pytest

from recovery_plugin.errors import ConfigError
from recovery_plugin.resolve.batching import parse_batch_policy

IDS = [f"id-{n}" for n in range(1, 8)]


def test_a_canary_then_batches_of_the_given_size() -> None:
    policy = parse_batch_policy("2", "3", None)

    assert policy.split(IDS) == [
        ("canary", IDS[:2]),
        ("batch", IDS[2:5]),
        ("batch", IDS[5:]),
    ]


def test_a_canary_alone_leaves_the_rest_as_one_batch() -> None:
    assert parse_batch_policy("1", None, None).split(IDS) == [
        ("canary", IDS[:1]),
        ("batch", IDS[1:]),
    ]


def test_percentages_of_ids_round_up_and_a_ceiling_rounds_down() -> None:
    policy = parse_batch_policy("10%", "50%", "20%")

    assert [len(ids) for _, ids in policy.split(IDS)] == [1, 4, 2]  # 0.7 -> 1, 3.5 -> 4
    assert policy.failure_limit(len(IDS)) == 1  # 1.4 -> 1: a second failure crosses it


def test_no_flags_no_batches_no_ceiling() -> None:
    policy = parse_batch_policy(None, None, None)

    assert policy.split(IDS) == []
    assert policy.failure_limit(len(IDS)) is None


def test_a_canary_larger_than_the_ids_is_every_id() -> None:
    assert parse_batch_policy("50", None, None).split(IDS[:2]) == [("canary", IDS[:2])]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("0", None, None), "--canary: must be at least 1, got '0'"),
        (
            (None, "-1", None),
            "--batch-size: expected a number of ids (N) or a percentage (P%), got '-1'",
        ),
        (
            (None, None, "2.5"),
            "--max-failures: expected a number of ids (N) or a percentage (P%), got '2.5'",
        ),
        ((None, "0%", None), "--batch-size: a percentage must be between 1% and 100%, got '0%'"),
        (
            (None, None, "101%"),
            "--max-failures: a percentage must be between 0% and 100%, got '101%'",
        ),
    ],
)
def test_bad_values_name_the_flag(
    flags: tuple[str | None, str | None, str | None], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_batch_policy(*flags)
    assert str(caught.value) == message


def test_zero_failures_allowed_is_a_valid_ceiling() -> None:
    assert parse_batch_policy(None, None, "0").failure_limit(len(IDS)) == 0
