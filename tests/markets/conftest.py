from tests.node.conftest import node_worker  # noqa: F401 - the real node for browser tests
