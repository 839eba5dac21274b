"""IPheron's HTTP edge: the public REST API over the services' gRPC contracts."""
