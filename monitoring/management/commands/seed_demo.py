"""``manage.py seed_demo``: what ``make run`` loads after ``setup --init-db``.

Demo logins (one per role), demo strategies, a multi-currency book with equity
history, and an order history. Every step is idempotent, so ``make run`` can
call this on every start.
"""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand

from monitoring.services import demo_users_ensure

STRATEGIES = 10
ORDERS = 100
POSITIONS = 30


class Command(BaseCommand):
    help = "Load the demo users and a modest demo data set (idempotent)."

    def handle(self, *args, **options):
        say = self.stdout.write
        users = demo_users_ensure()
        say(f"[seed 1/4] demo users: {', '.join(username for _, username, _ in users)}")
        say("[seed 2/4] strategies")
        call_command("create_test_strategies", count=STRATEGIES, stdout=self.stdout)
        # The book first: it funds the accounts the generated fills then trade against.
        say("[seed 3/4] portfolio")
        call_command("setup_test_portfolio", stdout=self.stdout)
        say("[seed 4/4] orders and positions")
        call_command("generate_test_data", orders=ORDERS, positions=POSITIONS, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
