"""Periodic tasks of the monitoring app, synced into django-celery-beat by ``setup --init-db``.

Every app's ``schedule.py`` follows the same contract:
``PERIODIC_TASKS = [{"name": ..., "task": <celery task name>, "every": <seconds | settings attribute>}]``.
"""

from monitoring.health.checks import HEARTBEAT_EVERY

PERIODIC_TASKS = [
    {"name": "monitoring: worker heartbeat", "task": "monitoring.heartbeat", "every": HEARTBEAT_EVERY},
    {"name": "monitoring: health checks", "task": "monitoring.health_check", "every": "HEALTH_CHECK_INTERVAL"},
]
