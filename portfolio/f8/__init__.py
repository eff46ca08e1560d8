"""The connector to the firm's external F8 portfolio service (contract: docs/f8-api.md).

Layout: ``contract`` (validation of F8's answers — nothing is applied before a
whole answer has been checked), ``breaker`` (the circuit breaker, state in
Redis), ``client`` (httpx with timeouts, retries with backoff, behind the
breaker), ``outbox`` (the durable PostgreSQL outbox of trades and positions),
``sync`` (one sync run: enqueue, push, pull, compare), ``status``
(``f8_status()`` for health checks and the header) and ``tasks`` (Celery).
"""
