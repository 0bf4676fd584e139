"""AgenTracer plugin for maas."""
