PERIODIC_TASKS = [
    {"name": "Risk monitor", "task": "risk.monitor", "every": "RISK_CHECK_INTERVAL"},
]
