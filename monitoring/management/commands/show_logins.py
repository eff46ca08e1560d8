"""``manage.py show_logins --url URL``: where the desk is and one demo login per role."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from monitoring.services import DEMO_USERS

WHAT_EACH_ROLE_DOES = {
    "Admin": "everything, including Django admin",
    "Risk Manager": "limits and the kill switch, plus trading",
    "Trader": "orders and strategies",
    "Viewer": "read-only",
}


class Command(BaseCommand):
    help = "Print the desk's URL and one demo login per role."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="The URL the desk is served at.")

    def handle(self, *args, url: str, **options):
        rows = [
            (role.label, username, password, WHAT_EACH_ROLE_DOES.get(role.label, ""))
            for role, (username, password) in sorted(DEMO_USERS.items(), reverse=True)
        ]
        widths = [max(len(r[i]) for r in [("Role", "Username", "Password", ""), *rows]) for i in range(3)]
        out = self.stdout.write
        out("")
        out(self.style.SUCCESS(f"  Nautilus Integration desk: {url}"))
        out(f"  Health: {url.rstrip('/')}/health    Admin: {url.rstrip('/')}/admin/")
        out("")
        out("  " + "  ".join(h.ljust(widths[i]) for i, h in enumerate(("Role", "Username", "Password"))))
        out("  " + "  ".join("-" * w for w in widths))
        for role, username, password, what in rows:
            out("  " + "  ".join(v.ljust(widths[i]) for i, v in enumerate((role, username, password))) + f"  ({what})")
        out("")
