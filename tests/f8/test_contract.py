"""The checks on F8's answers name every problem by its path and accept only exact decimals."""

from decimal import Decimal as D

import pytest

from portfolio.f8.compare import COMPARABLE_KINDS
from portfolio.f8.contract import F8ProtocolError, parse_limits, parse_positions, parse_push_response

AS_OF = "2026-11-24T10:00:00+00:00"


def test_positions_parse_to_exact_decimals():
    view = parse_positions(
        {
            "portfolio_id": "P",
            "as_of": AS_OF,
            "positions": [{"account": "SIM-001", "instrument_id": "EUR/USD.SIM", "quantity": "10000.000000001"}],
        },
        portfolio_id="P",
    )
    assert view.positions[0].quantity == D("10000.000000001")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], "$: expected an object, got array"),
        ({"portfolio_id": "P", "as_of": AS_OF}, "$.positions: missing"),
        ({"portfolio_id": "Q", "as_of": AS_OF, "positions": []}, "$.portfolio_id: 'Q' is not our portfolio 'P'"),
        ({"portfolio_id": "P", "as_of": "yesterday", "positions": []}, "$.as_of: 'yesterday' is not an ISO 8601"),
        (
            {
                "portfolio_id": "P",
                "as_of": AS_OF,
                "positions": [{"account": "A", "instrument_id": "I", "quantity": 1.5}],
            },
            "$.positions[0].quantity: expected a decimal string, got float",
        ),
        (
            {
                "portfolio_id": "P",
                "as_of": AS_OF,
                "positions": [{"account": "A", "instrument_id": "I", "quantity": "NaN"}],
            },
            "$.positions[0].quantity: 'NaN' is not finite",
        ),
        (
            {"portfolio_id": "P", "as_of": AS_OF, "positions": [{"account": "A", "quantity": "1"}]},
            "$.positions[0].instrument_id: missing",
        ),
        (
            {
                "portfolio_id": "P",
                "as_of": AS_OF,
                "positions": [
                    {"account": "A", "instrument_id": "I", "quantity": "1"},
                    {"account": "A", "instrument_id": "I", "quantity": "2"},
                ],
            },
            "$.positions[1]: A I listed twice",
        ),
    ],
)
def test_rejects_malformed_positions_naming_the_path(body, problem):
    with pytest.raises(F8ProtocolError) as exc:
        parse_positions(body, portfolio_id="P")
    assert any(p.startswith(problem) for p in exc.value.problems), exc.value.problems


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ({"id": "1", "scope": "galaxy", "target": None, "kind": "daily_loss", "value": "1"}, ".scope: 'galaxy'"),
        ({"id": "1", "scope": "global", "target": None, "kind": "vibes", "value": "1"}, ".kind: 'vibes'"),
        (
            {"id": "1", "scope": "global", "target": None, "kind": "daily_loss", "value": "-5"},
            ".value: must be positive",
        ),
        ({"id": "1", "scope": "global", "target": "X", "kind": "daily_loss", "value": "5"}, ".target: a global limit"),
        (
            {"id": "1", "scope": "account", "target": None, "kind": "daily_loss", "value": "5"},
            ".target: a account limit",
        ),
        ({"id": 1, "scope": "global", "target": None, "kind": "daily_loss", "value": "5"}, ".id: expected a string"),
    ],
)
def test_rejects_malformed_limits(row, problem):
    with pytest.raises(F8ProtocolError) as exc:
        parse_limits({"portfolio_id": "P", "as_of": AS_OF, "limits": [row]}, portfolio_id="P", kinds=COMPARABLE_KINDS)
    assert any(problem in p for p in exc.value.problems), exc.value.problems


def test_push_answers_must_cover_every_item_exactly_once():
    ok = parse_push_response(
        "POST trades",
        {"results": [{"idempotency_key": "a", "status": "accepted"}, {"idempotency_key": "b", "status": "duplicate"}]},
        ["a", "b"],
    )
    assert (ok["a"].status, ok["b"].status) == ("accepted", "duplicate")
    for body, problem in [
        ({"results": [{"idempotency_key": "a", "status": "accepted"}]}, "no result for 1 item"),
        (
            {"results": [{"idempotency_key": "a", "status": "ok"}, {"idempotency_key": "b", "status": "accepted"}]},
            "'ok' is not one of",
        ),
        (
            {
                "results": [
                    {"idempotency_key": "a", "status": "accepted"},
                    {"idempotency_key": "a", "status": "accepted"},
                    {"idempotency_key": "b", "status": "accepted"},
                ]
            },
            "answered twice",
        ),
        ({"results": [{"idempotency_key": "z", "status": "accepted"}]}, "was not sent"),
    ]:
        with pytest.raises(F8ProtocolError) as exc:
            parse_push_response("POST trades", body, ["a", "b"])
        assert any(problem in p for p in exc.value.problems), (problem, exc.value.problems)
