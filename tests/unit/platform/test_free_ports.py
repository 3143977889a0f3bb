"""Ports for services a harness starts later: free now, and not ones the kernel lends to client sockets."""

from pathlib import Path

from visitdesk.cluster import free_ports


def test_free_ports_lie_outside_the_range_client_sockets_are_given():
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    for _ in range(20):
        base = free_ports(4)
        assert all(not low <= port <= high for port in range(base, base + 4)), (base, low, high)
