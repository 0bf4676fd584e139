"""AgenTracer plugin for camel."""
