"""Containers as an engine: a container runtime (podman or Docker), images pulled and run with bind
mounts, cgroup limits and a network of their choosing, and connections into a container's network."""
