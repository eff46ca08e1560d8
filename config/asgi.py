"""The ASGI application daphne serves: Django for HTTP, Channels for WebSockets.

Django's handler gives every request a fresh thread for its synchronous parts
(views, middleware, the ORM). A fresh thread means a fresh PostgreSQL and Redis
connection per request (connections are per thread), which cost more than the
order POST itself. ``PooledThreadASGIHandler`` runs each request on one of
``WEB_THREADS`` long-lived threads instead, so connections are reused
(CONN_MAX_AGE) while up to that many requests still run side by side.
"""

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.core.asgi import get_asgi_application
from django.core.handlers.asgi import ASGIHandler

from config.env import env_int

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class PooledThreadASGIHandler(ASGIHandler):
    """Each HTTP request runs its synchronous code on one thread of a fixed set.

    A request waits for a free thread rather than making a new one; each thread
    serves one request at a time, as Django's thread-sensitive code expects."""

    def __init__(self, threads: int):
        super().__init__()
        self._threads = threads
        self._idle: asyncio.Queue | None = None

    def _idle_threads(self) -> asyncio.Queue:
        # Made on first use, inside the server's event loop.
        if self._idle is None:
            self._idle = asyncio.Queue()
            for n in range(self._threads):
                self._idle.put_nowait(ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"web-{n}"))
        return self._idle

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        idle = self._idle_threads()
        executor = await idle.get()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            idle.put_nowait(executor)


get_asgi_application()  # django.setup() (and the .env file) before anything below reads them
WEB_THREADS = env_int("WEB_THREADS", 8, minimum=1)
django_asgi_app = PooledThreadASGIHandler(WEB_THREADS)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
