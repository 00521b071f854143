"""Tests of the deployment files: Dockerfile, compose, Kubernetes, generated files."""
