"""Periodic tasks of the graph projection (``PERIODIC_TASKS`` contract: see monitoring/schedule.py).

Include in portfolio/schedule.py: ``PERIODIC_TASKS += graph_schedule.PERIODIC_TASKS``.
"""

# The full resync repairs drift from bulk updates and catches up after a Neo4j
# outage; pending changes are retried by a short projection tick as well.
GRAPH_RESYNC_EVERY = 900
GRAPH_PROJECT_EVERY = 30

PERIODIC_TASKS = [
    {"name": "graph: full resync from the book", "task": "portfolio.graph_resync", "every": GRAPH_RESYNC_EVERY},
    {"name": "graph: project pending changes", "task": "portfolio.graph_project", "every": GRAPH_PROJECT_EVERY},
]
