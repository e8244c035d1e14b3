"""Label sets and label normalisation shared by several readers.

RECCON and EmotionLines both use Ekman's six emotions plus ``neutral``; they get the taxonomy name
``ekman_neutral`` (the built-in ``ekman`` has no ``neutral``). Their spelling variants are mapped onto our
words by :data:`EKMAN_ALIASES`:

========================================  ==========
dataset label                             our label
========================================  ==========
happiness, happy, joy, excited            joy
sadness, sad                              sadness
anger, angry                              anger
surprise, surprised                       surprise
fear, fearful, afraid, scared             fear
disgust, disgusted                        disgust
neutral                                   neutral
========================================  ==========

``excited`` (2 RECCON utterances) is folded into ``joy``: it is a high-arousal positive state and Ekman's
set has no other positive emotion. Emotion-Stimulus's ``shame`` has no Ekman equivalent and is kept, in that
dataset's own taxonomy (see :mod:`annotator.datasets.emotion_stimulus`).
"""

from __future__ import annotations

from annotator.taxonomy import get_taxonomy

EKMAN_NEUTRAL_TAXONOMY = "ekman_neutral"
EKMAN_NEUTRAL: tuple[str, ...] = (*get_taxonomy("ekman").labels, "neutral")

EKMAN_ALIASES: dict[str, str] = {
    "happiness": "joy",
    "happy": "joy",
    "joy": "joy",
    "excited": "joy",
    "sadness": "sadness",
    "sad": "sadness",
    "anger": "anger",
    "angry": "anger",
    "surprise": "surprise",
    "surprised": "surprise",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "scared": "fear",
    "disgust": "disgust",
    "disgusted": "disgust",
    "neutral": "neutral",
}


def normalise_ekman(label: str) -> str | None:
    """Map a dataset's Ekman-style label (any case, e.g. ``Happiness``, ``sad``) to our word, or ``None``."""
    return EKMAN_ALIASES.get(label.strip().lower())
