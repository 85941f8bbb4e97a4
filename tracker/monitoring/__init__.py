"""What an operations team watches: /healthz, /readyz and Prometheus /metrics."""
