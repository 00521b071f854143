"""Deployment files: compose, Kubernetes, Prometheus and Grafana (docs/deployment.md).

`generate.py` derives the files that must follow another one (`make k8s`).
"""
