"""The alerting engine: rules, evaluation, de-duplication, rate limiting and delivery.

Components raise alerts with ``alert_raise`` (``monitoring.alerting.raising``).
"""

from monitoring.alerting.raising import alert_raise

__all__ = ["alert_raise"]
