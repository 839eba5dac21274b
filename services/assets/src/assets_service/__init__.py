"""IPheron assets service: the IP-asset catalog, co-creator splits, the purchase saga and provenance."""
