"""Periodic tasks of the monitoring app, synced into django-celery-beat by ``setup --init-db``.

Every app's ``schedule.py`` follows the same contract:
``PERIODIC_TASKS = [{"name": ..., "task": <celery task name>, "every": <seconds | settings attribute>}]``.
"""

from monitoring.alerting.series import SAMPLE_EVERY
from monitoring.health.checks import HEARTBEAT_EVERY

# Metric rules are evaluated (and directly-created alerts swept up) this often, in seconds.
ALERTS_EVALUATE_EVERY = 10

PERIODIC_TASKS = [
    {"name": "monitoring: worker heartbeat", "task": "monitoring.heartbeat", "every": HEARTBEAT_EVERY},
    {"name": "monitoring: health checks", "task": "monitoring.health_check", "every": "HEALTH_CHECK_INTERVAL"},
    {"name": "monitoring: metrics sample", "task": "monitoring.sample", "every": SAMPLE_EVERY},
    {"name": "monitoring: alert rules", "task": "monitoring.alerts_evaluate", "every": ALERTS_EVALUATE_EVERY},
]
