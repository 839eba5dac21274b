"""IPheron analytics service: daily market aggregates, performance, rankings and insights from domain events."""
