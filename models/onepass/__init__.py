"""The one-pass readout: every field of an item from one forward pass over its own tokens.

An item is ``[bos] + text tokens + [eos]``, with no instruction. A LoRA adapter on the upper layers of the
base, and small heads on the final hidden states, give

- per taxonomy: one independent sigmoid per label (emotions) and one intensity in [0, 1] per label;
- one cause pointer shared by every taxonomy: a start and an end token of the item's own text (so the cause is
  always a substring), or "no cause".

The lower layers carry no adapter, so training can compute them once per example and keep them (see
:mod:`models.onepass.features`). The instruction readout (``models.tasks``) stays for zero-shot labeling of
taxonomies no trained head serves.
"""
