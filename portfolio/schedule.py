PERIODIC_TASKS = [
    {"name": "F8 sync: book vs engine", "task": "portfolio.reconcile", "every": "POSITION_SYNC_INTERVAL"},
]
