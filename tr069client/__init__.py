"""tr069client: a TR-069 (CWMP) CPE agent for small Linux routers."""

__version__ = "0.1.0"
