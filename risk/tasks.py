import logging

from celery import shared_task

logger = logging.getLogger(__name__)

# One monitor pass at a time across every worker; a pass longer than the
# interval makes the next beat skip rather than pile up.
LOCK_KEY = "ni:risk:monitor:lock"


@shared_task(name="risk.monitor", ignore_result=True)
def risk_monitor() -> dict:
    from django.conf import settings

    from monitoring.redis_client import redis_client
    from risk.monitor import risk_monitor_run

    lock = redis_client().lock(LOCK_KEY, timeout=max(30, 5 * settings.RISK_CHECK_INTERVAL), blocking=False)
    if not lock.acquire(blocking=False):
        return {"skipped": "another risk monitor pass is running"}
    try:
        return risk_monitor_run()
    except Exception as exc:
        # Say so on the desk: without this a failing monitor reads as one that
        # simply has not run yet.
        _record_failure(exc)
        raise
    finally:
        try:
            lock.release()
        except Exception:
            pass


def _record_failure(exc: Exception) -> None:
    import time

    import redis

    from monitoring.redis_client import redis_client
    from risk.status import MONITOR_KEY

    error = f"{type(exc).__name__}: {exc}"[:300]
    try:
        redis_client().hset(MONITOR_KEY, mapping={"failed_at": time.time(), "error": error})
    except redis.RedisError:
        # Redis itself is the failure: the header already shows it unreachable, and the
        # pass's own exception is raised (and logged by Celery) after this.
        logger.warning("could not record the risk monitor's failure in Redis", exc_info=True)
