"""visitdesk's tools: the `visitdesk` command, `make dev`, the multi-process cluster and the local mail sink."""

# The four services. Each listens on the first one's port plus its place here (visits 8001 ... capacity 8004) in
# `make dev`, Compose and Kubernetes alike.
SERVICES = ("visits", "protocol", "notifications", "capacity")
FIRST_PORT = 8001


def service_ports(first: int = FIRST_PORT) -> dict[str, int]:
    """Each service's port when the first listens on `first`."""
    return {service: first + offset for offset, service in enumerate(SERVICES)}
