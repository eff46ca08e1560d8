"""Small factories over the real services (no mocks): users, reference data, orders."""

from __future__ import annotations

from decimal import Decimal

from monitoring.roles import Role
from monitoring.services import user_create_with_role

ROLE_USERNAMES = {
    Role.VIEWER: "viewer",
    Role.TRADER: "trader",
    Role.RISK_MANAGER: "risk",
    Role.ADMIN: "admin",
}


def password_for(username: str) -> str:
    return f"pw-{username}-123"


def make_role_users() -> dict[Role, object]:
    return {
        role: user_create_with_role(username=name, password=password_for(name), role=role)
        for role, name in ROLE_USERNAMES.items()
    }


def make_reference_data():
    from trading.services import reference_data_ensure

    reference_data_ensure()


def make_order(**overrides):
    from trading.lifecycle import order_record_created
    from trading.models import Account, Instrument, Order

    make_reference_data()
    fields = {
        "client_order_id": overrides.pop("client_order_id", None) or _next_client_order_id(),
        "account": Account.objects.get(name="SIM-001"),
        "instrument": Instrument.objects.get(instrument_id="EUR/USD.SIM"),
        "side": "BUY",
        "order_type": "MARKET",
        "quantity": Decimal("10000"),
    }
    fields.update(overrides)
    order = Order.objects.create(**fields)
    order_record_created(order)
    return order


_counter = 0


def _next_client_order_id() -> str:
    global _counter
    _counter += 1
    return f"O-TEST-{_counter:06d}"
