"""The portfolio graph: a Neo4j projection of the book for analytics (never the record)."""
