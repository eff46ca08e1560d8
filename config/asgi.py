"""The ASGI application daphne serves: Django for HTTP, Channels for WebSockets.

Django's handler gives every request a fresh thread for its synchronous parts
(views, middleware, the ORM). A fresh thread means a fresh PostgreSQL and Redis
connection per request (connections are per thread), which cost more than the
order POST itself. ``PooledThreadASGIHandler`` runs each request on one of
``WEB_THREADS`` long-lived threads instead, so connections are reused
(CONN_MAX_AGE) while up to that many requests still run side by side.

Django's async path then crosses between the event loop and that thread five
times per request (request_started, the sync middleware, the async core
handler, the view, response.close), each crossing a future, a context copy and
two thread wake-ups. Every middleware and view of the desk is synchronous, so
the handler runs the synchronous chain (as WSGI would: request_started, the
middleware, the view, request_finished) in one crossing, and only reading the
body and sending the response stay on the event loop.
"""

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.asgi import get_asgi_application
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix

from config.env import env_int

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class PooledThreadASGIHandler(ASGIHandler):
    """Each HTTP request runs its synchronous code on one thread of a fixed set.

    A request waits for a free thread rather than making a new one; each thread
    serves one request at a time, as Django's thread-sensitive code expects."""

    def __init__(self, threads: int):
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)  # the synchronous chain, as under WSGI
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

    async def handle(self, scope, receive, send):
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        try:
            response = await sync_to_async(self._respond, thread_sensitive=True)(scope, body_file)
            try:
                await self.send_response(response, send)
            finally:
                if response.streaming:
                    # Closed once sent (or abandoned by a client that went away, whose cancellation
                    # still propagates): a streamed body reads through this thread's connection.
                    await sync_to_async(response.close, thread_sensitive=True)()
        finally:
            body_file.close()

    def _respond(self, scope, body_file):
        """On the request's thread: everything Django does synchronously for one request."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        if not response.streaming:
            # The body is in memory: request_finished (connection upkeep) runs here, on the
            # thread whose connections it checks, before the response is sent.
            response.close()
        return response


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
