"""The package version, in a module of its own so that any layer (the recorder's tracer scope, the OTLP
writer) can read it without importing the package root."""

__version__ = "0.1.0"
