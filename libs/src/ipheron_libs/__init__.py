"""IPheron's one shared package: what every service needs the same way, nothing more."""
