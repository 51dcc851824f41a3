"""The container registry's port: the OCI distribution API (docker, podman, skopeo) over ECR's images."""
