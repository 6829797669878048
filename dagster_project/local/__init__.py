"""Zero-config default: a real PostgreSQL and a real Redis under ANALYTICS_HOME."""
