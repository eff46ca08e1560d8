import os

from celery import Celery

from config import kombu_fixes

kombu_fixes.apply()

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("nautilus_integration")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
