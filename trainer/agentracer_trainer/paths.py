"""Print where a shipped recipe or accelerate config lies: ``python -m agentracer_trainer.paths [NAME]``.

Without NAME, lists every shipped recipe and accelerate config with its path. For example::

    accelerate launch --config_file "$(python -m agentracer_trainer.paths zero3)" \\
        -m agentracer_trainer.launch qwen3-8b-grpo-colocate
"""

from __future__ import annotations

import sys

from . import accelerate_configs, recipes


def main(argv: list[str] | None = None) -> int:
    """Print the path of NAME (recipe first, then accelerate config), or list them all; 2 if unknown."""
    args = sys.argv[1:] if argv is None else argv
    found = {**accelerate_configs(), **recipes()}
    if not args:
        for kind, table in (("recipe", recipes()), ("accelerate", accelerate_configs())):
            for name, path in table.items():
                print(f"{kind}\t{name}\t{path}")
        return 0
    if args[0] not in found:
        print(f"error: no shipped recipe or accelerate config named {args[0]!r}; known: {sorted(found)}",
              file=sys.stderr)
        return 2
    print(found[args[0]])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
