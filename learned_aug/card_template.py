"""The card ``save_pretrained`` writes into a generator folder that has none, and the marker of
every card learned-aug writes (``learned_aug.hub.card`` writes the full one)."""

from __future__ import annotations

CARD_MARKER = "<!-- learned-aug: generated model card; delete this line to keep hand edits -->"
"""A ``README.md`` holding this line was written by learned-aug and may be rewritten; one
without it was written by hand and is never overwritten."""
BASIC_CARD = f"""---
{{{{ card_data }}}}
---

# learned-aug generator

{CARD_MARKER}

A [learned-aug]({{{{ repo_url }}}}) generator (`config.json` + `model.safetensors`). Load it with
`learned_aug.load_generator(<folder or repo id>)`. `learned-aug fit` and `learned-aug push`
replace this card with one that records the training command, metrics and samples.
"""
"""The card ``save_pretrained`` writes where a folder has none; the full card is written by
``learned_aug.hub.write_model_card`` at the end of ``fit`` and by ``learned-aug push``."""
