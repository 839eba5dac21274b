"""IPheron AI-agents service: MeTTa rule agents for pricing, collaboration, risk and market."""
