"""Sample systems and tasks: the demo run and the simulated refinement pipelines (fixtures with known faults).

The framework-specific builders live in the plugins and are reached through the ``agentracer_sample`` hook.
"""
