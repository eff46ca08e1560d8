"""Trading API: reference data (read; write for Admin), orders with their timeline, fills.

Order submission and cancellation belong to the order service and slot in as
``POST orders/`` and ``POST orders/<id>/cancel/``.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from config.api import DeskPagination, validated
from monitoring.roles import Role
from trading.accounts import account_create, account_update
from trading.api import filters
from trading.api.orders import OrderSubmitMixin
from trading.api.serializers import (
    AccountCreateInput,
    AccountOutput,
    AccountUpdateInput,
    FillOutput,
    InstrumentInput,
    InstrumentOutput,
    OrderDetailOutput,
    OrderEventOutput,
    OrderOutput,
    SectorOutput,
    VenueOutput,
)
from trading.instruments import instrument_create, instrument_update
from trading.models import Account, Fill, Instrument, Order, OrderEvent, Sector, Venue


class SectorListApi(generics.ListAPIView):
    serializer_class = SectorOutput
    pagination_class = DeskPagination
    queryset = Sector.objects.all()
    search_fields = ["code", "name"]


class VenueListApi(generics.ListAPIView):
    serializer_class = VenueOutput
    pagination_class = DeskPagination
    queryset = Venue.objects.all()
    filterset_fields = ["adapter"]
    search_fields = ["code", "name"]


class VenueDetailApi(generics.RetrieveAPIView):
    serializer_class = VenueOutput
    queryset = Venue.objects.all()


class InstrumentListApi(generics.ListAPIView):
    write_role = Role.ADMIN
    serializer_class = InstrumentOutput
    pagination_class = DeskPagination
    filterset_class = filters.InstrumentFilter
    search_fields = ["symbol", "instrument_id"]
    ordering_fields = ["instrument_id", "symbol", "asset_class"]
    queryset = Instrument.objects.select_related("venue", "sector")

    @extend_schema(
        summary="Add an instrument (Admin)",
        request=InstrumentInput,
        responses={201: InstrumentOutput},
        examples=[
            OpenApiExample(
                "An equity on the simulated venue",
                value={
                    "symbol": "NVDA",
                    "venue": 1,
                    "asset_class": "equity",
                    "sector": 3,
                    "quote_currency": "USD",
                    "tick_size": "0.01",
                    "lot_size": "1",
                    "reference_price": "120.00",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        data = validated(InstrumentInput, request.data)
        instrument = instrument_create(user=request.user, **data)
        return Response(InstrumentOutput(instrument).data, status=status.HTTP_201_CREATED)


class InstrumentDetailApi(generics.RetrieveAPIView):
    write_role = Role.ADMIN
    serializer_class = InstrumentOutput
    queryset = InstrumentListApi.queryset

    @extend_schema(
        summary="Change an instrument (Admin)",
        request=InstrumentInput,
        responses={200: InstrumentOutput},
        examples=[OpenApiExample("Stop trading it", value={"tradable": False}, request_only=True)],
    )
    def patch(self, request, pk: int):
        data = validated(InstrumentInput, request.data, partial=True)
        instrument = instrument_update(instrument=self.get_object(), user=request.user, **data)
        return Response(InstrumentOutput(instrument).data)


class AccountListApi(generics.ListAPIView):
    write_role = Role.ADMIN
    serializer_class = AccountOutput
    pagination_class = DeskPagination
    filterset_class = filters.AccountFilter
    search_fields = ["name"]
    queryset = Account.objects.select_related("venue")

    @extend_schema(
        summary="Add a venue account (Admin)",
        request=AccountCreateInput,
        responses={201: AccountOutput},
        examples=[
            OpenApiExample(
                "Binance futures with credentials",
                value={
                    "name": "BINANCE-FUT",
                    "venue": 2,
                    "account_type": "margin",
                    "base_currency": "USDT",
                    "starting_balance": "50000",
                    "leverage": "5",
                    "credentials": {"api_key": "<key>", "api_secret": "<secret>"},
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        data = validated(AccountCreateInput, request.data)
        account = account_create(user=request.user, **data)
        return Response(AccountOutput(account).data, status=status.HTTP_201_CREATED)


class AccountDetailApi(generics.RetrieveAPIView):
    write_role = Role.ADMIN
    serializer_class = AccountOutput
    queryset = AccountListApi.queryset

    @extend_schema(
        summary="Change a venue account (Admin)",
        request=AccountUpdateInput,
        responses={200: AccountOutput},
        examples=[
            OpenApiExample(
                "Rotate credentials",
                value={"credentials": {"api_key": "<new>", "api_secret": "<new>"}},
                request_only=True,
            ),
            OpenApiExample("Disable", value={"disabled": True}, request_only=True),
        ],
    )
    def patch(self, request, pk: int):
        data = validated(AccountUpdateInput, request.data, partial=True)
        account = account_update(account=self.get_object(), user=request.user, **data)
        return Response(AccountOutput(account).data)


class OrderListApi(OrderSubmitMixin, generics.ListAPIView):
    """Orders, newest first. Filter by status (repeatable), side, account, instrument, strategy, dates.
    POST places an order (see the request schema)."""

    serializer_class = OrderOutput
    pagination_class = DeskPagination
    filterset_class = filters.OrderFilter
    search_fields = ["client_order_id", "venue_order_id", "instrument__instrument_id"]
    ordering_fields = ["created_at", "updated_at", "quantity", "status"]
    queryset = Order.objects.select_related("account", "instrument", "strategy", "created_by")


class OrderDetailApi(generics.RetrieveAPIView):
    """One order with its timeline, fills and the risk gate's decision."""

    serializer_class = OrderDetailOutput
    queryset = OrderListApi.queryset.select_related("risk_decision").prefetch_related(
        "events", "fills__order__instrument"
    )


class OrderEventListApi(generics.ListAPIView):
    queryset = OrderEvent.objects.none()  # tells the schema generator the model
    serializer_class = OrderEventOutput
    pagination_class = DeskPagination

    def get_queryset(self):
        order = generics.get_object_or_404(Order, pk=self.kwargs["pk"])
        return OrderEvent.objects.filter(order=order)


class FillListApi(generics.ListAPIView):
    serializer_class = FillOutput
    pagination_class = DeskPagination
    filterset_class = filters.FillFilter
    search_fields = ["trade_id", "order__client_order_id"]
    ordering_fields = ["ts_event", "quantity", "price"]
    queryset = Fill.objects.select_related("order__instrument")
