from tests.node.conftest import node_config, node_worker, pid_alive, wait_for  # noqa: F401  (shared fixtures)
