"""AgenTracer plugin for autogen."""
