"""AgenTracer plugin for langgraph."""
