from portfolio.graph import schedule as graph_schedule

PERIODIC_TASKS = [
    {"name": "F8 sync: book vs engine", "task": "portfolio.reconcile", "every": "POSITION_SYNC_INTERVAL"},
    {"name": "Portfolio: mark positions at live quotes", "task": "portfolio.mark", "every": "POSITION_SYNC_INTERVAL"},
    {"name": "F8: external service sync", "task": "portfolio.f8_sync", "every": "POSITION_SYNC_INTERVAL"},
    {
        "name": "Portfolio: intraday equity snapshot",
        "task": "portfolio.snapshot",
        "every": 60,
        "kwargs": {"kind": "intraday"},
    },
    {
        "name": "Portfolio: daily equity snapshot",
        "task": "portfolio.snapshot",
        "every": 300,
        "kwargs": {"kind": "daily"},
    },
    # Stores yesterday's attribution soon after midnight, and catches fills that arrived late.
    {"name": "Portfolio: attribution ledger", "task": "portfolio.attribution_refresh", "every": 300},
    *graph_schedule.PERIODIC_TASKS,
]
