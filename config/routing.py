"""WebSocket routes of every app, gathered in one place for config.asgi."""

from monitoring.routing import websocket_urlpatterns as monitoring_ws
from trading.routing import websocket_urlpatterns as trading_ws

websocket_urlpatterns = [*monitoring_ws, *trading_ws]
