"""The headless service: pipeline, systemd integration, health."""
