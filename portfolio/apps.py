from django.apps import AppConfig


class PortfolioConfig(AppConfig):
    name = "portfolio"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The graph projection follows book changes and registers its Celery tasks.
        from portfolio.graph import changes, tasks  # noqa: F401

        changes.connect()
